#!/usr/bin/python3
# gen_npz_reference.py -- owns tests/data/pneumoniamnist_reference.txt: values
# of PneumoniaMNIST (../shared/data/pneumoniamnist.npz) read by NumPy's own
# np.load, independently of src/data/npz.c, for tests/test_npz.c to compare
# against.
#
# Run:   /usr/bin/python3 scripts/gen_npz_reference.py NPZ [OUT]   (default: stdout)
# Needs Debian's python3-numpy. Deterministic: the same file gives the same bytes.
#
# Lines of the output ('#' starts a comment), for each split S in train, val, test:
#   shape S N H W                  S_images shape
#   sum S TOTAL                    sum of all uint8 pixels of S_images
#   rowsum S I TOTAL               sum of the pixels of image I
#   pixel S I ROW COL VALUE        one uint8 pixel
#   labels S COUNT0 COUNT1         how many samples have label 0, 1
#   label S I VALUE                one label
import sys

import numpy as np


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_npz_reference.py NPZ [OUT]")
    d = np.load(sys.argv[1])
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    out.write("# PneumoniaMNIST read by numpy %s (np.load); scripts/gen_npz_reference.py\n" % np.__version__)
    for s in ("train", "val", "test"):
        x = d[s + "_images"]
        y = d[s + "_labels"].reshape(-1)
        assert x.dtype == np.uint8 and x.ndim == 3 and y.shape[0] == x.shape[0]
        n, h, w = x.shape
        out.write("shape %s %d %d %d\n" % (s, n, h, w))
        out.write("sum %s %d\n" % (s, int(x.astype(np.int64).sum())))
        for i in (0, 1, n // 2, n - 1):
            out.write("rowsum %s %d %d\n" % (s, i, int(x[i].astype(np.int64).sum())))
        rng = np.random.default_rng(20240520)
        for _ in range(8):
            i, r, c = int(rng.integers(n)), int(rng.integers(h)), int(rng.integers(w))
            out.write("pixel %s %d %d %d %d\n" % (s, i, r, c, int(x[i, r, c])))
        out.write("labels %s %d %d\n" % (s, int((y == 0).sum()), int((y == 1).sum())))
        for i in (0, 1, n // 2, n - 1):
            out.write("label %s %d %d\n" % (s, i, int(y[i])))
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
