"""A small CNN on Fashion-MNIST with PyTorch, written as a tenant would
write it for a program job (docs/program-jobs.md): it reads the granted
dataset at /data/fashion-mnist, appends {"step": ..., "loss": ...} lines
to $GF_METRICS (curves in gf status and the dashboard) and writes its model
to $GF_OUTPUT (fetched with gf download JOB --out DIR).

Runs the same outside the facility:
  GF_OUTPUT=out GF_METRICS=m.jsonl /usr/bin/python3 train.py --data /usr/share/datasets/fashion-mnist
"""
import argparse, gzip, json, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(folder, split):
    pre = "train" if split == "train" else "t10k"
    names = os.listdir(folder)
    pick = lambda kind: os.path.join(folder, next(n for n in names if n.startswith(f"{pre}-{kind}")))
    x = torch.from_numpy(idx(pick("images")).astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(idx(pick("labels")).astype(np.int64))
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):                       # (B, 1, 28, 28)
        x = F.max_pool2d(F.relu(self.c1(x)), 2)  # (B, 8, 14, 14)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)  # (B, 16, 7, 7)
        return self.fc(x.flatten(1))            # (B, 10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/data/fashion-mnist")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out, metrics = os.environ.get("GF_OUTPUT", "output"), os.environ.get("GF_METRICS", "metrics.jsonl")
    os.makedirs(out, exist_ok=True)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "test")
    if a.limit:
        xtr, ytr = xtr[: a.limit], ytr[: a.limit]
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=a.lr)
    step, t0 = 0, time.time()
    with open(metrics, "a") as m:
        for epoch in range(1, a.epochs + 1):
            perm = torch.randperm(len(xtr))
            for i in range(0, len(xtr), a.batch):
                b = perm[i: i + a.batch]
                loss = F.cross_entropy(net(xtr[b]), ytr[b])
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step % 50 == 0:
                    m.write(json.dumps({"step": step, "loss": round(loss.item(), 5)}) + "\n")
                    m.flush()
            with torch.no_grad():
                acc = (net(xte).argmax(1) == yte).float().mean().item()
            m.write(json.dumps({"step": step, "epoch": epoch, "test_accuracy": round(acc, 5),
                                "seconds": round(time.time() - t0, 2)}) + "\n")
            m.flush()
            print(f"epoch {epoch}: test accuracy {acc:.4f} ({time.time() - t0:.1f} s)", flush=True)
    torch.save(net.state_dict(), os.path.join(out, "model.pt"))


if __name__ == "__main__":
    main()
