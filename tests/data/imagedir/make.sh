#!/bin/sh
# Regenerates the JPEG fixtures of tests/test_imagedir.c: a 16x12 RGB and a
# 16x12 grayscale source pattern (source.ppm, source.pgm: plain arithmetic,
# written here), compressed with libjpeg-turbo's cjpeg (rgb.jpg, gray.jpg,
# progressive.jpg) and decoded with djpeg (rgb.ppm, gray.pgm,
# progressive.ppm): the independent decodes the test compares against.
# Needs libjpeg-turbo-progs. Run from anywhere: sh tests/data/imagedir/make.sh
set -eu
cd "$(dirname "$0")"
/usr/bin/python3 - <<'PY'
w, h = 16, 12
rgb = bytearray()
gray = bytearray()
for y in range(h):
    for x in range(w):
        rgb += bytes(((x * 16) % 256, (y * 20) % 256, (x * 7 + y * 11) % 256))
        gray.append((x * 12 + y * 5) % 256)
open("source.ppm", "wb").write(b"P6\n%d %d\n255\n" % (w, h) + bytes(rgb))
open("source.pgm", "wb").write(b"P5\n%d %d\n255\n" % (w, h) + bytes(gray))
PY
cjpeg -quality 95 -outfile rgb.jpg source.ppm
cjpeg -quality 95 -grayscale -outfile gray.jpg source.pgm
cjpeg -quality 90 -progressive -outfile progressive.jpg source.ppm
djpeg -ppm -outfile rgb.ppm rgb.jpg
djpeg -pnm -outfile gray.pgm gray.jpg
djpeg -ppm -outfile progressive.ppm progressive.jpg
