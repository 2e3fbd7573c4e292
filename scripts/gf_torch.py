# gf_torch.py -- the PyTorch mirror of gf: owns parsing gf model specs into
# torch.nn.Sequential, reading/writing safetensors by hand (no safetensors
# package), reading Fashion-MNIST (gzipped IDX) the way gf feeds it, and loading
# a gf checkpoint into the equivalent PyTorch model.
#
# Uses only torch, numpy and the standard library; runs with Debian's
# python3-torch (/usr/bin/python3, torch 1.13) and newer PyPI torch alike.
#
# Spec language (same as gf):  seq:INPUT-TOK-TOK-...
#   INPUT   N (flat features) or CxHxW
#   linearN            nn.Linear(in, N)           (input must be flat)
#   convCkK[sS][pP]    nn.Conv2d(Cin, C, K, stride=S (1), padding=P (0))
#   maxpoolK[sS]       nn.MaxPool2d(K, stride=S (default K))
#   relu, gelu         nn.ReLU(), nn.GELU() (exact erf form)
#   flatten            nn.Flatten()
#   dropoutP           nn.Dropout(P)
#   layernorm          nn.LayerNorm(current per-sample shape), eps 1e-5
# Aliases: mlp:A-B-...-Z = seq:A-linearB-relu-...-linearZ
#          cnn           = seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-
#                          maxpool2-flatten-linear128-relu-linear10
# Module i of the Sequential is token i after INPUT, so parameter names
# ({i}.weight, {i}.bias) match the gf checkpoint names.

import gzip
import json
import os
import re
import struct

import torch
import torch.nn as nn

try:  # numpy is needed for the safetensors and ndarray helpers only; the
    import numpy as np  # spec parser and load_fashion_mnist_torch work without
except ImportError:  # it (PyPI torch may be installed without numpy).
    np = None

CNN_SPEC = ("seq:1x28x28-conv32k5p2-relu-maxpool2-conv64k5p2-relu-maxpool2-"
            "flatten-linear128-relu-linear10")

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


class SpecError(ValueError):
    pass


# ---------------------------------------------------------------- specs ----

def expand_alias(spec):
    """Returns the seq: form of a spec (aliases expanded, tokens as given)."""
    spec = spec.strip()
    if spec == "cnn":
        return CNN_SPEC
    if spec.startswith("mlp:"):
        parts = spec[4:].split("-")
        if len(parts) < 2 or not all(re.fullmatch(r"[1-9][0-9]*", p) for p in parts):
            raise SpecError("bad mlp spec %r: want mlp:IN-H1-...-OUT (positive ints)" % spec)
        toks = [parts[0]]
        for j, p in enumerate(parts[1:]):
            if j > 0:
                toks.append("relu")
            toks.append("linear" + p)
        return "seq:" + "-".join(toks)
    if spec.startswith("seq:"):
        return spec
    raise SpecError("unknown model spec %r: want seq:..., mlp:... or cnn" % spec)


def _fmt_float(p):
    return "%.9g" % p


def _parse_input(tok):
    if re.fullmatch(r"[1-9][0-9]*", tok):
        return (int(tok),)
    m = re.fullmatch(r"([1-9][0-9]*)x([1-9][0-9]*)x([1-9][0-9]*)", tok)
    if m:
        return tuple(int(g) for g in m.groups())
    raise SpecError("bad input shape %r: want N or CxHxW" % tok)


