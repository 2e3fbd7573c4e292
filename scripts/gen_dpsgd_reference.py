#!/usr/bin/python3
# gen_dpsgd_reference.py -- owns tests/data/dpsgd_reference.safetensors: the
# PyTorch reference for DP-SGD's noise-free step that tests/test_dpsgd.c
# compares gf against: per-example gradients computed one example at a time,
# each clipped to L2 norm C over all parameters (factor min(1, C / ||g||)),
# summed and divided by the batch size B (Opacus's clipped mean, no noise).
#
# Run with Debian's python3-torch:   /usr/bin/python3 scripts/gen_dpsgd_reference.py
# Deterministic: fixed seeds, one thread; running it twice gives identical
# bytes (with the same torch version).
#
# For each case C (mlp, conv) the file holds, all F32:
#   C.x (B, *input)   C.y (B,) labels as floats
#   (no weights: they are regenerated from C.seed exactly as for
#    tests/data/reference.safetensors, see init_params in gen_reference.py;
#    metadata C.init.scale.{name} / C.init.shift.{name} give each range)
#   C.norms (B,)                    ||g_i||_2 of each example's gradient
#   C.grad.{i}.weight / .bias       sum_i g_i min(1, C / ||g_i||) / B
# Metadata: C.spec (canonical), C.batch, C.seed, C.clip (chosen between the
# middle two norms, so half the examples are clipped and half are not),
# C.clipped (how many). Computed in float64 from the float32 weights and
# inputs, then rounded to float32.

import argparse
import copy
import hashlib
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gf_torch  # noqa: E402
from gen_reference import init_params  # noqa: E402

CASES = [
    # name, spec, batch, seed
    ("mlp", "seq:784-linear32-relu-linear10", 8, 404),
    ("conv", "seq:1x8x8-conv4k3p1-gelu-maxpool2-flatten-layernorm-linear10", 8, 505),
]


def per_example(model64, x64, y):
    """Flat float64 gradient of each example's loss, one example at a time."""
    out = []
    for i in range(x64.shape[0]):
        model64.zero_grad()
        F.cross_entropy(model64(x64[i:i + 1]), y[i:i + 1]).backward()
        out.append(torch.cat([p.grad.reshape(-1) for p in model64.parameters()]).clone())
    return torch.stack(out)


def make_case(name, spec, batch, seed):
    canon = gf_torch.canonical_spec(spec)
    in_shape = gf_torch.spec_input_shape(spec)
    classes = gf_torch.spec_num_classes(spec)
    torch.manual_seed(seed)
    model = gf_torch.parse_spec(canon)
    init_meta = init_params(model, seed)
    x = torch.rand((batch,) + tuple(in_shape), dtype=torch.float32)
    y = torch.randint(0, classes, (batch,), dtype=torch.int64)

    model64 = copy.deepcopy(model).double()
    model64.train()
    g = per_example(model64, x.double(), y)                       # (B, nparams)
    norms = g.norm(dim=1)
    s = torch.sort(norms).values
    clip = float("%.4g" % float(torch.sqrt(s[batch // 2 - 1] * s[batch // 2])))
    factor = torch.clamp(clip / norms, max=1.0)
    mean = (g * factor[:, None]).sum(dim=0) / batch               # (nparams)
    clipped = int((norms > clip).sum())
    assert 0 < clipped < batch

    out = [(name + ".x", x.numpy().copy()),
           (name + ".y", y.to(torch.float32).numpy().copy()),
           (name + ".norms", norms.to(torch.float32).numpy().copy())]
    off = 0
    for k, p in model64.named_parameters():
        n = p.numel()
        out.append(("%s.grad.%s" % (name, k),
                    mean[off:off + n].reshape(p.shape).to(torch.float32).numpy().copy()))
        off += n
    meta = {name + ".spec": canon, name + ".batch": str(batch), name + ".seed": str(seed),
            name + ".clip": repr(clip), name + ".clipped": str(clipped)}
    meta.update({name + "." + k: v for k, v in init_meta.items()})
    summary = dict(spec=canon, batch=batch, params=off, clip=clip, clipped=clipped,
                   norms=norms.numpy())
    return out, meta, summary


def main():
    ap = argparse.ArgumentParser(description="Writes gf's DP-SGD PyTorch reference file.")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--out", default=os.path.join(here, "..", "tests", "data",
                                                         "dpsgd_reference.safetensors"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tensors = []
    meta = {
        "gf.reference.generator": "scripts/gen_dpsgd_reference.py",
        "gf.reference.torch_version": torch.__version__.split("+")[0],
        "gf.reference.cases": ",".join(c[0] for c in CASES),
        "gf.reference.compute": "float64, stored as float32",
        "gf.reference.what": "per-example clipped mean gradient, no noise",
    }
    np.set_printoptions(precision=5, linewidth=200)
    for name, spec, batch, seed in CASES:
        t, m, s = make_case(name, spec, batch, seed)
        tensors += t
        meta.update(m)
        print("%-4s %s  batch %d  params %d" % (name, s["spec"], s["batch"], s["params"]))
        print("     norms %s  clip %g (%d of %d clipped)" % (s["norms"], s["clip"], s["clipped"],
                                                          s["batch"]))

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    gf_torch.write_safetensors(args.out, tensors, meta)
    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print("wrote %s: %d tensors, %d bytes, sha256 %s"
          % (os.path.relpath(args.out), len(tensors), os.path.getsize(args.out), digest))


if __name__ == "__main__":
    main()
