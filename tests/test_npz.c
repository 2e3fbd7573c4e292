/* Tests for src/data/npz.c and the npz: dataset spec: PneumoniaMNIST read
 * through gf_dataset_open and compared with the values NumPy's np.load gives
 * (tests/data/pneumoniamnist_reference.txt, scripts/gen_npz_reference.py);
 * small archives written here (stored and deflated, every supported dtype,
 * both byte orders, channels-last images, (n, 1) labels, format 2.0, .npy
 * pairs) checked value by value; and bad input, each refused with a clear
 * message naming the file and the array and never quoting its bytes:
 * a truncated archive, a wrong dtype, Fortran order, a missing key, a lying
 * header shape (too much or too little data), a zip bomb entry, a malformed
 * header dict, mismatched counts, spec errors. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "check.h"
#include "data/dataset.h"

#define PNEUMONIA "../shared/data/pneumoniamnist.npz"
#define REFERENCE "tests/data/pneumoniamnist_reference.txt"

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
    static char buf[16][256];
    static int next;
    char *p = buf[next++ % 16];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static int has(const char *needle)
{
    return strstr(gf_last_error(), needle) != NULL;
}

/* A .npy file in memory (format 1.0, or 2.0 when v2): header dict `dict`
 * padded so the data starts at a multiple of 64, then len bytes of data. */
typedef struct {
    unsigned char *p;
    size_t len;
} blob;

static blob npy(const char *dict, const void *data, size_t len, int v2)
{
    size_t pre = v2 ? 12 : 10, dl = strlen(dict);
    size_t total_hdr = (pre + dl + 1 + 63) / 64 * 64;
    size_t hlen = total_hdr - pre;
    blob b = { malloc(total_hdr + len + 1), total_hdr + len };
    memcpy(b.p, "\x93NUMPY", 6);
    b.p[6] = v2 ? 2 : 1;
    b.p[7] = 0;
    b.p[8] = (unsigned char)hlen;
    b.p[9] = (unsigned char)(hlen >> 8);
    if (v2) { b.p[10] = 0; b.p[11] = 0; }
    memcpy(b.p + pre, dict, dl);
    memset(b.p + pre + dl, ' ', hlen - dl - 1);
    b.p[total_hdr - 1] = '\n';
    if (len) memcpy(b.p + total_hdr, data, len);
    return b;
}

/* Writes an archive of named members (the blobs are freed); deflate or store. */
static const char *write_npz(const char *name, int deflate, int count, const char *const *members, blob *blobs)
{
    const char *path = tmp_path(name);
    int err = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &err);
    if (!z) { fprintf(stderr, "zip_open %s failed (%d)\n", path, err); exit(2); }
    for (int i = 0; i < count; i++) {
        zip_source_t *s = zip_source_buffer(z, blobs[i].p, blobs[i].len, 1);   /* libzip frees it */
        zip_int64_t idx = s ? zip_file_add(z, members[i], s, ZIP_FL_OVERWRITE) : -1;
        if (idx < 0 || zip_set_file_compression(z, (zip_uint64_t)idx, deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0)) {
            fprintf(stderr, "zip add %s failed: %s\n", members[i], zip_strerror(z)); exit(2);
        }
    }
    if (zip_close(z)) { fprintf(stderr, "zip_close failed: %s\n", zip_strerror(z)); exit(2); }
    return path;
}

static const char *write_raw(const char *name, const void *p, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(p, 1, len, f) != len)) { perror(path); exit(2); }
    fclose(f);
    return path;
}

/* A pair images/labels: images (2, 3, 4) uint8 i*12+k*7 % 256, labels (2,) uint8 {1, 0}. */
static const char *write_pair(const char *name, const char *img_dict, const void *img, size_t img_len,
                              const char *lab_dict, const void *lab, size_t lab_len, int deflate)
{
    const char *members[2] = { "images.npy", "labels.npy" };
    blob b[2] = { npy(img_dict, img, img_len, 0), npy(lab_dict, lab, lab_len, 0) };
    return write_npz(name, deflate, 2, members, b);
}

/* Rewrites the uncompressed size of member `name` in its local header and
 * its central directory entry (a lying archive); returns how many it patched. */
