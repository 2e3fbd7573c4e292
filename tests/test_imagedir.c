/* Tests for the imagedir: dataset (src/data/imagedir.c, image.c, resize.c).
 * PNGs are written here (zlib and the PNG chunk layout, no libpng) with
 * known pixel values and read back through gf_dataset_open: gray, RGB,
 * RGBA (alpha dropped), 16-bit (scaled to 8 bits as round(v * 255 / 65535)),
 * and palette images, class ids in folder-name order, (c, h, w)
 * layout, gray/rgb conversion by the documented formulas, size= resizing
 * against hand-computed area and bilinear values, test= and test_fraction=.
 * JPEG fixtures (tests/data/imagedir, made by make.sh with cjpeg) are
 * compared with djpeg's decodes of the same files and with their source
 * pattern. Bad input, each refused with an error naming the file: a wrong
 * size, a corrupt and a truncated PNG, a truncated JPEG, symbolic links
 * (to a file outside DIR, and as a class folder), an empty class folder, a
 * non-image file, a file directly in DIR, a PNG declaring 10^5 x 10^5
 * pixels, and each limit. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "data/imagedir.h"

#define FIXTURES "tests/data/imagedir"

static char tmpdir[64];

static const char *tp(const char *fmt, const char *a)
{
    static char buf[16][512];
    static int next;
    char *p = buf[next++ % 16];
    char rel[256];
    snprintf(rel, sizeof rel, fmt, a);
    snprintf(p, 512, "%s/%s", tmpdir, rel);
    return p;
}

static int has(const char *needle)
{
    return strstr(gf_last_error(), needle) != NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
    uint8_t hdr[8];
    put32(hdr, len);
    memcpy(hdr + 4, type, 4);
    fwrite(hdr, 1, 8, f);
    if (len) fwrite(data, 1, len, f);
    uint32_t crc = (uint32_t)crc32(0, (const uint8_t *)type, 4);
    if (len) crc = (uint32_t)crc32(crc, data, len);
    uint8_t c[4];
    put32(c, crc);
    fwrite(c, 1, 4, f);
}

/* A PNG of w x h with colour type ct and bit depth bd; raw: the rows'
 * bytes without filter bytes; plte: palette (n_plte entries) for ct 3.
 * interlace 1 is not written (a second writer below handles Adam7). */
static void write_png(const char *path, int w, int h, int ct, int bd, const uint8_t *raw, size_t rowbytes,
                      const uint8_t *plte, int n_plte, uint32_t declared_w, uint32_t declared_h)
{
    FILE *f = fopen(path, "wb");
    if (!f) { perror(path); exit(2); }
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
    fwrite(sig, 1, 8, f);
    uint8_t ihdr[13];
    put32(ihdr, declared_w ? declared_w : (uint32_t)w);
    put32(ihdr + 4, declared_h ? declared_h : (uint32_t)h);
    ihdr[8] = (uint8_t)bd; ihdr[9] = (uint8_t)ct; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
    chunk(f, "IHDR", ihdr, 13);
    if (plte) chunk(f, "PLTE", plte, (uint32_t)(3 * n_plte));
    size_t flen = (size_t)h * (rowbytes + 1);
    uint8_t *filt = malloc(flen + 1);
    for (int y = 0; y < h; y++) {
        filt[(size_t)y * (rowbytes + 1)] = 0;
        memcpy(filt + (size_t)y * (rowbytes + 1) + 1, raw + (size_t)y * rowbytes, rowbytes);
    }
    uLongf zlen = compressBound(flen);
    uint8_t *z = malloc(zlen);
    compress(z, &zlen, filt, flen);
    chunk(f, "IDAT", z, (uint32_t)zlen);
    chunk(f, "IEND", NULL, 0);
    fclose(f);
    free(filt);
    free(z);
}

static void gray_png(const char *path, int w, int h, const uint8_t *px)
{
    write_png(path, w, h, 0, 8, px, (size_t)w, NULL, 0, 0, 0);
}

static void mkdir_p(const char *p) { mkdir(p, 0755); }

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) exit(2);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const uint8_t *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

