#!/usr/bin/python3
# gen_nifti_reference.py -- owns tests/data/nifti_ch2_reference.txt: values of
# a NIfTI-1 volume (Debian's mricron-data ch2.nii.gz) decoded here with only
# the standard library (gzip + struct, following the NIfTI-1 header layout),
# independently of niftilib and src/data/nifti.c, for tests/test_medimg.c.
#
# Run:   /usr/bin/python3 scripts/gen_nifti_reference.py NII_GZ [OUT]   (default: stdout)
# Deterministic: the same file gives the same bytes.
#
# Lines of the output ('#' starts a comment):
#   dims NX NY NZ                  spatial sizes (dim[1..3])
#   datatype CODE                  NIfTI datatype code
#   scl SLOPE INTER                scaling fields as stored
#   sum TOTAL                      sum of all intensities (scaling applied)
#   sumsq TOTAL                    sum of their squares
#   range MIN MAX                  smallest and largest intensity
#   voxel X Y Z VALUE              one intensity at (x, y, z)
#   minmax_sum TOTAL               sum after mapping the volume to [0, 1] by min and max
import gzip
import struct
import sys

TYPES = {2: "B", 4: "h", 8: "i", 16: "f", 64: "d", 256: "b", 512: "H", 768: "I", 1024: "q", 1280: "Q"}


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: gen_nifti_reference.py NII_GZ [OUT]")
    raw = open(sys.argv[1], "rb").read()
    b = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    end = "<" if struct.unpack("<i", b[0:4])[0] == 348 else ">"
    assert struct.unpack(end + "i", b[0:4])[0] == 348 and b[344:348] == b"n+1\0"
    dim = struct.unpack(end + "8h", b[40:56])
    datatype, bitpix = struct.unpack(end + "hh", b[70:74])
    vox_offset = int(struct.unpack(end + "f", b[108:112])[0])
    slope, inter = struct.unpack(end + "ff", b[112:120])
    nx, ny, nz = dim[1], dim[2], dim[3]
    n = nx * ny * nz
    code = TYPES[datatype]
    vals = struct.unpack_from(end + str(n) + code, b, vox_offset)
    if slope != 0:
        vals = [v * slope + inter for v in vals]
    out = open(sys.argv[2], "w") if len(sys.argv) > 2 else sys.stdout
    out.write("# ch2.nii.gz decoded with gzip + struct; scripts/gen_nifti_reference.py\n")
    out.write("dims %d %d %d\n" % (nx, ny, nz))
    out.write("datatype %d\n" % datatype)
    out.write("scl %.9g %.9g\n" % (slope, inter))
    out.write("sum %.17g\n" % sum(float(v) for v in vals))
    out.write("sumsq %.17g\n" % sum(float(v) * float(v) for v in vals))
    lo, hi = min(vals), max(vals)
    out.write("range %.9g %.9g\n" % (lo, hi))
    # voxels on a fixed spread of positions, including the corners
    pts = [(0, 0, 0), (nx - 1, ny - 1, nz - 1), (nx // 2, ny // 2, nz // 2)]
    for k in range(1, 13):
        pts.append(((k * 37) % nx, (k * 53 + ny // 3) % ny, (k * 29 + nz // 4) % nz))
    for x, y, z in pts:
        out.write("voxel %d %d %d %.9g\n" % (x, y, z, vals[(z * ny + y) * nx + x]))
    span = float(hi - lo)
    out.write("minmax_sum %.17g\n" % sum((float(v) - lo) / span for v in vals))


if __name__ == "__main__":
    main()