static int zip_patch_size(const char *path, const char *name, uint32_t size)
{
    FILE *f = fopen(path, "r+b");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    unsigned char *b = malloc((size_t)len);
    fseek(f, 0, SEEK_SET);
    if (fread(b, 1, (size_t)len, f) != (size_t)len) { fclose(f); free(b); return 0; }
    size_t nl = strlen(name);
    int patched = 0;
    for (long i = 0; i + 46 + (long)nl <= len; i++) {
        int local = !memcmp(b + i, "PK\x03\x04", 4) && !memcmp(b + i + 30, name, nl);
        int central = !memcmp(b + i, "PK\x01\x02", 4) && !memcmp(b + i + 46, name, nl);
        if (!local && !central) continue;
        long at = i + (local ? 22 : 24);
        for (int k = 0; k < 4; k++) b[at + k] = (unsigned char)(size >> (8 * k));
        patched++;
    }
    fseek(f, 0, SEEK_SET);
    fwrite(b, 1, (size_t)len, f);
    fclose(f);
    free(b);
    return patched;
}

/* ---- PneumoniaMNIST against NumPy --------------------------------------- */

static const gf_dataset *split_of(const char *s, const gf_dataset *tr, const gf_dataset *va, const gf_dataset *te)
{
    return !strcmp(s, "train") ? tr : !strcmp(s, "val") ? va : te;
}

static void test_pneumonia(void)
{
    gf_dataset tr, te, va, va2, tr2, te2;
    CHECK(gf_dataset_open("npz:" PNEUMONIA, &tr, &te) == GF_OK);
    CHECK(gf_dataset_open("npz:" PNEUMONIA ",split=val", &va, &va2) == GF_OK);
    /* the default is the MedMNIST layout: train_* / test_*; split=S names one pair */
    CHECK(gf_dataset_open("npz:" PNEUMONIA ",images=test_images,labels=test_labels", &te2, &tr2) == GF_OK);
    if (!tr.x || !te.x || !va.x || !te2.x) { fprintf(stderr, "%s\n", gf_last_error()); exit(1); }
    CHECK(te2.n == te.n && !memcmp(te2.x, te.x, (size_t)(te.n * te.dim) * sizeof(float)));
    CHECK(tr2.n == 0 && tr2.x == NULL && tr2.dim == te.dim);   /* one pair: a training split, no test split */
    CHECK(va2.n == 0 && va2.x == NULL && va2.dim == va.dim && va2.num_classes == 2);
    CHECK(tr.num_classes == 2 && te.num_classes == 2 && va.num_classes == 2);
    CHECK(tr.c == 1 && tr.h == 28 && tr.w == 28 && tr.dim == 784);

    FILE *f = fopen(REFERENCE, "r");
    CHECK(f != NULL);
    if (!f) return;
    char line[256], s[16];
    int lines = 0;
    while (fgets(line, sizeof line, f)) {
        long long a, b, c, d;
        if (line[0] == '#') continue;
        lines++;
        if (sscanf(line, "shape %15s %lld %lld %lld", s, &a, &b, &c) == 4) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            CHECK_MSG(x->n == a && x->h == b && x->w == c, "%s", line);
        } else if (sscanf(line, "sum %15s %lld", s, &a) == 2) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            long long sum = 0;
            for (int64_t i = 0; i < x->n * x->dim; i++) sum += (long long)(x->x[i] * 255.0f + 0.5f);
            CHECK_MSG(sum == a, "%s: got %lld", line, sum);
        } else if (sscanf(line, "rowsum %15s %lld %lld", s, &a, &b) == 3) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            long long sum = 0;
            for (int64_t k = 0; k < x->dim; k++) sum += (long long)(x->x[a * x->dim + k] * 255.0f + 0.5f);
            CHECK_MSG(sum == b, "%s: got %lld", line, sum);
        } else if (sscanf(line, "pixel %15s %lld %lld %lld %lld", s, &a, &b, &c, &d) == 5) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            CHECK_MSG((long long)(x->x[a * x->dim + b * x->w + c] * 255.0f + 0.5f) == d, "%s", line);
        } else if (sscanf(line, "labels %15s %lld %lld", s, &a, &b) == 3) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            long long n0 = 0, n1 = 0;
            for (int64_t i = 0; i < x->n; i++) { n0 += x->y[i] == 0; n1 += x->y[i] == 1; }
            CHECK_MSG(n0 == a && n1 == b, "%s: got %lld %lld", line, n0, n1);
        } else if (sscanf(line, "label %15s %lld %lld", s, &a, &b) == 3) {
            const gf_dataset *x = split_of(s, &tr, &va, &te);
            CHECK_MSG(x->y[a] == b, "%s", line);
        } else {
            CHECK_MSG(0, "unknown reference line: %s", line);
        }
    }
    fclose(f);
    CHECK(lines == 3 * 19);
    gf_dataset_free(&tr); gf_dataset_free(&te); gf_dataset_free(&va); gf_dataset_free(&va2);
    gf_dataset_free(&tr2); gf_dataset_free(&te2);
}

