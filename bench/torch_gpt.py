#!/usr/bin/python3
# torch_gpt.py -- owns the PyTorch peer of `gf train --model gpt:...` for
# bench/gpt_vs_torch.sh (speed) and bench/gpt_learning.sh (validation loss):
# the same GPT-2-style model (token and position embeddings, pre-LayerNorm
# blocks, causal multi-head attention, tanh GELU MLP, final LayerNorm, head
# tied to the token embedding), initialised as gf does (GPT-2's scheme:
# matrices and embeddings N(0, 0.02), the two residual projections
# N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm 1 and 0), the same data (a
# text file's bytes as tokens, non-overlapping T-token windows, the last 10%
# held out as gf does, a fresh shuffle of the windows each epoch, the last
# batch short), batch, AdamW (decay on 2-D tensors only, as gf), gradient
# clipping by global norm, gf's learning-rate schedule (linear warmup, then
# cosine down to min_lr_frac x lr over --schedule-steps), thread count and
# step count, timed the same way (forward + backward + optimizer step).
#
#   /usr/bin/python3 bench/torch_gpt.py --model gpt:L=4,H=4,C=256,T=128,V=256 \
#       --text FILE --batch 8 --steps 50 --threads 2 [--lr 1e-3] [--seed 1] \
#       [--grad-clip N] [--lr-schedule constant|cosine] [--warmup-steps W] \
#       [--min-lr-frac F] [--schedule-steps S] [--eval]
#
# --eval scores the held-out 10% after training as gf does (mean loss per
# token over its non-overlapping windows): test_loss in the JSON.
#
# PyTorch 1.13 (Debian) has no fused scaled_dot_product_attention, so the
# attention is nanoGPT's explicit path (masked softmax of q k^T). The last
# line of stdout is one JSON object with train_tokens_per_s, steps, params,
# train_loss, test_loss (null without --eval), torch_version.

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
        resid_std = 0.02 / math.sqrt(2 * L)      # gf_gpt_init: GPT-2's scheme
        for name, p in self.named_parameters():
            if "ln_" in name:
                nn.init.constant_(p, 1.0 if name.endswith("weight") else 0.0)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, 0.0, resid_std if name.endswith("proj.weight") else 0.02)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for blk in self.h:
            x = blk(x, self.mask)
        return self.ln_f(x) @ self.wte.weight.t()


def lr_at(a, step):
    """gf_lr_at (src/engine/optim.c): the learning rate of 0-based step."""
    if step < a.warmup_steps:
        return a.lr * (step + 1) / a.warmup_steps
    if a.lr_schedule != "cosine":
        return a.lr
    lo = a.lr * a.min_lr_frac
    total = a.schedule_steps
    if step >= total or total <= a.warmup_steps:
        return lo
    ratio = (step - a.warmup_steps) / (total - a.warmup_steps)
    return lo + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (a.lr - lo)


def windows(tokens, T):
    """gf_dataset_window: n = (len - 1) // T non-overlapping windows and their next tokens."""
    n = (len(tokens) - 1) // T
    return tokens[:n * T].view(n, T), tokens[1:n * T + 1].view(n, T)


@torch.no_grad()
def evaluate(model, x_all, y_all, batch, V):
    """gf_trainer_evaluate: mean loss per token over all windows, in batches."""
    model.eval()
    total = 0.0
    for i in range(0, len(x_all), batch):
        logits = model(x_all[i:i + batch])
        total += F.cross_entropy(logits.view(-1, V), y_all[i:i + batch].reshape(-1),
                                 reduction="sum").item()
    model.train()
    return total / y_all.numel()


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
    ap.add_argument("--grad-clip", type=float, default=0.0, help="global-norm clip (0: off)")
    ap.add_argument("--lr-schedule", choices=("constant", "cosine"), default="constant")
    ap.add_argument("--warmup-steps", type=int, default=0)
    ap.add_argument("--min-lr-frac", type=float, default=0.1)
    ap.add_argument("--schedule-steps", type=int, default=0,
                    help="steps the cosine spans (gf: the run's steps up to --epochs; default --steps)")
    ap.add_argument("--eval", action="store_true", help="score the held-out last 10%% after training")
    a = ap.parse_args()
    if a.schedule_steps <= 0:
        a.schedule_steps = a.steps
    L, H, C, T, V = parse_spec(a.model)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)

    data = open(a.text, "rb").read()
    tokens = torch.tensor(list(data), dtype=torch.long)
    n_test = len(tokens) // 10
    x_all, y_all = windows(tokens[:len(tokens) - n_test], T)
    nwin = len(x_all)

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
            if a.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), a.grad_clip)
            for g in opt.param_groups:
                g["lr"] = lr_at(a, steps)
            opt.step()
            seconds += time.perf_counter() - t0
            steps += 1
            loss_v = loss.item()
    test_loss = None
    if a.eval:
        x_test, y_test = windows(tokens[len(tokens) - n_test:], T)
        test_loss = evaluate(model, x_test, y_test, a.batch, V)
    print(json.dumps({"impl": "pytorch", "torch_version": torch.__version__, "model": a.model,
                      "params": params, "steps": steps, "batch": a.batch, "threads": a.threads,
                      "train_seconds": seconds, "train_loss": loss_v, "test_loss": test_loss,
                      "train_tokens_per_s": steps * a.batch * T / seconds}))


if __name__ == "__main__":
    main()
