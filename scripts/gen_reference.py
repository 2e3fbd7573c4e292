#!/usr/bin/python3
# gen_reference.py -- owns tests/data/reference.safetensors: the PyTorch
# reference values (forward logits, loss, gradients, SGD and AdamW loss
# curves) that gf's engine tests compare against.
#
# Run with Debian's python3-torch:   /usr/bin/python3 scripts/gen_reference.py
# Deterministic: fixed seeds, one thread; running it twice gives identical
# bytes (with the same torch version).
#
# For each case C (mlp, cnn, ops) the file holds, all F32:
#   C.x (B, *input)   C.y (B,) labels as floats
#   (no initial weights: both sides generate them, see init_params below;
#    metadata C.init.scale.{name} / C.init.shift.{name} give each tensor's
#    range, so the committed file stays small)
#   C.logits (B, classes)   C.loss (1,)   mean softmax cross-entropy
#   C.grad.{i}.weight / C.grad.{i}.bias   d loss / d parameter
#   C.sgd.losses (10,)    loss of each of 10 full steps of
#                         SGD(lr, momentum, weight_decay) on the same batch,
#                         computed in that step's forward (before its update)
#   C.adamw.losses (10,)  the same with AdamW(lr, betas, eps, weight_decay)
# Everything is computed in float64 (model.double()) from the float32 weights
# and inputs, then rounded to float32. Metadata: C.spec (canonical seq: spec),
# C.batch, C.seed, C.sgd.* and C.adamw.* hyperparameters, as strings.

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

CASES = [
    # name, spec, batch, seed
    ("mlp", "mlp:784-256-128-10", 8, 101),
    ("cnn", "cnn", 4, 202),
    ("ops", "seq:2x8x8-conv4k3s2p1-gelu-layernorm-maxpool2-flatten-linear6-gelu-layernorm-linear5",
     8, 303),
]
STEPS = 10
SGD = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
ADAMW = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)