def parse_spec_layers(spec):
    """Parses a spec into (input_shape, [(canonical_token, module_factory_args)])
    and checks shapes. Returns (input_shape, layers, output_shape) where each
    layer is a dict with 'tok' (canonical), 'kind', args, 'in_shape', 'out_shape'."""
    full = expand_alias(spec)
    toks = full[4:].split("-")
    if len(toks) < 2:
        raise SpecError("spec %r has no layers" % spec)
    in_shape = _parse_input(toks[0])
    shape = in_shape
    layers = []
    for i, t in enumerate(toks[1:]):
        L = {"index": i, "in_shape": shape}
        if (m := re.fullmatch(r"linear([1-9][0-9]*)", t)):
            if len(shape) != 1:
                raise SpecError("layer %d (%s): input shape %s is not flat; add flatten"
                                % (i, t, "x".join(map(str, shape))))
            n = int(m.group(1))
            L.update(kind="linear", in_features=shape[0], out_features=n, tok="linear%d" % n)
            shape = (n,)
        elif (m := re.fullmatch(r"conv([1-9][0-9]*)k([1-9][0-9]*)(?:s([1-9][0-9]*))?(?:p([0-9]+))?", t)):
            if len(shape) != 3:
                raise SpecError("layer %d (%s): conv needs a CxHxW input, got %s"
                                % (i, t, "x".join(map(str, shape))))
            c, k = int(m.group(1)), int(m.group(2))
            s = int(m.group(3)) if m.group(3) else 1
            p = int(m.group(4)) if m.group(4) else 0
            ho = (shape[1] + 2 * p - k) // s + 1
            wo = (shape[2] + 2 * p - k) // s + 1
            if ho < 1 or wo < 1:
                raise SpecError("layer %d (%s): output would be empty" % (i, t))
            tok = "conv%dk%d" % (c, k) + ("s%d" % s if s != 1 else "") + ("p%d" % p if p else "")
            L.update(kind="conv", cin=shape[0], cout=c, k=k, stride=s, pad=p, tok=tok)
            shape = (c, ho, wo)
        elif (m := re.fullmatch(r"maxpool([1-9][0-9]*)(?:s([1-9][0-9]*))?", t)):
            if len(shape) != 3:
                raise SpecError("layer %d (%s): maxpool needs a CxHxW input" % (i, t))
            k = int(m.group(1))
            s = int(m.group(2)) if m.group(2) else k
            ho = (shape[1] - k) // s + 1
            wo = (shape[2] - k) // s + 1
            if ho < 1 or wo < 1:
                raise SpecError("layer %d (%s): output would be empty" % (i, t))
            tok = "maxpool%d" % k + ("s%d" % s if s != k else "")
            L.update(kind="maxpool", k=k, stride=s, tok=tok)
            shape = (shape[0], ho, wo)
        elif t in ("relu", "gelu"):
            L.update(kind=t, tok=t)
        elif t == "flatten":
            L.update(kind="flatten", tok=t)
            n = 1
            for d in shape:
                n *= d
            shape = (n,)
        elif t == "layernorm":
            L.update(kind="layernorm", tok=t, normalized_shape=shape)
        elif (m := re.fullmatch(r"dropout([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)", t)):
            p = float(m.group(1))
            if not 0.0 <= p < 1.0:
                raise SpecError("layer %d (%s): dropout p must be in [0, 1)" % (i, t))
            L.update(kind="dropout", p=p, tok="dropout" + _fmt_float(p))
        else:
            raise SpecError("layer %d: unknown token %r in spec %r" % (i, t, spec))
        L["out_shape"] = shape
        layers.append(L)
    if len(shape) != 1:
        raise SpecError("spec %r ends with shape %s; the last layer must give flat logits"
                        % (spec, "x".join(map(str, shape))))
    return in_shape, layers, shape


def canonical_spec(spec):
    """The canonical seq: form of a spec (what gf writes as gf.spec)."""
    in_shape, layers, _ = parse_spec_layers(spec)
    return "seq:" + "-".join(["x".join(map(str, in_shape))] + [L["tok"] for L in layers])


def spec_input_shape(spec):
    return parse_spec_layers(spec)[0]


def spec_num_classes(spec):
    return parse_spec_layers(spec)[2][0]


def parse_spec(spec):
    """Builds the nn.Sequential for a gf spec (float32, torch default init,
    drawn from torch's global RNG in layer order)."""
    _, layers, _ = parse_spec_layers(spec)
    mods = []
    for L in layers:
        k = L["kind"]
        if k == "linear":
            mods.append(nn.Linear(L["in_features"], L["out_features"]))
        elif k == "conv":
            mods.append(nn.Conv2d(L["cin"], L["cout"], L["k"], stride=L["stride"], padding=L["pad"]))
        elif k == "maxpool":
            mods.append(nn.MaxPool2d(L["k"], stride=L["stride"]))
        elif k == "relu":
            mods.append(nn.ReLU())
        elif k == "gelu":
            mods.append(nn.GELU())
        elif k == "flatten":
            mods.append(nn.Flatten())
        elif k == "layernorm":
            mods.append(nn.LayerNorm(list(L["normalized_shape"]), eps=1e-5))
        elif k == "dropout":
            mods.append(nn.Dropout(L["p"]))
        else:
            raise AssertionError(k)
    return nn.Sequential(*mods)