/* A binary PPM/PGM: *c = 3 or 1; returns the (h, w, c) bytes. */
static uint8_t *read_pnm(const char *path, int *c, int *h, int *w)
{
    size_t n;
    uint8_t *b = slurp(path, &n);
    int maxv, off;
    char m;
    if (sscanf((char *)b, "P%c %d %d %d%n", &m, w, h, &maxv, &off) != 4 || maxv != 255) exit(2);
    *c = m == '6' ? 3 : 1;
    size_t px = (size_t)*w * *h * *c;
    uint8_t *out = malloc(px);
    memcpy(out, b + off + 1, px);
    free(b);
    return out;
}

/* ---- reading values back -------------------------------------------------- */

static void test_gray_classes(void)
{
    /* classes b_dogs and a_cats: ids by name, a_cats = 0 */
    mkdir_p(tp("g", NULL)); mkdir_p(tp("g/b_dogs", NULL)); mkdir_p(tp("g/a_cats", NULL));
    uint8_t p0[6] = { 0, 51, 102, 153, 204, 255 }, p1[6] = { 1, 2, 3, 4, 5, 6 }, p2[6] = { 250, 0, 7, 9, 11, 13 };
    gray_png(tp("g/b_dogs/x.png", NULL), 2, 3, p0);   /* w 2, h 3 */
    gray_png(tp("g/a_cats/z.png", NULL), 2, 3, p1);
    gray_png(tp("g/a_cats/y.png", NULL), 2, 3, p2);
    char spec[256];
    snprintf(spec, sizeof spec, "imagedir:%s", tp("g", NULL));
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(tr.n == 3 && tr.c == 1 && tr.h == 3 && tr.w == 2 && tr.dim == 6 && tr.num_classes == 2);
    CHECK(te.n == 0 && te.dim == 6);
    /* order: a_cats/y.png, a_cats/z.png, b_dogs/x.png */
    const uint8_t *want[3] = { p2, p1, p0 };
    int32_t labels[3] = { 0, 0, 1 };
    for (int i = 0; i < 3; i++) {
        CHECK(tr.y[i] == labels[i]);
        for (int k = 0; k < 6; k++) CHECK_NEAR(tr.x[i * 6 + k], want[i][k] / 255.0, 1e-7);
    }
    CHECK_MSG(strstr(gf_dataset_note(), "0=a_cats 1=b_dogs") != NULL, "%s", gf_dataset_note());
    gf_dataset_free(&tr); gf_dataset_free(&te);

    /* test_fraction=0.34: 1 of 3 to test; test= a folder with only b_dogs: label 1 */
    snprintf(spec, sizeof spec, "imagedir:%s,test_fraction=0.34", tp("g", NULL));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.n == 2 && te.n == 1 && te.dim == 6, "%s", gf_last_error());
    gf_dataset_free(&tr); gf_dataset_free(&te);
    mkdir_p(tp("gt", NULL)); mkdir_p(tp("gt/b_dogs", NULL));
    gray_png(tp("gt/b_dogs/q.png", NULL), 2, 3, p1);
    snprintf(spec, sizeof spec, "imagedir:%s,test=%s", tp("g", NULL), tp("gt", NULL));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.n == 3 && te.n == 1 && te.y[0] == 1 && te.num_classes == 2, "%s", gf_last_error());
    if (!st) CHECK_NEAR(te.x[5], 6 / 255.0, 1e-7);
    gf_dataset_free(&tr); gf_dataset_free(&te);
    /* a test folder with a class the training folder lacks */
    mkdir_p(tp("gt/c_birds", NULL));
    gray_png(tp("gt/c_birds/q.png", NULL), 2, 3, p1);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st != GF_OK && has("c_birds") && has("no training class"), "%s", gf_last_error());
    /* a test image of another size */
    snprintf(spec, sizeof spec, "imagedir:%s,test=%s", tp("g", NULL), tp("gt2", NULL));
    mkdir_p(tp("gt2", NULL)); mkdir_p(tp("gt2/a_cats", NULL));
    gray_png(tp("gt2/a_cats/big.png", NULL), 3, 2, p1);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st != GF_OK && has("big.png") && has("2x3") && has("3x2") && has("size="), "%s", gf_last_error());
}