def hash64(key, counters):
    """gf_hash64 (src/core/rng.c) over a vector of counters: splitmix64 of
    key ^ (counter * 0xD1B54A32D192ED03), all mod 2^64."""
    with np.errstate(over="ignore"):
        x = np.uint64(key) ^ (counters * np.uint64(0xD1B54A32D192ED03))
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def init_params(model, seed):
    """Initial weights that tests/test_reference.c regenerates bit for bit:
    tensor k (state_dict order), element i = shift + (2u - 1) * scale in
    float32, u = (gf_hash64(seed * 1000 + k, i) >> 40) / 2^24. Linear and
    conv tensors use PyTorch's default range, scale = 1/sqrt(fan_in), shift 0;
    layernorm weight 1 +- 0.25, bias 0 +- 0.25. Returns the metadata."""
    meta = {}
    mods = dict(model.named_modules())
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters()):
            mod = mods[name.rsplit(".", 1)[0]]
            if isinstance(mod, torch.nn.LayerNorm):
                scale, shift = np.float32(0.25), np.float32(1.0 if name.endswith("weight") else 0.0)
            else:
                fan_in = mod.in_features if isinstance(mod, torch.nn.Linear) else \
                    mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1]
                scale, shift = np.float32(1.0) / np.sqrt(np.float32(fan_in)), np.float32(0.0)
            h = hash64(seed * 1000 + k, np.arange(p.numel(), dtype=np.uint64))
            u = (h >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
            w = shift + (np.float32(2.0) * u - np.float32(1.0)) * scale
            p.copy_(torch.from_numpy(w.astype(np.float32).reshape(p.shape)))
            meta["init.scale." + name] = "%.9g" % float(scale)
            meta["init.shift." + name] = "%.9g" % float(shift)
    return meta


def f32(t):
    return t.detach().to(torch.float32).cpu().numpy().copy()


def loss_curve(model64, x64, y, make_opt):
    m = copy.deepcopy(model64)
    m.train()
    opt = make_opt(m.parameters())
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(m(x64), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    return np.array(losses, dtype=np.float64)


def make_case(name, spec, batch, seed):
    canon = gf_torch.canonical_spec(spec)
    in_shape = gf_torch.spec_input_shape(spec)
    classes = gf_torch.spec_num_classes(spec)
    torch.manual_seed(seed)
    model = gf_torch.parse_spec(canon)
    init_meta = init_params(model, seed)          # float32, reproducible in C
    x = torch.rand((batch,) + tuple(in_shape), dtype=torch.float32)
    y = torch.randint(0, classes, (batch,), dtype=torch.int64)

    model64 = copy.deepcopy(model).double()
    model64.train()
    x64 = x.double()
    logits = model64(x64)
    loss = F.cross_entropy(logits, y)
    model64.zero_grad()
    loss.backward()

    out = [(name + ".x", f32(x)), (name + ".y", y.to(torch.float32).numpy().copy())]
    out.append((name + ".logits", f32(logits)))
    out.append((name + ".loss", np.array([loss.item()], dtype=np.float32)))
    for k, p in model64.named_parameters():
        out.append(("%s.grad.%s" % (name, k), f32(p.grad)))

    # Start each optimizer from the same float32 initial weights (in float64).
    base = copy.deepcopy(model).double()
    sgd = loss_curve(base, x64, y, lambda ps: torch.optim.SGD(ps, **SGD))
    adamw = loss_curve(base, x64, y, lambda ps: torch.optim.AdamW(ps, **ADAMW))
    # How far float32 PyTorch strays from these float64 curves: a guide to
    # the tolerance a float32 engine needs (printed, not stored).
    b32 = copy.deepcopy(model)
    sgd32 = loss_curve(b32, x, y, lambda ps: torch.optim.SGD(ps, **SGD))
    adamw32 = loss_curve(b32, x, y, lambda ps: torch.optim.AdamW(ps, **ADAMW))
    f32err = max(np.max(np.abs(sgd32 - sgd) / sgd), np.max(np.abs(adamw32 - adamw) / adamw))
    out.append((name + ".sgd.losses", sgd.astype(np.float32)))
    out.append((name + ".adamw.losses", adamw.astype(np.float32)))

    meta = {
        name + ".spec": canon,
        name + ".batch": str(batch),
        name + ".seed": str(seed),
        name + ".classes": str(classes),
        name + ".sgd.lr": repr(SGD["lr"]),
        name + ".sgd.momentum": repr(SGD["momentum"]),
        name + ".sgd.weight_decay": repr(SGD["weight_decay"]),
        name + ".sgd.steps": str(STEPS),
        name + ".adamw.lr": repr(ADAMW["lr"]),
        name + ".adamw.beta1": repr(ADAMW["betas"][0]),
        name + ".adamw.beta2": repr(ADAMW["betas"][1]),
        name + ".adamw.eps": repr(ADAMW["eps"]),
        name + ".adamw.weight_decay": repr(ADAMW["weight_decay"]),
        name + ".adamw.steps": str(STEPS),
    }
    meta.update({name + "." + k: v for k, v in init_meta.items()})
    summary = dict(spec=canon, batch=batch, loss=loss.item(),
                   params=sum(p.numel() for p in model.parameters()),
                   grad_norm=float(torch.sqrt(sum((p.grad ** 2).sum() for p in model64.parameters()))),
                   sgd=sgd, adamw=adamw, f32err=f32err)
    return out, meta, summary


def main():
    ap = argparse.ArgumentParser(description="Writes gf's PyTorch reference file.")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--out", default=os.path.join(here, "..", "tests", "data",
                                                         "reference.safetensors"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    tensors = []
    meta = {
        "gf.reference.generator": "scripts/gen_reference.py",
        "gf.reference.torch_version": torch.__version__.split("+")[0],
        "gf.reference.cases": ",".join(c[0] for c in CASES),
        "gf.reference.compute": "float64, stored as float32",
        "gf.reference.loss": "mean softmax cross-entropy",
    }
    for name, spec, batch, seed in CASES:
        t, m, s = make_case(name, spec, batch, seed)
        tensors += t
        meta.update(m)
        np.set_printoptions(precision=6, linewidth=200)
        print("%-4s %s  batch %d  params %d" % (name, s["spec"], s["batch"], s["params"]))
        print("     loss %.8f  |grad| %.6g" % (s["loss"], s["grad_norm"]))
        print("     sgd   losses %s" % s["sgd"])
        print("     adamw losses %s" % s["adamw"])
        print("     float32 torch vs these float64 curves: max rel err %.2e" % s["f32err"])

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    gf_torch.write_safetensors(args.out, tensors, meta)
    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print("wrote %s: %d tensors, %d bytes, sha256 %s"
          % (os.path.relpath(args.out), len(tensors), os.path.getsize(args.out), digest))


if __name__ == "__main__":
    main()