/* ---- small archives, every type ----------------------------------------- */

static void test_types(void)
{
    unsigned char img[24], lab[2] = { 1, 0 };
    for (int i = 0; i < 24; i++) img[i] = (unsigned char)(i * 7 + 3);
    gf_dataset d;
    for (int deflate = 0; deflate < 2; deflate++) {
        const char *p = write_pair(deflate ? "u8d.npz" : "u8s.npz",
                                   "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", img, 24,
                                   "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", lab, 2, deflate);
        CHECK(gf_npz_load(p, "images", "labels", NULL, &d) == GF_OK);
        CHECK(d.n == 2 && d.c == 1 && d.h == 3 && d.w == 4 && d.dim == 12 && d.num_classes == 2);
        CHECK(d.y[0] == 1 && d.y[1] == 0);
        CHECK((int)(d.x[13] * 255.0f + 0.5f) == 13 * 7 + 3 && (int)(d.x[23] * 255.0f + 0.5f) == 23 * 7 + 3);
        CHECK(d.x[0] >= 0.0f && d.x[23] <= 1.0f && d.x[0] < d.x[1]);
        gf_dataset_free(&d);
    }

    /* channels last (2, 2, 3, 3) float32 -> (c, h, w); labels (n, 1) int64, little- and big-endian */
    float fx[36];
    for (int i = 0; i < 36; i++) fx[i] = (float)i * 0.5f - 3.0f;
    int64_t l64[2] = { 4, 2 };
    const char *p = write_pair("f4.npz", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 3, 3), }", fx,
                               sizeof fx, "{\"descr\": \"<i8\", \"fortran_order\": False, \"shape\": (2, 1)}", l64,
                               sizeof l64, 1);
    CHECK(gf_npz_load(p, "images", "labels", NULL, &d) == GF_OK);
    CHECK(d.n == 2 && d.c == 3 && d.h == 2 && d.w == 3 && d.dim == 18 && d.num_classes == 5);
    CHECK(d.y[0] == 4 && d.y[1] == 2);
    /* sample 1, channel k, pixel (r, c) comes from fx[18 + (r*3 + c)*3 + k] */
    int ok = 1;
    for (int k = 0; k < 3; k++)
        for (int q = 0; q < 6; q++)
            ok &= d.x[18 + k * 6 + q] == fx[18 + q * 3 + k] && d.x[k * 6 + q] == fx[q * 3 + k];
    CHECK(ok);
    gf_dataset_free(&d);

    /* big-endian float64 tabular (3, 2), big-endian int16 labels, format 2.0 */
    unsigned char be[48], bl[6];
    double dv[6] = { 1.5, -2.25, 1e-3, 7, 0, 123456.5 };
    for (int i = 0; i < 6; i++) {
        uint64_t u; memcpy(&u, &dv[i], 8);
        for (int k = 0; k < 8; k++) be[i * 8 + k] = (unsigned char)(u >> (56 - 8 * k));
    }
    int16_t lv[3] = { 0, 300, 2 };
    for (int i = 0; i < 3; i++) { bl[2 * i] = (unsigned char)((uint16_t)lv[i] >> 8); bl[2 * i + 1] = (unsigned char)lv[i]; }
    const char *members[2] = { "x.npy", "y.npy" };
    blob b[2] = { npy("{'descr': '>f8', 'fortran_order': False, 'shape': (3, 2), }", be, 48, 1),
                  npy("{'descr': '>i2', 'fortran_order': False, 'shape': (3,), }", bl, 6, 1) };
    p = write_npz("be.npz", 1, 2, members, b);
    CHECK(gf_npz_load(p, "x", "y", NULL, &d) == GF_OK);
    CHECK(d.n == 3 && d.c == 1 && d.h == 1 && d.w == 2 && d.num_classes == 301);
    CHECK(d.x[1] == -2.25f && d.x[2] == 1e-3f && d.x[5] == 123456.5f && d.y[1] == 300);
    gf_dataset_free(&d);

    /* bool images, int8/uint32 labels, and a .npy pair */
    unsigned char bimg[4] = { 1, 0, 0, 1 };
    uint32_t u32[2] = { 3, 1 };
    blob bi = npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", bimg, 4, 0);
    blob bu = npy("{'descr': '<u4', 'fortran_order': False, 'shape': (2,), }", u32, 8, 0);
    const char *ip = write_raw("img.npy", bi.p, bi.len), *lp = write_raw("lab.npy", bu.p, bu.len);
    free(bi.p); free(bu.p);
    CHECK(gf_npy_load(ip, lp, NULL, &d) == GF_OK);
    CHECK(d.n == 2 && d.dim == 2 && d.x[0] == 1.0f && d.x[1] == 0.0f && d.x[3] == 1.0f && d.y[0] == 3 && d.num_classes == 4);
    gf_dataset_free(&d);
}

