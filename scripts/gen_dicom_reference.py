#!/usr/bin/python3
# gen_dicom_reference.py -- owns tests/data/dicom_reference.txt: pixel values
# of pydicom's test files CT_small.dcm and MR_small.dcm (Debian's
# python3-pydicom) decoded by pydicom itself, independently of dcm2niix and
# src/data/dicom.c, for tests/test_medimg.c.
#
# Run:   /usr/bin/python3 scripts/gen_dicom_reference.py [OUT]   (default: stdout)
# Needs Debian's python3-pydicom and python3-numpy. Deterministic.
#
# Lines of the output ('#' starts a comment), for each file F (its base name):
#   size F ROWS COLS               the image's rows and columns
#   rescale F SLOPE INTERCEPT      Rescale Slope / Intercept (1 / 0 when absent)
#   sum F TOTAL                    sum of pixel * slope + intercept
#   sumsq F TOTAL                  sum of the squares of those
#   pixel F ROW COL VALUE          one rescaled pixel, DICOM row (top = 0) and column
import os
import sys

import numpy as np
import pydicom

TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")


def main():
    out = open(sys.argv[1], "w") if len(sys.argv) > 1 else sys.stdout
    out.write("# decoded by pydicom %s (dcmread + pixel_array); scripts/gen_dicom_reference.py\n"
              % pydicom.__version__)
    for name in ("CT_small.dcm", "MR_small.dcm"):
        d = pydicom.dcmread(os.path.join(TEST_FILES, name))
        slope = float(d.get("RescaleSlope", 1))
        inter = float(d.get("RescaleIntercept", 0))
        v = d.pixel_array.astype(np.float64) * slope + inter
        rows, cols = v.shape
        out.write("size %s %d %d\n" % (name, rows, cols))
        out.write("rescale %s %.9g %.9g\n" % (name, slope, inter))
        out.write("sum %s %.17g\n" % (name, v.sum()))
        out.write("sumsq %s %.17g\n" % (name, (v * v).sum()))
        pts = [(0, 0), (rows - 1, cols - 1), (0, cols - 1), (rows - 1, 0), (rows // 2, cols // 3)]
        pts += [((k * 37) % rows, (k * 53 + 7) % cols) for k in range(1, 9)]
        for r, c in pts:
            out.write("pixel %s %d %d %.9g\n" % (name, r, c, v[r, c]))


if __name__ == "__main__":
    main()
