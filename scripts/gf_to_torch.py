#!/usr/bin/python3
# gf_to_torch.py -- owns the check that a gf checkpoint is a standard model:
# loads it into the equivalent PyTorch nn.Sequential (float32), evaluates it
# on the Fashion-MNIST test set, and compares with the accuracy gf reported.
#
#   /usr/bin/python3 scripts/gf_to_torch.py CHECKPOINT [--expect-accuracy A]
#
# Prints "torch test_accuracy=0.xxxx (gf reported 0.xxxx)". Exit status: 0 if
# the two agree within --tolerance (default 0.001, i.e. 10 of 10000 images:
# float rounding can flip a handful of near-ties), 1 if they differ, 2 if the
# file is not a usable gf checkpoint or no reported accuracy is known.

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gf_torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="Evaluate a gf checkpoint in PyTorch.")
    ap.add_argument("checkpoint")
    ap.add_argument("--expect-accuracy", type=float, default=None,
                    help="accuracy to compare with (default: gf.test_accuracy from the file)")
    ap.add_argument("--tolerance", type=float, default=0.001)
    ap.add_argument("--data", default=gf_torch.FASHION_DIR, help="Fashion-MNIST IDX folder")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        model, meta = gf_torch.load_gf_checkpoint(args.checkpoint)
    except (OSError, ValueError) as e:
        print("gf_to_torch: %s" % e, file=sys.stderr)
        return 2
    spec = meta["gf.spec"]
    shape = gf_torch.spec_input_shape(spec)
    if gf_torch.spec_num_classes(spec) != 10 or shape not in ((784,), (1, 28, 28)):
        print("gf_to_torch: %s: model %s does not take Fashion-MNIST (784 or 1x28x28 in, 10 out)"
              % (args.checkpoint, spec), file=sys.stderr)
        return 2

    x, y = gf_torch.load_fashion_mnist_torch("test", args.data)
    x = gf_torch.shape_inputs(x, spec).contiguous()
    acc = gf_torch.accuracy(model, x, y)

    expect = args.expect_accuracy
    source = "expected"
    if expect is None and "gf.test_accuracy" in meta:
        source = "gf reported"
        try:
            expect = float(meta["gf.test_accuracy"])
        except ValueError:
            print("gf_to_torch: %s: gf.test_accuracy %r is not a number"
                  % (args.checkpoint, meta["gf.test_accuracy"]), file=sys.stderr)
            return 2
    params = sum(p.numel() for p in model.parameters())
    print("checkpoint %s: %s, %d parameters" % (args.checkpoint, spec, params))
    if expect is None:
        print("torch test_accuracy=%.4f (gf reported none)" % acc)
        print("gf_to_torch: no gf.test_accuracy in the file and no --expect-accuracy given",
              file=sys.stderr)
        return 2
    print("torch test_accuracy=%.4f (%s %.4f)" % (acc, source, expect))
    diff = abs(acc - expect)
    if diff > args.tolerance + 1e-12:
        print("MISMATCH: differs by %.4f (> %.4f)" % (diff, args.tolerance))
        return 1
    print("OK: within %.4f" % args.tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
