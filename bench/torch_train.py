#!/usr/bin/python3
# torch_train.py -- owns the PyTorch peer of `gf train` for benchmarks: the
# same model (gf spec), data (Fashion-MNIST, pixels /255), batch size,
# optimizer and thread count, timed the same way (forward + backward +
# optimizer step only), so bench/train_vs_torch.sh can compare images/s and
# test accuracy.
#
#   python3 bench/torch_train.py --model mlp|cnn|SPEC --epochs 1 --batch 64 \
#       --threads 2 --optim adamw --lr 1e-3 --seed 1 [--max-steps N]
#
# Runs with Debian's torch 1.13 (/usr/bin/python3) and newer PyPI torch; does
# not need numpy. The last line of stdout is one JSON object:
#   {"impl":"pytorch","torch_version":...,"model":...,"spec":...,
#    "train_images_per_s":...,"test_accuracy":...,"epochs":...,"steps":...,
#    "images":...,"train_seconds":...,"batch":...,"threads":...,"optim":...,
#    "lr":...,"weight_decay":...,"seed":...,"params":...,"python":...}
# Every epoch visits all 60000 training images in a torch.randperm order; the
# last batch of an epoch is partial (60000 = 937 * 64 + 32), so an epoch is
# 938 steps at batch 64.

import argparse
import json
import os
import platform
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import gf_torch  # noqa: E402

ALIASES = {"mlp": "mlp:784-256-128-10", "cnn": "cnn"}


def main():
    ap = argparse.ArgumentParser(description="PyTorch peer of `gf train` (benchmark).")
    ap.add_argument("--model", default="mlp", help="mlp, cnn, or any gf spec (default mlp)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--optim", choices=["adamw", "sgd"], default="adamw")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--weight-decay", type=float, default=None,
                    help="default: 0.01 for adamw (torch default), 0 for sgd")
    ap.add_argument("--momentum", type=float, default=0.0, help="sgd momentum (default 0, as gf)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after N steps (0: no limit)")
    ap.add_argument("--dataset", default="fashion-mnist",
                    help="fashion-mnist (default) or idx:DIR, as in gf train")
    ap.add_argument("--quiet", action="store_true", help="print only the JSON line")
    args = ap.parse_args()

    if args.dataset == "fashion-mnist":
        data_dir = gf_torch.FASHION_DIR
    elif args.dataset.startswith("idx:"):
        data_dir = args.dataset[4:]
    else:
        ap.error("--dataset: want fashion-mnist or idx:DIR, got %r" % args.dataset)
    try:
        spec = gf_torch.canonical_spec(ALIASES.get(args.model, args.model))
    except gf_torch.SpecError as e:
        ap.error("--model: %s" % e)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    xtr, ytr = gf_torch.load_fashion_mnist_torch("train", data_dir)
    xte, yte = gf_torch.load_fashion_mnist_torch("test", data_dir)
    xtr = gf_torch.shape_inputs(xtr, spec).contiguous()
    xte = gf_torch.shape_inputs(xte, spec).contiguous()

    model = gf_torch.parse_spec(spec)
    params = sum(p.numel() for p in model.parameters())
    if args.optim == "adamw":
        wd = 0.01 if args.weight_decay is None else args.weight_decay
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999),
                                eps=1e-8, weight_decay=wd)
    else:
        wd = 0.0 if args.weight_decay is None else args.weight_decay
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                              weight_decay=wd)

    n = xtr.shape[0]
    steps = images = 0
    timed = 0.0
    last_loss = float("nan")
    done = False
    model.train()
    for epoch in range(args.epochs):
        perm = torch.randperm(n)
        for i in range(0, n, args.batch):
            idx = perm[i:i + args.batch]
            xb, yb = xtr[idx], ytr[idx]          # gather: not timed
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            timed += time.perf_counter() - t0
            steps += 1
            images += xb.shape[0]
            if steps % 100 == 0 or (args.max_steps and steps == args.max_steps):
                last_loss = loss.item()
                if not args.quiet:
                    print("epoch %d step %d loss %.4f  %.0f img/s"
                          % (epoch + 1, steps, last_loss, images / timed), file=sys.stderr)
            if args.max_steps and steps >= args.max_steps:
                done = True
                break
        if done:
            break

    acc = gf_torch.accuracy(model, xte, yte)     # not timed
    res = {
        "impl": "pytorch",
        "torch_version": torch.__version__,
        "model": args.model,
        "spec": spec,
        "train_images_per_s": round(images / timed, 1) if timed > 0 else 0.0,
        "test_accuracy": round(acc, 4),
        "epochs": args.epochs,
        "steps": steps,
        "images": images,
        "train_seconds": round(timed, 3),
        "batch": args.batch,
        "threads": args.threads,
        "optim": args.optim,
        "lr": args.lr,
        "weight_decay": wd,
        "seed": args.seed,
        "params": params,
        "python": platform.python_version(),
    }
    if not args.quiet:
        print("pytorch %s %s: %d steps, %d images in %.2f s timed: %.0f img/s, test accuracy %.4f"
              % (torch.__version__, spec, steps, images, timed, res["train_images_per_s"], acc))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
