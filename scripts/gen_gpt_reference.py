#!/usr/bin/python3
# gen_gpt_reference.py -- owns tests/data/gpt_reference.safetensors: the
# PyTorch reference for gf's GPT (src/engine/gpt.h) that tests/test_gpt.c
# compares against.
#
# Run with Debian's python3-torch:   /usr/bin/python3 scripts/gen_gpt_reference.py
# Deterministic (fixed seeds, one thread). The model is a plain nanoGPT-style
# GPT-2 written out below (pre-LayerNorm blocks, causal attention, tanh GELU,
# tied head), its parameters named and ordered as gf names them.
#
# The file holds, all F32 (computed in float64, rounded):
#   gpt.x (B, T), gpt.y (B, T)   token ids and next-token targets, as floats
#   gpt.logits (B, T, V)   gpt.loss (1,)   mean cross-entropy over B*T
#   gpt.grad.NAME          d loss / d parameter, every tensor
#   gpt.adamw.losses (10,) gpt.adamw.lrs (10,) gpt.adamw.norms (10,)
#                          10 AdamW steps on the same batch: the loss before
#                          each, its learning rate (warmup + cosine) and the
#                          gradient norm before clipping to CLIP
#   gpt.after.NAME         every parameter after the 10 steps
# Weight decay applies to 2-D tensors only (GPT-2 / nanoGPT / llm.c).
# Initial weights: not stored; both sides make them as gen_reference.py's
# init_params does (tensor k, element i from gf_hash64(seed * 1000 + k, i)),
# with the per-tensor ranges in metadata gpt.init.scale.NAME / .shift.NAME.

import argparse
import copy
import hashlib
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gf_torch  # noqa: E402
from gen_reference import hash64  # noqa: E402

L, H, C, T, V = 2, 4, 64, 64, 256
B = 4
SEED = 404
STEPS = 10
ADAMW = dict(lr=3e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
CLIP = 1.0
WARMUP, MIN_FRAC = 3, 0.1        # cosine from step WARMUP to STEPS, down to lr * MIN_FRAC


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = nn.Linear(C, 3 * C)
        self.c_proj = nn.Linear(C, C)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (z.view(b, t, H, c // H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // H))
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(C, 4 * C)
        self.c_proj = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C)
        self.attn = Attention()
        self.ln_2 = nn.LayerNorm(C)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList([Block() for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x)
        return self.ln_f(x) @ self.wte.weight.t()        # tied head


def init_range(name):
    """(scale, shift) of the uniform init of each tensor."""
    if ".ln_" in "." + name:
        return (0.2, 1.0) if name.endswith("weight") else (0.1, 0.0)
    if name.startswith("wte") or name.startswith("wpe"):
        return 0.5, 0.0
    if name.endswith("bias"):
        return 0.05, 0.0
    return 0.1, 0.0


def init_params(model, seed):
    meta = {}
    with torch.no_grad():
        for k, (name, p) in enumerate(model.named_parameters()):
            scale, shift = (np.float32(v) for v in init_range(name))
            h = hash64(seed * 1000 + k, np.arange(p.numel(), dtype=np.uint64))
            u = (h >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
            w = shift + (np.float32(2.0) * u - np.float32(1.0)) * scale
            p.copy_(torch.from_numpy(w.astype(np.float32).reshape(p.shape)))
            meta["gpt.init.scale." + name] = "%.9g" % float(scale)
            meta["gpt.init.shift." + name] = "%.9g" % float(shift)
    return meta


def lr_at(step):
    lr = ADAMW["lr"]
    if step < WARMUP:
        return lr * (step + 1) / WARMUP
    lo = lr * MIN_FRAC
    ratio = (step - WARMUP) / (STEPS - WARMUP)
    return lo + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - lo)


def f32(t):
    return t.detach().to(torch.float32).cpu().numpy().copy()


def main():
    ap = argparse.ArgumentParser(description="Writes gf's PyTorch GPT reference file.")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("-o", "--out", default=os.path.join(here, "..", "tests", "data",
                                                         "gpt_reference.safetensors"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    model = GPT()
    meta = init_params(model, SEED)
    seq = torch.randint(0, V, (B, T + 1), dtype=torch.int64)
    x, y = seq[:, :T].contiguous(), seq[:, 1:].contiguous()

    m64 = copy.deepcopy(model).double()
    logits = m64(x)
    loss = F.cross_entropy(logits.view(-1, V), y.view(-1))
    loss.backward()
    out = [("gpt.x", x.to(torch.float32).numpy()), ("gpt.y", y.to(torch.float32).numpy()),
           ("gpt.logits", f32(logits)), ("gpt.loss", np.array([loss.item()], dtype=np.float32))]
    for name, p in m64.named_parameters():
        out.append(("gpt.grad." + name, f32(p.grad)))

    m64 = copy.deepcopy(model).double()
    decay = [p for _, p in m64.named_parameters() if p.dim() >= 2]
    nodecay = [p for _, p in m64.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ADAMW["weight_decay"]},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"])
    losses, lrs, norms = [], [], []
    for s in range(STEPS):
        lr = lr_at(s)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        ls = F.cross_entropy(m64(x).view(-1, V), y.view(-1))
        ls.backward()
        norm = torch.nn.utils.clip_grad_norm_(m64.parameters(), CLIP)
        opt.step()
        losses.append(ls.item()); lrs.append(lr); norms.append(float(norm))
    out += [("gpt.adamw.losses", np.array(losses, dtype=np.float32)),
            ("gpt.adamw.lrs", np.array(lrs, dtype=np.float32)),
            ("gpt.adamw.norms", np.array(norms, dtype=np.float32))]
    for name, p in m64.named_parameters():
        out.append(("gpt.after." + name, f32(p)))

    meta.update({
        "gf.reference.generator": "scripts/gen_gpt_reference.py",
        "gf.reference.torch_version": torch.__version__.split("+")[0],
        "gf.reference.compute": "float64, stored as float32",
        "gpt.spec": "gpt:L=%d,H=%d,C=%d,T=%d,V=%d" % (L, H, C, T, V),
        "gpt.batch": str(B), "gpt.seed": str(SEED), "gpt.steps": str(STEPS),
        "gpt.adamw.lr": repr(ADAMW["lr"]), "gpt.adamw.beta1": repr(ADAMW["betas"][0]),
        "gpt.adamw.beta2": repr(ADAMW["betas"][1]), "gpt.adamw.eps": repr(ADAMW["eps"]),
        "gpt.adamw.weight_decay": repr(ADAMW["weight_decay"]), "gpt.adamw.clip": repr(CLIP),
        "gpt.adamw.warmup": str(WARMUP), "gpt.adamw.min_frac": repr(MIN_FRAC),
    })
    print("gpt %s batch %d params %d loss %.6f" % (meta["gpt.spec"], B,
          sum(p.numel() for p in model.parameters()), loss.item()))
    print("  losses %s" % np.array(losses))
    print("  norms  %s (clip %g)" % (np.array(norms), CLIP))
    gf_torch.write_safetensors(args.out, out, meta)
    with open(args.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print("wrote %s: %d tensors, %d bytes, sha256 %s"
          % (os.path.relpath(args.out), len(out), os.path.getsize(args.out), digest))


if __name__ == "__main__":
    main()