static void test_color_kinds(void)
{
    mkdir_p(tp("c", NULL)); mkdir_p(tp("c/k", NULL));
    /* 2x2 RGB: pixel (y, x) = (10 y + x, 100 + y, 200 - x) */
    uint8_t rgb[12], rgba[16], g16[8], pal_idx[4], plte[9] = { 255, 0, 0, 0, 255, 0, 9, 8, 7 };
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 2; x++) {
            int i = y * 2 + x;
            rgb[3 * i] = (uint8_t)(10 * y + x); rgb[3 * i + 1] = (uint8_t)(100 + y); rgb[3 * i + 2] = (uint8_t)(200 - x);
            memcpy(rgba + 4 * i, rgb + 3 * i, 3);
            rgba[4 * i + 3] = (uint8_t)(i * 60);   /* alpha, dropped */
        }
    uint16_t v16[4] = { 0, 257, 40000, 65535 };
    for (int i = 0; i < 4; i++) { g16[2 * i] = (uint8_t)(v16[i] >> 8); g16[2 * i + 1] = (uint8_t)v16[i]; }
    pal_idx[0] = 2; pal_idx[1] = 0; pal_idx[2] = 1; pal_idx[3] = 2;
    write_png(tp("c/k/1rgb.png", NULL), 2, 2, 2, 8, rgb, 6, NULL, 0, 0, 0);
    write_png(tp("c/k/2rgba.png", NULL), 2, 2, 6, 8, rgba, 8, NULL, 0, 0, 0);
    write_png(tp("c/k/3gray16.png", NULL), 2, 2, 0, 16, g16, 4, NULL, 0, 0, 0);
    write_png(tp("c/k/4pal.png", NULL), 2, 2, 3, 8, pal_idx, 2, plte, 3, 0, 0);
    mkdir_p(tp("c/l", NULL));
    gray_png(tp("c/l/x.png", NULL), 2, 2, (const uint8_t[]){ 1, 2, 3, 4 });
    char spec[256];
    snprintf(spec, sizeof spec, "imagedir:%s", tp("c", NULL));   /* first image RGB: c = 3 */
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(tr.n == 5 && tr.c == 3 && tr.h == 2 && tr.w == 2 && tr.dim == 12);
    for (int s = 0; s < 2; s++)                       /* RGB and RGBA: same planes */
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < 4; i++) CHECK_NEAR(tr.x[s * 12 + ch * 4 + i], rgb[3 * i + ch] / 255.0, 1e-7);
    for (int ch = 0; ch < 3; ch++)                    /* 16-bit gray, replicated */
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(tr.x[2 * 12 + ch * 4 + i], (double)((v16[i] * 255L + 32767) / 65535) / 255.0, 1e-7);
    for (int ch = 0; ch < 3; ch++)                    /* palette */
        for (int i = 0; i < 4; i++) CHECK_NEAR(tr.x[3 * 12 + ch * 4 + i], plte[3 * pal_idx[i] + ch] / 255.0, 1e-7);
    for (int ch = 0; ch < 3; ch++)                    /* gray into rgb: replicated */
        for (int i = 0; i < 4; i++) CHECK_NEAR(tr.x[4 * 12 + ch * 4 + i], (i + 1) / 255.0, 1e-7);
    CHECK(tr.y[0] == 0 && tr.y[3] == 0 && tr.y[4] == 1);
    gf_dataset_free(&tr); gf_dataset_free(&te);

    snprintf(spec, sizeof spec, "imagedir:%s,gray", tp("c", NULL));   /* BT.601 luma */
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.c == 1 && tr.dim == 4, "%s", gf_last_error());
    if (!st)
        for (int i = 0; i < 4; i++)
            CHECK_NEAR(tr.x[i], (0.299 * rgb[3 * i] + 0.587 * rgb[3 * i + 1] + 0.114 * rgb[3 * i + 2]) / 255.0, 1e-6);
    gf_dataset_free(&tr); gf_dataset_free(&te);

    /* auto channels, first image gray, a later one in colour: refused */
    mkdir_p(tp("c2", NULL)); mkdir_p(tp("c2/a", NULL));
    gray_png(tp("c2/a/1.png", NULL), 2, 2, (const uint8_t[]){ 1, 2, 3, 4 });
    write_png(tp("c2/a/2.png", NULL), 2, 2, 2, 8, rgb, 6, NULL, 0, 0, 0);
    snprintf(spec, sizeof spec, "imagedir:%s", tp("c2", NULL));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st != GF_OK && has("2.png") && has("colour") && has("rgb"), "%s", gf_last_error());
    snprintf(spec, sizeof spec, "imagedir:%s,rgb", tp("c2", NULL));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.c == 3 && tr.n == 2, "%s", gf_last_error());
    gf_dataset_free(&tr); gf_dataset_free(&te);
}

/* ---- resizing --------------------------------------------------------------- */