/* ---- bad input ----------------------------------------------------------- */

/* The load fails with status want, its message names path and needle, and
 * the output is empty. */
static void expect_fail(const char *path, const char *images, const char *labels, const gf_data_limits *lim,
                        gf_status want, const char *needle)
{
    gf_dataset d;
    gf_status st = gf_npz_load(path, images, labels, lim, &d);
    CHECK_MSG(st == want, "%s: status %d, want %d (%s)", needle, st, want, gf_last_error());
    CHECK_MSG(has(path) && has(needle), "message \"%s\" lacks \"%s\"", gf_last_error(), needle);
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
}

static void test_bad(void)
{
    unsigned char img[64] = { 0 }, lab[2] = { 1, 0 };   /* img: room for the largest case */
    const char *lab_ok = "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }";
    const char *img_ok = "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }";

    /* truncated archive: the first half of PneumoniaMNIST */
    FILE *f = fopen(PNEUMONIA, "rb");
    CHECK(f != NULL);
    if (f) {
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        const char *p = write_raw("trunc.npz", buf, n);
        gf_dataset tr, te;
        char spec[300];
        snprintf(spec, sizeof spec, "npz:%s", p);
        CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has(p) && has("not a readable .npz"));
        CHECK(tr.x == NULL && te.x == NULL);
    }
    expect_fail(write_raw("text.npz", "hello, world\n", 13), "images", "labels", NULL, GF_ERR_FORMAT,
                "not a readable .npz");

    /* a truncated member inside a valid archive (stored, so the zip is intact) */
    expect_fail(write_pair("short.npz", img_ok, img, 20, lab_ok, lab, 2, 0), "images", "labels", NULL,
                GF_ERR_FORMAT, "array 'images': truncated: the header's shape declares 24 bytes of data, the array holds 20");
    /* lying shape: more data than declared */
    expect_fail(write_pair("long.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3), }", img, 24,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT,
                "array 'images': more data than the header's shape declares (18 bytes)");
    /* wrong dtypes: complex images (a marker in the descr must not be echoed), float labels */
    expect_fail(write_pair("c8.npz", "{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", img, 48,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "dtype is complex numbers");
    expect_fail(write_pair("zq.npz", "{'descr': '<Q7', 'fortran_order': False, 'shape': (2,), }", img, 14,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "not supported");
    CHECK(!has("<Q7"));                          /* (not "Q7": the random temp folder may hold it) */
    float fl[2] = { 1, 0 };
    expect_fail(write_pair("fl.npz", img_ok, img, 24, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                           fl, 8, 1), "images", "labels", NULL, GF_ERR_FORMAT,
                "array 'labels': labels must be integers (class ids), this array holds float32");
    expect_fail(write_pair("st.npz", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", img, 8,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "structured dtype");
    /* Fortran order */
    expect_fail(write_pair("fo.npz", "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3, 4), }", img, 24,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "fortran_order is True");
    /* malformed dicts: an unknown key (not echoed), a missing key, text after the dict */
    expect_fail(write_pair("uk.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), 'zzmarker': 1}",
                           img, 24, lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "a key other than");
    CHECK(!has("zzmarker"));
    expect_fail(write_pair("nk.npz", "{'descr': '|u1', 'shape': (2, 3, 4), }", img, 24, lab_ok, lab, 2, 1),
                "images", "labels", NULL, GF_ERR_FORMAT, "no 'fortran_order' key");
    expect_fail(write_pair("ta.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), } xx", img, 24,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "text after the dict");
    expect_fail(write_pair("sh.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, -3, 4), }", img, 24,
                           lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "non-negative integers");
    /* missing key, mismatched counts, multi-label, negative label */
    const char *ok = write_pair("ok.npz", img_ok, img, 24, lab_ok, lab, 2, 1);
    expect_fail(ok, "train_images", "labels", NULL, GF_ERR_ARG, "no array 'train_images'");
    expect_fail(write_pair("cnt.npz", img_ok, img, 24, "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }",
                           lab, 1, 1), "images", "labels", NULL, GF_ERR_MISMATCH,
                "array 'images' holds 2 samples but array 'labels' holds 1 labels");
    expect_fail(write_pair("ml.npz", img_ok, img, 24, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }",
                           img, 4, 1), "images", "labels", NULL, GF_ERR_FORMAT, "multi-label");
    int8_t neg[2] = { 0, -1 };
    expect_fail(write_pair("neg.npz", img_ok, img, 24, "{'descr': '|i1', 'fortran_order': False, 'shape': (2,), }",
                           neg, 2, 1), "images", "labels", NULL, GF_ERR_FORMAT, "sample 1: label is not a class id");
    float nan_img[6] = { 0, 1, 2, 3, 4, NAN };
    expect_fail(write_pair("nan.npz", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", nan_img,
                           sizeof nan_img, lab_ok, lab, 2, 1), "images", "labels", NULL, GF_ERR_NUMERIC,
                "sample 1, feature 2 is missing (NaN)");

    /* a zip bomb entry: 8 MiB of zeros deflate to a few KiB; under a 1 MiB cap
     * it is refused from its declared size, and also when its .npy header
     * lies small (the read stops one byte past the declared payload) */
    size_t big = 8u << 20;
    unsigned char *zeros = calloc(1, big);
    gf_data_limits lim = gf_data_limits_default();
    lim.max_inflated_bytes = 1 << 20;
    const char *bomb = write_pair("bomb.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (8, 1024, 1024), }",
                                  zeros, big, lab_ok, lab, 2, 1);
    expect_fail(bomb, "images", "labels", &lim, GF_ERR_FORMAT, "decompressed size limit of 1048576 bytes");
    /* a bomb whose zip entry and .npy header both declare 24 bytes of data:
     * reading stops one byte past them */
    const char *bomb2 = write_pair("bomb2.npz", img_ok, zeros, big, lab_ok, lab, 2, 1);
    CHECK(zip_patch_size(bomb2, "images.npy", 128 + 24) == 2);
    expect_fail(bomb2, "images", "labels", &lim, GF_ERR_FORMAT,
                "array 'images': more data than the header's shape declares (24 bytes)");
    /* the same archive loads under the default cap, so the limit is what refused it */
    gf_dataset d;
    CHECK(gf_npz_load(bomb, "images", "labels", NULL, &d) == GF_ERR_MISMATCH);   /* 8 images, 2 labels */
    free(zeros);
    /* the row limit */
    lim = gf_data_limits_default();
    lim.max_rows = 1;
    expect_fail(ok, "images", "labels", &lim, GF_ERR_FORMAT, "more than the row limit of 1");
    /* not a regular file */
    CHECK(gf_npz_load("/dev/zero", "a", "b", NULL, &d) == GF_ERR_IO && has("not a regular file"));
    CHECK(gf_npz_load(tmpdir, "a", "b", NULL, &d) == GF_ERR_IO && has("not a regular file"));
}

static void test_spec(void)
{
    gf_dataset tr, te;
    CHECK(gf_dataset_open("npz:", &tr, &te) == GF_ERR_ARG && has("no .npz path"));
    CHECK(gf_dataset_open("npz:x.npz,split=val,images=a,labels=b", &tr, &te) == GF_ERR_ARG && has("not both"));
    CHECK(gf_dataset_open("npz:x.npz,images=a", &tr, &te) == GF_ERR_ARG && has("go together"));
    CHECK(gf_dataset_open("npz:x.npz,split=../x", &tr, &te) == GF_ERR_ARG && has("[A-Za-z0-9_]"));
    CHECK(gf_dataset_open("npz:x.npz,label=y", &tr, &te) == GF_ERR_ARG && has("unknown, repeated or empty option 'label=y'"));
    CHECK(gf_dataset_open("npz:" PNEUMONIA ",split=nosuch", &tr, &te) == GF_ERR_ARG &&
          has("no array 'nosuch_labels'") && has(PNEUMONIA));
    CHECK(tr.x == NULL && te.x == NULL);
    CHECK(gf_dataset_open("npz:/nonexistent/x.npz", &tr, &te) == GF_ERR_IO && has("/nonexistent/x.npz"));
    /* a file without the MedMNIST layout names the key it lacks and how to name others */
    unsigned char img[24] = { 0 }, lab[2] = { 1, 0 };
    const char *p = write_pair("plain.npz", "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 4), }", img, 24,
                               "{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }", lab, 2, 1);
    char spec[300];
    snprintf(spec, sizeof spec, "npz:%s", p);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("no array 'train_labels'") && has("images=KEY"));
    snprintf(spec, sizeof spec, "npz:%s,images=images,labels=labels", p);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_OK && tr.n == 2 && te.n == 0 && tr.y[0] == 1);
    gf_dataset_free(&tr);
    gf_dataset_free(&te);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_npz_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    test_pneumonia();
    test_types();
    test_bad();
    test_spec();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) fprintf(stderr, "cleanup of %s failed\n", tmpdir);
    return check_summary();
}
