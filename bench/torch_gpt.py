#!/usr/bin/python3
# torch_gpt.py -- owns the PyTorch peer of `gf train --model gpt:...` for
# bench/gpt_vs_torch.sh: the same GPT-2-style model (token and position
# embeddings, pre-LayerNorm blocks, causal multi-head attention, tanh GELU
# MLP, final LayerNorm, head tied to the token embedding), the same data (a
# text file's bytes as tokens, T-token windows, the last 10% held out as gf
# does), batch, AdamW (decay on 2-D tensors only, as gf), thread count and
# step count, timed the same way (forward + backward + optimizer step).
#
#   /usr/bin/python3 bench/torch_gpt.py --model gpt:L=4,H=4,C=256,T=128,V=256 \
#       --text FILE --batch 8 --steps 50 --threads 2 [--lr 1e-3] [--seed 1]
#
# PyTorch 1.13 (Debian) has no fused scaled_dot_product_attention, so the
# attention is nanoGPT's explicit path (masked softmax of q k^T). The last
# line of stdout is one JSON object with train_tokens_per_s, steps, params,
# train_loss, torch_version.

import argparse
import json
import math
import re
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def parse_spec(s):
    m = re.fullmatch(r"gpt:L=(\d+),H=(\d+),C=(\d+),T=(\d+),V=(\d+)", s)
    if not m:
        sys.exit("torch_gpt: --model wants gpt:L=..,H=..,C=..,T=..,V=.., got %r" % s)
    return [int(v) for v in m.groups()]


class Block(nn.Module):
    def __init__(self, H, C):
        super().__init__()
        self.H, self.C = H, C
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.c_attn, self.attn_proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.c_fc, self.mlp_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def attn(self, x, mask):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.H, c // self.H).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.H))
        att = F.softmax(att.masked_fill(mask[:t, :t], float("-inf")), dim=-1)
        return self.attn_proj((att @ v).transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x, mask):
        x = x + self.attn(self.ln_1(x), mask)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, L, H, C, T, V):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(V, C), nn.Embedding(T, C)
        self.h = nn.ModuleList([Block(H, C) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        self.register_buffer("mask", ~torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()


def main():
    ap = argparse.ArgumentParser(description="PyTorch peer of gf's GPT training (benchmark)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--text", required=True, help="text file: its bytes are the tokens")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    L, H, C, T, V = parse_spec(a.model)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    data = open(a.text, "rb").read()
    train = torch.tensor(list(data[:len(data) - len(data) // 10]), dtype=torch.long)
    nwin = (len(train) - 1) // T
    x_all = train[:nwin * T].view(nwin, T)
    y_all = train[1:nwin * T + 1].view(nwin, T)

    model = GPT(L, H, C, T, V)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=a.lr)
    params = sum(p.numel() for p in model.parameters())

    seconds, steps, loss_v = 0.0, 0, float("nan")
    while steps < a.steps:
        perm = torch.randperm(nwin)
        for i in range(0, nwin, a.batch):
            if steps >= a.steps:
                break
            idx = perm[i:i + a.batch]
            x, y = x_all[idx], y_all[idx]
            t0 = time.perf_counter()
            logits = model(x)
            loss = F.cross_entropy(logits.view(-1, V), y.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            seconds += time.perf_counter() - t0
            steps += 1
            loss_v = loss.item()
    print(json.dumps({"impl": "pytorch", "torch_version": torch.__version__, "model": a.model,
                      "params": params, "steps": steps, "batch": a.batch, "threads": a.threads,
                      "train_seconds": seconds, "train_loss": loss_v,
                      "train_tokens_per_s": steps * a.batch * T / seconds}))


if __name__ == "__main__":
    main()