static void test_resize(void)
{
    /* 4x4 -> 2x2 (area): means of the 2x2 blocks */
    float in[16], out[16];
    for (int i = 0; i < 16; i++) in[i] = (float)(i * i % 17);
    CHECK(gf_image_resize(in, 1, 4, 4, out, 2, 2) == GF_OK);
    for (int by = 0; by < 2; by++)
        for (int bx = 0; bx < 2; bx++) {
            double m = (in[(2 * by) * 4 + 2 * bx] + in[(2 * by) * 4 + 2 * bx + 1] +
                        in[(2 * by + 1) * 4 + 2 * bx] + in[(2 * by + 1) * 4 + 2 * bx + 1]) / 4;
            CHECK_NEAR(out[by * 2 + bx], m, 1e-5);
        }
    /* 1x3 -> 1x2 (area, factor 1.5): (a + b/2) / 1.5, (b/2 + c) / 1.5 */
    float r3[3] = { 3, 6, 9 }, r2[2];
    CHECK(gf_image_resize(r3, 1, 1, 3, r2, 1, 2) == GF_OK);
    CHECK_NEAR(r2[0], (3 + 3) / 1.5, 1e-5);
    CHECK_NEAR(r2[1], (3 + 9) / 1.5, 1e-5);
    /* 1x2 -> 1x4 (bilinear, half-pixel): a, .75a + .25b, .25a + .75b, b */
    float r[2] = { 4, 8 }, r4[4];
    CHECK(gf_image_resize(r, 1, 1, 2, r4, 1, 4) == GF_OK);
    CHECK_NEAR(r4[0], 4, 1e-6); CHECK_NEAR(r4[1], 5, 1e-6); CHECK_NEAR(r4[2], 7, 1e-6); CHECK_NEAR(r4[3], 8, 1e-6);
    /* 2x1 -> 4x2 (grow both; the width axis 1 -> 2 repeats), two channels */
    float c2[4] = { 0, 1, 10, 20 }, o2[16];
    CHECK(gf_image_resize(c2, 2, 2, 1, o2, 4, 2) == GF_OK);
    float col0[4] = { 0, .25f, .75f, 1 }, col1[4] = { 10, 12.5f, 17.5f, 20 };
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 2; x++) {
            CHECK_NEAR(o2[y * 2 + x], col0[y], 1e-6);
            CHECK_NEAR(o2[8 + y * 2 + x], col1[y], 1e-6);
        }

    /* 1x4 -> 3x2 (columns first: the smaller intermediate): every row (a+b)/2, (c+d)/2 */
    float q[4] = { 1, 3, 10, 30 }, q6[6];
    CHECK(gf_image_resize(q, 1, 1, 4, q6, 3, 2) == GF_OK);
    for (int y = 0; y < 3; y++) { CHECK_NEAR(q6[y * 2], 2, 1e-6); CHECK_NEAR(q6[y * 2 + 1], 20, 1e-6); }
    /* 3x3 -> 2x5 (shrink rows by area, grow columns bilinearly) against the two 1-D rules by hand */
    float g[9] = { 0, 3, 6, 9, 12, 15, 18, 21, 24 }, g10[10];
    CHECK(gf_image_resize(g, 1, 3, 3, g10, 2, 5) == GF_OK);
    double rows[2][3];
    for (int x = 0; x < 3; x++) {
        rows[0][x] = (g[x] + 0.5 * g[3 + x]) / 1.5;
        rows[1][x] = (0.5 * g[3 + x] + g[6 + x]) / 1.5;
    }
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 5; x++) {
            double sx = (x + 0.5) * 3.0 / 5.0 - 0.5;
            if (sx < 0) sx = 0;
            int i0 = (int)sx, i1 = i0 + 1 < 3 ? i0 + 1 : 2;
            double f = sx - i0, want = (1 - f) * rows[y][i0] + f * rows[y][i1];
            CHECK_NEAR(g10[y * 5 + x], want, 1e-5);
        }

    /* 2x64293 -> 2x5, all ones (an image the PNG fuzzer found): an area mean of
     * ~12,859 ones is 1 to float precision, not the 1.0004 a float running sum
     * drifts to */
    enum { WIDE = 64293 };
    float *ones = malloc(sizeof *ones * 2 * WIDE), o10[10];
    CHECK(ones != NULL);
    if (ones) {
        for (int i = 0; i < 2 * WIDE; i++) ones[i] = 1.0f;
        CHECK(gf_image_resize(ones, 1, 2, WIDE, o10, 2, 5) == GF_OK);
        for (int i = 0; i < 10; i++) CHECK_NEAR(o10[i], 1.0, 1e-6);
        free(ones);
    }

    /* through the spec: a 4x4 and a 2x2 image with size=2x2 */
    mkdir_p(tp("r", NULL)); mkdir_p(tp("r/a", NULL));
    uint8_t big[16], small[4] = { 9, 8, 7, 6 };
    for (int i = 0; i < 16; i++) big[i] = (uint8_t)(i * 13);
    gray_png(tp("r/a/1big.png", NULL), 4, 4, big);
    gray_png(tp("r/a/2small.png", NULL), 2, 2, small);
    char spec[256];
    snprintf(spec, sizeof spec, "imagedir:%s", tp("r", NULL));
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st != GF_OK && has("2small.png") && has("2x2") && has("4x4") && has("size=HxW"), "%s", gf_last_error());
    snprintf(spec, sizeof spec, "imagedir:%s,size=2x2", tp("r", NULL));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.n == 2 && tr.h == 2 && tr.w == 2, "%s", gf_last_error());
    if (!st) {
        for (int by = 0; by < 2; by++)
            for (int bx = 0; bx < 2; bx++) {
                double m = (big[(2 * by) * 4 + 2 * bx] + big[(2 * by) * 4 + 2 * bx + 1] +
                            big[(2 * by + 1) * 4 + 2 * bx] + big[(2 * by + 1) * 4 + 2 * bx + 1]) / 4.0 / 255.0;
                CHECK_NEAR(tr.x[by * 2 + bx], m, 1e-6);
            }
        for (int i = 0; i < 4; i++) CHECK_NEAR(tr.x[4 + i], small[i] / 255.0, 1e-7);
    }
    gf_dataset_free(&tr); gf_dataset_free(&te);
}