def forward_macs(spec):
    """Multiply-accumulates of one sample's forward pass through the conv and
    linear layers, as a list of (layer index, token, macs)."""
    _, layers, _ = parse_spec_layers(spec)
    out = []
    for L in layers:
        if L["kind"] == "linear":
            out.append((L["index"], L["tok"], L["in_features"] * L["out_features"]))
        elif L["kind"] == "conv":
            c, h, w = L["out_shape"]
            out.append((L["index"], L["tok"], c * h * w * L["cin"] * L["k"] * L["k"]))
    return out


# ----------------------------------------------------------- safetensors ----

_DTYPES = {} if np is None else {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}


def _dtype_name(dt):
    dt = np.dtype(dt)
    for k, v in _DTYPES.items():
        if v.kind == dt.kind and v.itemsize == dt.itemsize:
            return k
    raise ValueError("unsupported dtype %s for safetensors" % dt)


_TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16,
    "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}


_DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "I64": 8, "I32": 4, "I16": 2,
                "I8": 1, "U8": 1, "BOOL": 1}


def _read_safetensors_raw(path):
    """Parses and checks a safetensors file. Returns ({name: (dtype name,
    shape, bytes)} in file order, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: not a safetensors file (shorter than 8 bytes)" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if n > len(buf) - 8 or n > 100 * 1024 * 1024:
        raise ValueError("%s: not a safetensors file (header length %d, file %d bytes)"
                         % (path, n, len(buf)))
    try:
        header = json.loads(buf[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError("%s: not a safetensors file (bad JSON header: %s)" % (path, e))
    if not isinstance(header, dict):
        raise ValueError("%s: not a safetensors file (header is not an object)" % path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ValueError("%s: __metadata__ is not an object" % path)
    data = buf[8 + n:]
    out = {}
    for name, info in header.items():
        try:
            size = _DTYPE_SIZES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            b, e = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("%s: bad header entry for %r: %r" % (path, name, info))
        count = 1
        for s in shape:
            count *= s
        if not (0 <= b <= e <= len(data)) or e - b != count * size:
            raise ValueError("%s: tensor %r: data_offsets [%d, %d] do not fit shape %s %s"
                             % (path, name, b, e, list(shape), info["dtype"]))
        out[name] = (info["dtype"], shape, data[b:e])
    return out, dict(meta)


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata dict). Names keep file order."""
    if np is None:
        raise RuntimeError("read_safetensors needs numpy; use read_safetensors_torch")
    raw, meta = _read_safetensors_raw(path)
    return {k: np.frombuffer(b, dtype=_DTYPES[dt]).reshape(shape).copy()
            for k, (dt, shape, b) in raw.items()}, meta


def read_safetensors_torch(path):
    """Returns ({name: torch.Tensor}, metadata dict); needs no numpy."""
    raw, meta = _read_safetensors_raw(path)
    out = {}
    for k, (dt, shape, b) in raw.items():
        if len(b) == 0:
            out[k] = torch.empty(shape, dtype=_TORCH_DTYPES[dt])
        else:
            out[k] = torch.frombuffer(bytearray(b), dtype=_TORCH_DTYPES[dt]).reshape(shape)
    return out, meta