/* ---- JPEG ------------------------------------------------------------------- */

static void check_jpeg(const char *jpg, const char *ref, const char *src)
{
    size_t len;
    uint8_t *buf = slurp(jpg, &len);
    gf_image im;
    gf_status st = gf_image_decode(buf, len, jpg, GF_IMAGE_MAX_PIXELS, &im);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    int c, h, w, sc, sh, sw;
    uint8_t *r = read_pnm(ref, &c, &h, &w), *s = read_pnm(src, &sc, &sh, &sw);
    if (!st) {
        CHECK(im.c == c && im.h == h && im.w == w && h == 12 && w == 16);
        int worst = 0;
        double err = 0;
        for (int i = 0; i < h * w * c; i++) {
            int d = abs((int)im.px[i] - (int)r[i]);
            if (d > worst) worst = d;
            err += fabs((double)im.px[i] - s[i]);
        }
        CHECK_MSG(worst <= 1, "%s: differs from djpeg's decode by %d", jpg, worst);   /* same library: 0 */
        CHECK_MSG(err / (h * w * c) < 6.0, "%s: mean error %.2f against the source", jpg, err / (h * w * c));
    }
    gf_image_free(&im);
    free(buf); free(r); free(s);
}

static void test_jpeg(void)
{
    check_jpeg(FIXTURES "/rgb.jpg", FIXTURES "/rgb.ppm", FIXTURES "/source.ppm");
    check_jpeg(FIXTURES "/gray.jpg", FIXTURES "/gray.pgm", FIXTURES "/source.pgm");
    check_jpeg(FIXTURES "/progressive.jpg", FIXTURES "/progressive.ppm", FIXTURES "/source.ppm");
    /* through a folder: (c, h, w) planes of djpeg's (h, w, c) bytes */
    mkdir_p(tp("j", NULL)); mkdir_p(tp("j/a", NULL));
    size_t len;
    uint8_t *b = slurp(FIXTURES "/rgb.jpg", &len);
    spit(tp("j/a/photo.JPG", NULL), b, len);
    char spec[256];
    snprintf(spec, sizeof spec, "imagedir:%s", tp("j", NULL));
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK && tr.c == 3 && tr.h == 12 && tr.w == 16, "%s", gf_last_error());
    int c, h, w;
    uint8_t *r = read_pnm(FIXTURES "/rgb.ppm", &c, &h, &w);
    if (!st) {
        double worst = 0;
        for (int ch = 0; ch < 3; ch++)
            for (int i = 0; i < h * w; i++) {
                double d = fabs(tr.x[ch * h * w + i] - r[i * 3 + ch] / 255.0);
                if (d > worst) worst = d;
            }
        CHECK_MSG(worst <= 1.0 / 255 + 1e-6, "worst %g", worst);
    }
    gf_dataset_free(&tr); gf_dataset_free(&te);
    /* a JPEG whose frame header declares 60000 x 60000 pixels: refused before decoding */
    {
        uint8_t *bomb = malloc(len);
        memcpy(bomb, b, len);
        size_t at = 2;
        while (at + 9 < len && !(bomb[at] == 0xff && (bomb[at + 1] == 0xc0 || bomb[at + 1] == 0xc2))) at++;
        CHECK(at + 9 < len);
        bomb[at + 5] = 0xea; bomb[at + 6] = 0x60;     /* height 60000 */
        bomb[at + 7] = 0xea; bomb[at + 8] = 0x60;     /* width 60000 */
        spit(tp("j/a/photo.JPG", NULL), bomb, len);
        st = gf_dataset_open(spec, &tr, &te);
        CHECK_MSG(st != GF_OK && has("photo.JPG") && has("60000x60000") && has("limit"), "%s", gf_last_error());
        free(bomb);
    }
    /* truncated: 60% of the file */
    spit(tp("j/a/photo.JPG", NULL), b, len * 6 / 10);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st != GF_OK && has("photo.JPG") && has("corrupt JPEG") && has("truncated"), "%s", gf_last_error());
    free(b);
    free(r);
}

/* ---- bad input ------------------------------------------------------------------ */

static gf_status open_dir(const char *rel, const char *opts)
{
    char spec[512];
    snprintf(spec, sizeof spec, "imagedir:%s%s", tp("%s", rel), opts);
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    gf_dataset_free(&tr); gf_dataset_free(&te);
    return st;
}

static void test_bad_input(void)
{
    uint8_t px[4] = { 1, 2, 3, 4 };
    /* corrupt PNG: one byte of the compressed data changed (CRC mismatch) */
    mkdir_p(tp("b1", NULL)); mkdir_p(tp("b1/a", NULL));
    gray_png(tp("b1/a/ok.png", NULL), 2, 2, px);
    size_t len;
    uint8_t *b = slurp(tp("b1/a/ok.png", NULL), &len);
    b[8 + 25 + 10] ^= 0x55;                              /* inside IDAT's data */
    spit(tp("b1/a/bad.png", NULL), b, len);
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("bad.png") && has("corrupt PNG"), "%s", gf_last_error());
    spit(tp("b1/a/bad.png", NULL), b, len - 20);           /* truncated inside IDAT */
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("bad.png") && has("corrupt PNG"), "%s", gf_last_error());
    free(b);
    unlink(tp("b1/a/bad.png", NULL));
    CHECK_MSG(open_dir("b1", "") == GF_OK, "%s", gf_last_error());

    /* a non-image file; a file directly in DIR; a nested folder */
    spit(tp("b1/a/notes.txt", NULL), (const uint8_t *)"hello", 5);
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("notes.txt") && has("not a PNG or JPEG"), "%s", gf_last_error());
    unlink(tp("b1/a/notes.txt", NULL));
    spit(tp("b1/README", NULL), (const uint8_t *)"hello", 5);
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("README") && has("not a folder"), "%s", gf_last_error());
    unlink(tp("b1/README", NULL));
    spit(tp("b1/.hidden", NULL), (const uint8_t *)"x", 1);     /* dot-names are skipped */
    CHECK_MSG(open_dir("b1", "") == GF_OK, "%s", gf_last_error());

    /* symbolic links: a file pointing outside DIR, a class folder pointing elsewhere */
    CHECK(symlink("/etc/passwd", tp("b1/a/escape.png", NULL)) == 0);
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("escape.png") && has("symbolic link"), "%s", gf_last_error());
    unlink(tp("b1/a/escape.png", NULL));
    mkdir_p(tp("outside", NULL)); mkdir_p(tp("outside/x", NULL));
    gray_png(tp("outside/x/o.png", NULL), 2, 2, px);
    CHECK(symlink(tp("outside/x", NULL), tp("b1/linked", NULL)) == 0);
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("linked") && has("symbolic link"), "%s", gf_last_error());
    unlink(tp("b1/linked", NULL));
    /* the open of a file swapped for a link after listing: gf_data_openat refuses it */
    {
        int dfd = open(tp("b1/a", NULL), O_RDONLY | O_DIRECTORY);
        CHECK(symlink("/etc/passwd", tp("b1/a/late.png", NULL)) == 0);
        int fd = -1;
        CHECK(gf_data_openat(dfd, "late.png", "b1/a/late.png", NULL, &fd, NULL) != GF_OK && fd < 0 &&
              has("late.png") && has("symbolic link"));
        unlink(tp("b1/a/late.png", NULL));
        close(dfd);
    }

    /* an empty class folder; no class folders */
    mkdir_p(tp("b1/empty", NULL));
    CHECK_MSG(open_dir("b1", "") != GF_OK && has("empty") && has("empty class folder"), "%s", gf_last_error());
    rmdir(tp("b1/empty", NULL));
    mkdir_p(tp("b0", NULL));
    CHECK_MSG(open_dir("b0", "") != GF_OK && has("b0") && has("no class folders"), "%s", gf_last_error());
    CHECK_MSG(open_dir("nonexistent", "") != GF_OK && has("nonexistent"), "%s", gf_last_error());

    /* a PNG bomb: IHDR declares 100000 x 100000, refused before allocating */
    mkdir_p(tp("b2", NULL)); mkdir_p(tp("b2/a", NULL));
    write_png(tp("b2/a/bomb.png", NULL), 2, 2, 0, 8, px, 2, NULL, 0, 100000, 100000);
    CHECK_MSG(open_dir("b2", "") != GF_OK && has("bomb.png") && (has("limit") || has("exceeds")), "%s",
              gf_last_error());
    write_png(tp("b2/a/bomb.png", NULL), 2, 2, 0, 8, px, 2, NULL, 0, 9000, 9000);   /* 81 Mi pixels, each side fine */
    CHECK_MSG(open_dir("b2", "") != GF_OK && has("bomb.png") && has("9000x9000") && has("limit"), "%s",
              gf_last_error());

    /* the limits, one at a time, through gf_imagedir_load */
    gf_imagedir_limits lim = gf_imagedir_limits_default();
    gf_dataset d;
    gf_imagedir_classes cl;
    CHECK(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, &cl, &d) == GF_OK && d.n == 1 && cl.n == 1);
    gf_dataset_free(&d); gf_imagedir_classes_free(&cl);
    gray_png(tp("b1/a/two.png", NULL), 2, 2, px);
    lim.max_files = 1;
    CHECK_MSG(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, NULL, &d) != GF_OK && has("more than 1 image"),
              "%s", gf_last_error());
    lim = gf_imagedir_limits_default();
    lim.max_file_bytes = 20;
    CHECK_MSG(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, NULL, &d) != GF_OK && has("ok.png") &&
              has("limit of 20 bytes"), "%s", gf_last_error());
    lim = gf_imagedir_limits_default();
    lim.max_pixels = 3;
    CHECK_MSG(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, NULL, &d) != GF_OK && has("ok.png") &&
              has("2x2") && has("limit of 3 pixels"), "%s", gf_last_error());
    lim = gf_imagedir_limits_default();
    lim.max_total_bytes = 31;                          /* 2 images x 4 floats = 32 bytes */
    CHECK_MSG(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, NULL, &d) != GF_OK && has("limit of 31 bytes"),
              "%s", gf_last_error());
    lim.max_total_bytes = 32;
    CHECK_MSG(gf_imagedir_load(tp("b1", NULL), NULL, &lim, NULL, NULL, &d) == GF_OK && d.n == 2, "%s",
              gf_last_error());
    gf_dataset_free(&d);

    /* spec errors */
    CHECK(open_dir("b1", ",size=0x3") != GF_OK && has("size must be HxW"));
    CHECK(open_dir("b1", ",size=3") != GF_OK && has("size must be HxW"));
    CHECK(open_dir("b1", ",gray,rgb") != GF_OK && has("'rgb'"));
    CHECK(open_dir("b1", ",label=x") != GF_OK && has("unknown"));
    CHECK(open_dir("b1", ",test_fraction=1.5") != GF_OK && has("test_fraction"));
    CHECK(open_dir("b1", ",test=x,test_fraction=0.5") != GF_OK && has("not both"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gf_test_imagedir_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_gray_classes();
    test_color_kinds();
    test_resize();
    test_jpeg();
    test_bad_input();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary();
}