def write_safetensors(path, tensors, metadata=None):
    """Writes tensors (an ordered list of (name, np.ndarray), or a dict) and
    string metadata. Deterministic: same inputs give the same bytes. Written
    to a temporary file and renamed into place."""
    if np is None:
        raise RuntimeError("write_safetensors needs numpy")
    if isinstance(tensors, dict):
        tensors = list(tensors.items())
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name, arr in tensors:
        if name == "__metadata__" or name in header:
            raise ValueError("duplicate or reserved tensor name %r" % name)
        a = np.asarray(arr)
        dn = _dtype_name(a.dtype)
        raw = np.ascontiguousarray(a, dtype=_DTYPES[dn]).tobytes()
        header[name] = {"dtype": dn, "shape": [int(s) for s in a.shape],
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp%d" % os.getpid()
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# --------------------------------------------------------- Fashion-MNIST ----

def _read_idx_bytes(path):
    """Returns (dims, raw bytes, data offset) of an unsigned-byte IDX file."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = raw[0] * 256 + raw[1], raw[2], raw[3]
    if zero != 0 or dtype != 0x08:
        raise ValueError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    n = 1
    for d in dims:
        n *= d
    if len(raw) != 4 + 4 * ndim + n:
        raise ValueError("%s: IDX size does not match its dimensions" % path)
    return dims, raw, 4 + 4 * ndim


def _read_idx(path):
    dims, raw, off = _read_idx_bytes(path)
    return np.frombuffer(raw, dtype=np.uint8, offset=off).reshape(dims)


def _idx_path(d, stem):
    for p in (os.path.join(d, stem + ".gz"), os.path.join(d, stem)):
        if os.path.exists(p):
            return p
    raise FileNotFoundError("%s[.gz] not found (install Debian's dataset-fashion-mnist)"
                            % os.path.join(d, stem))


def load_fashion_mnist(split, directory=FASHION_DIR):
    """split 'train' or 'test'/'t10k'. Returns (x float32 (n,1,28,28) in
    [0,1] (pixel/255), y int64 (n,))."""
    stem = {"train": "train", "test": "t10k", "t10k": "t10k"}[split]
    imgs = _read_idx(_idx_path(directory, stem + "-images-idx3-ubyte"))
    labs = _read_idx(_idx_path(directory, stem + "-labels-idx1-ubyte"))
    x = (imgs.astype(np.float32) / np.float32(255.0)).reshape(-1, 1, imgs.shape[1], imgs.shape[2])
    return x, labs.astype(np.int64)


def load_fashion_mnist_torch(split, directory=FASHION_DIR):
    """Like load_fashion_mnist but returns torch tensors and needs no numpy:
    (x float32 (n,1,28,28) = pixel/255, y int64 (n,))."""
    stem = {"train": "train", "test": "t10k", "t10k": "t10k"}[split]
    dims, raw, off = _read_idx_bytes(_idx_path(directory, stem + "-images-idx3-ubyte"))
    x = torch.frombuffer(bytearray(raw[off:]), dtype=torch.uint8)
    x = (x.to(torch.float32) / 255.0).reshape(-1, 1, dims[1], dims[2])
    ldims, lraw, loff = _read_idx_bytes(_idx_path(directory, stem + "-labels-idx1-ubyte"))
    y = torch.frombuffer(bytearray(lraw[loff:]), dtype=torch.uint8).to(torch.int64)
    if y.shape[0] != x.shape[0]:
        raise ValueError("fashion-mnist %s: %d images but %d labels" % (split, x.shape[0], y.shape[0]))
    return x, y


def shape_inputs(x, spec):
    """Reshapes (n,1,28,28)-style data (ndarray or tensor) to the spec's
    per-sample input shape."""
    shp = spec_input_shape(spec)
    return x.reshape((x.shape[0],) + tuple(shp))


# -------------------------------------------------------- gf checkpoints ----

def load_gf_checkpoint(path):
    """Loads a gf checkpoint into its float32 nn.Sequential (eval mode).
    Returns (model, metadata). Raises ValueError with a clear message if the
    file is not a gf checkpoint or its tensors do not fit its spec."""
    tensors, meta = read_safetensors_torch(path)
    spec = meta.get("gf.spec")
    if not spec:
        raise ValueError("%s: not a gf checkpoint (safetensors without a gf.spec metadata entry)"
                         % path)
    try:
        model = parse_spec(spec)
    except SpecError as e:
        raise ValueError("%s: gf.spec %r: %s" % (path, spec, e))
    sd = model.state_dict()
    params = {k: v for k, v in tensors.items() if k[:1].isdigit()}
    missing = [k for k in sd if k not in params]
    extra = [k for k in params if k not in sd]
    if missing or extra:
        raise ValueError("%s: tensors do not match spec %s: missing %s, unexpected %s"
                         % (path, spec, missing, extra))
    new = {}
    for k, v in sd.items():
        a = params[k]
        if tuple(a.shape) != tuple(v.shape):
            raise ValueError("%s: tensor %s has shape %s, spec %s wants %s"
                             % (path, k, list(a.shape), spec, list(v.shape)))
        new[k] = a.to(torch.float32).contiguous()
    model.load_state_dict(new)
    model.eval()
    return model, meta


def state_dict_tensors(model, prefix=""):
    """The model's parameters as an ordered list of (name, float32 ndarray)."""
    return [(prefix + k, v.detach().cpu().to(torch.float32).numpy())
            for k, v in model.state_dict().items()]


@torch.no_grad()
def accuracy(model, x, y, batch=1000):
    """Fraction of samples whose argmax logit equals the label."""
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        out = model(x[i:i + batch])
        correct += int((out.argmax(dim=1) == y[i:i + batch]).sum())
    return correct / x.shape[0]
