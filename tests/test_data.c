/* Tests for src/data: IDX and CSV readers (real Fashion-MNIST, small files
 * written here, every malformed-input case with its message), the readers'
 * limits and refusals (devices, FIFOs, gzip bombs, long lines; no file
 * content in any message), dataset specs, subsets, the epoch shuffle, and
 * the IID / Dirichlet partitioners. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static char tmpdir[64];
static char created[128][256];
static int n_created;

/* tmpdir/name; the string stays valid (and the file is deleted at exit). */
static const char *tmp_path(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    for (int i = 0; i < n_created; i++) if (!strcmp(created[i], path)) return created[i];
    if (n_created == 128) { fprintf(stderr, "too many temp files\n"); exit(2); }
    snprintf(created[n_created], 256, "%s", path);
    return created[n_created++];
}

/* Writes bytes to tmpdir/name, gzipped if gz; returns the path. */
static const char *write_file(const char *name, const void *data, size_t len, int gz)
{
    const char *path = tmp_path(name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (len && gzwrite(f, data, (unsigned)len) != (int)len) { fprintf(stderr, "gzwrite failed\n"); exit(2); }
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f) { perror(path); exit(2); }
        if (len && fwrite(data, 1, len, f) != len) { perror(path); exit(2); }
        fclose(f);
    }
    return path;
}

static const char *write_text(const char *name, const char *text)
{
    return write_file(name, text, strlen(text), 0);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

/* An idx3 image file of n images of rows x cols, pixel (i, j) = (7i + j) % 256.
 * Returns its length; buf must hold 16 + n*rows*cols bytes. */
static size_t make_images(unsigned char *buf, uint32_t magic, int n, int rows, int cols)
{
    put_be32(buf, magic); put_be32(buf + 4, (uint32_t)n);
    put_be32(buf + 8, (uint32_t)rows); put_be32(buf + 12, (uint32_t)cols);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < rows * cols; j++) buf[16 + i * rows * cols + j] = (unsigned char)((7 * i + j) % 256);
    return 16 + (size_t)n * rows * cols;
}

static size_t make_labels(unsigned char *buf, int n, const unsigned char *labels)
{
    put_be32(buf, 0x00000801); put_be32(buf + 4, (uint32_t)n);
    memcpy(buf + 8, labels, (size_t)n);
    return 8 + (size_t)n;
}

static int has(const char *s) { return strstr(gf_last_error(), s) != NULL; }

/* ---- Fashion-MNIST, the real files ---- */

static void test_fashion_mnist(void)
{
    gf_dataset train, test;
    gf_status st = gf_dataset_open("fashion-mnist", &train, &test);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(train.n == 60000 && test.n == 10000);
    CHECK(train.c == 1 && train.h == 28 && train.w == 28 && train.dim == 784);
    CHECK(test.c == 1 && test.h == 28 && test.w == 28 && test.dim == 784);
    CHECK(train.num_classes == 10 && test.num_classes == 10);
    CHECK(train.y[0] == 9);
    int64_t hist[10] = {0}, bad = 0;
    for (int64_t i = 0; i < train.n; i++) {
        if (train.y[i] < 0 || train.y[i] > 9) bad++;
        else hist[train.y[i]]++;
    }
    CHECK(bad == 0);
    for (int c = 0; c < 10; c++) CHECK_MSG(hist[c] == 6000, "class %d: %lld", c, (long long)hist[c]);
    int64_t thist[10] = {0};
    for (int64_t i = 0; i < test.n; i++) if (test.y[i] >= 0 && test.y[i] < 10) thist[test.y[i]]++;
    for (int c = 0; c < 10; c++) CHECK(thist[c] == 1000);

    /* pixels in [0, 1] and equal to a plain re-read of the gz bytes / 255 */
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < train.n * train.dim; i++) {
        if (train.x[i] < lo) lo = train.x[i];
        if (train.x[i] > hi) hi = train.x[i];
    }
    CHECK(lo == 0.0f && hi == 1.0f);
    gzFile f = gzopen(FMNIST "/train-images-idx3-ubyte.gz", "rb");
    CHECK(f != NULL);
    if (f) {
        unsigned char hdr[16], img[784];
        CHECK(gzread(f, hdr, 16) == 16);
        CHECK(hdr[2] == 0x08 && hdr[3] == 0x03);
        CHECK(gzread(f, img, 784) == 784);       /* image 0 */
        int mismatches = 0, nonzero = 0;
        for (int j = 0; j < 784; j++) {
            if (train.x[j] != img[j] * (1.0f / 255.0f)) mismatches++;
            nonzero += img[j] != 0;
        }
        CHECK(mismatches == 0);
        CHECK(nonzero > 100);                    /* a real picture, not blank */
        CHECK(gzseek(f, 16 + (z_off_t)59999 * 784, SEEK_SET) >= 0);
        CHECK(gzread(f, img, 784) == 784);       /* the last image */
        mismatches = 0;
        for (int j = 0; j < 784; j++)
            if (train.x[59999 * 784 + j] != img[j] * (1.0f / 255.0f)) mismatches++;
        CHECK(mismatches == 0);
        gzclose(f);
    }
    f = gzopen(FMNIST "/t10k-labels-idx1-ubyte.gz", "rb");
    CHECK(f != NULL);
    if (f) {
        static unsigned char lab[8 + 10000];
        CHECK(gzread(f, lab, sizeof lab) == (int)sizeof lab);
        int mismatches = 0;
        for (int i = 0; i < 10000; i++) mismatches += test.y[i] != lab[8 + i];
        CHECK(mismatches == 0);
        gzclose(f);
    }
    CHECK(gf_dataset_check_finite(&train, "train") == GF_OK);

    /* idx:DIR on the same directory gives the same data */
    gf_dataset t2, s2;
    st = gf_dataset_open("idx:" FMNIST, &t2, &s2);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(t2.n == train.n && s2.n == test.n);
        CHECK(!memcmp(t2.x, train.x, (size_t)(train.n * train.dim) * sizeof(float)));
        CHECK(!memcmp(s2.y, test.y, (size_t)test.n * sizeof(int32_t)));
        gf_dataset_free(&t2);
        gf_dataset_free(&s2);
    }

    /* Dirichlet on the real labels: alpha 0.1 skews */
    gf_partition p;
    st = gf_partition_dirichlet(&train, 10, 0.1, 3, &p);
    CHECK(st == GF_OK);
    if (!st) {
        int dominated = 0;
        for (int s = 0; s < p.shards; s++) {
            int64_t h[10] = {0}, size = p.offset[s + 1] - p.offset[s];
            for (int64_t i = p.offset[s]; i < p.offset[s + 1]; i++) h[train.y[p.index[i]]]++;
            int64_t a = 0, b = 0;   /* the two largest classes */
            for (int c = 0; c < 10; c++) {
                if (h[c] > a) { b = a; a = h[c]; } else if (h[c] > b) b = h[c];
            }
            if (size > 0 && (double)(a + b) / (double)size > 0.6) dominated++;
        }
        CHECK_MSG(dominated >= 7, "only %d of 10 shards dominated by two classes", dominated);
        gf_partition_free(&p);
    }

    /* subset: copies the chosen samples */
    int64_t idx[3] = {59999, 0, 12345};
    gf_dataset sub;
    CHECK(gf_dataset_subset(&train, idx, 3, &sub) == GF_OK);
    CHECK(sub.n == 3 && sub.dim == 784 && sub.h == 28 && sub.num_classes == 10);
    CHECK(sub.y[1] == 9 && sub.y[0] == train.y[59999] && sub.y[2] == train.y[12345]);
    CHECK(!memcmp(sub.x + 2 * 784, train.x + 12345 * 784, 784 * sizeof(float)));
    gf_dataset_free(&sub);
    CHECK(sub.x == NULL && sub.n == 0);
    int64_t bad_idx[2] = {0, 60000};
    CHECK(gf_dataset_subset(&train, bad_idx, 2, &sub) == GF_ERR_ARG && has("60000"));
    CHECK(sub.x == NULL);

    gf_dataset_free(&train);
    gf_dataset_free(&test);
}

/* ---- IDX files written here ---- */

static void test_idx_small(void)
{
    static unsigned char img[16 + 5 * 3 * 4], lab[8 + 5], buf[4096];
    const unsigned char labels[5] = {3, 0, 12, 7, 1};
    size_t ni = make_images(img, 0x00000803, 5, 3, 4);
    size_t nl = make_labels(lab, 5, labels);
    gf_dataset d;

    for (int gz = 0; gz < 4; gz++) {      /* raw/raw, gz/raw, raw/gz, gz/gz */
        const char *ip = write_file(gz & 1 ? "i.gz" : "i.raw", img, ni, gz & 1);
        const char *lp = write_file(gz & 2 ? "l.gz" : "l.raw", lab, nl, gz & 2);
        gf_status st = gf_idx_load(ip, lp, &d);
        CHECK_MSG(st == GF_OK, "gz=%d: %s", gz, gf_last_error());
        if (st) continue;
        CHECK(d.n == 5 && d.c == 1 && d.h == 3 && d.w == 4 && d.dim == 12);
        CHECK(d.num_classes == 13);          /* max label 12 + 1 */
        CHECK(d.y[2] == 12 && d.y[4] == 1);
        CHECK(d.x[0] == 0.0f);
        CHECK(d.x[4 * 12 + 11] == (float)((7 * 4 + 11) % 256) / 255.0f);
        gf_dataset_free(&d);
    }
    /* small labels: num_classes is at least 10 */
    const unsigned char small[5] = {0, 1, 2, 1, 0};
    size_t ns = make_labels(buf, 5, small);
    const char *ip = write_file("i.raw", img, ni, 0);
    const char *lp = write_file("small.raw", buf, ns, 0);
    CHECK(gf_idx_load(ip, lp, &d) == GF_OK && d.num_classes == 10);
    gf_dataset_free(&d);

    /* idx:DIR mixing raw and gzipped files; gzipped name used when raw absent */
    write_file("train-images-idx3-ubyte", img, ni, 0);
    write_file("train-labels-idx1-ubyte.gz", lab, nl, 1);
    write_file("t10k-images-idx3-ubyte.gz", img, ni, 1);
    write_file("t10k-labels-idx1-ubyte", buf, ns, 0);
    char spec[128];
    snprintf(spec, sizeof spec, "idx:%s", tmpdir);
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 5 && te.n == 5 && tr.y[2] == 12 && te.y[2] == 2);
        CHECK(tr.num_classes == 13 && te.num_classes == 13);   /* shared label space */
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
    }
    unlink(tmp_path("t10k-labels-idx1-ubyte"));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK(st == GF_ERR_IO && has("t10k-labels-idx1-ubyte") && has(".gz"));
    CHECK(tr.x == NULL && te.x == NULL && tr.n == 0);
}

static void test_idx_bad(void)
{
    static unsigned char img[16 + 4 * 2 * 2], lab[8 + 4], tmp[256];
    const unsigned char labels[4] = {1, 2, 3, 4};
    size_t ni = make_images(img, 0x00000803, 4, 2, 2);
    size_t nl = make_labels(lab, 4, labels);
    const char *ip = write_file("img", img, ni, 0);
    const char *lp = write_file("lab", lab, nl, 0);
    gf_dataset d;
    CHECK(gf_idx_load(ip, lp, &d) == GF_OK);
    gf_dataset_free(&d);

    /* missing file: names the path and the reason */
    const char *missing = tmp_path("no-such-file.gz");
    CHECK(gf_idx_load(missing, lp, &d) == GF_ERR_IO && has("no-such-file.gz") && has("No such file"));
    CHECK(d.x == NULL && d.y == NULL);
    CHECK(gf_idx_load(ip, missing, &d) == GF_ERR_IO && has("no-such-file.gz"));
    /* a directory is not a file */
    CHECK(gf_idx_load(tmpdir, lp, &d) == GF_ERR_IO);

    /* wrong magic */
    memcpy(tmp, img, ni);
    put_be32(tmp, 0x12345678);
    const char *bad = write_file("badmagic.gz", tmp, ni, 1);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("bad magic number")
          && has("0x00000803") && has("badmagic.gz") && !has("12345678"));
    /* images and labels swapped */
    CHECK(gf_idx_load(lp, ip, &d) == GF_ERR_FORMAT && has("bad magic") && has("label file"));
    /* int32 images (type byte 0x0C) are not ubyte */
    put_be32(tmp, 0x00000C03);
    bad = write_file("int32", tmp, ni, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("bad magic") && has("element type")
          && !has("0c03"));

    /* truncated pixel data, raw and gzipped */
    bad = write_file("trunc", img, ni - 3, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("truncated") && has("trunc"));
    CHECK(d.x == NULL);
    bad = write_file("trunc.gz", img, ni - 1, 1);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("truncated"));
    /* truncated header */
    bad = write_file("hdr", img, 10, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("truncated") && has("header"));
    bad = write_file("empty", img, 0, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("truncated"));
    /* truncated labels */
    bad = write_file("labtrunc", lab, nl - 1, 0);
    CHECK(gf_idx_load(ip, bad, &d) == GF_ERR_FORMAT && has("truncated") && has("4 labels"));
    /* a cut-off gzip stream (the compressed bytes themselves truncated) */
    {
        static unsigned char big[16 + 100 * 28 * 28];
        size_t nb = make_images(big, 0x00000803, 100, 28, 28);
        const char *full = write_file("full.gz", big, nb, 1);
        FILE *f = fopen(full, "rb");
        static unsigned char gzbytes[sizeof big + 1024];
        size_t len = fread(gzbytes, 1, sizeof gzbytes, f);
        fclose(f);
        bad = write_file("cut.gz", gzbytes, len / 2, 0);
        unsigned char l100[100] = {0};
        static unsigned char lb[108];
        const char *lp100 = write_file("lab100", lb, make_labels(lb, 100, l100), 0);
        CHECK(gf_idx_load(full, lp100, &d) == GF_OK);
        gf_dataset_free(&d);
        CHECK(gf_idx_load(bad, lp100, &d) == GF_ERR_FORMAT && has("truncated gzip stream (unexpected end of file)") && !has("<fd:"));
        /* corrupt compressed bytes */
        gzbytes[len / 2] ^= 0xFF; gzbytes[len / 2 + 1] ^= 0x55; gzbytes[len / 2 + 7] ^= 0xAA;
        bad = write_file("corrupt.gz", gzbytes, len, 0);
        gf_status st = gf_idx_load(bad, lp100, &d);
        CHECK_MSG(st == GF_ERR_FORMAT, "%d %s", st, gf_last_error());
    }
    /* trailing garbage */
    memcpy(tmp, img, ni);
    tmp[ni] = 0x42;
    bad = write_file("trailing", tmp, ni + 1, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("trailing"));

    /* image count != label count */
    static unsigned char img5[16 + 5 * 4];
    bad = write_file("img5", img5, make_images(img5, 0x00000803, 5, 2, 2), 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_MISMATCH && has("5 images") && has("4 labels"));

    /* insane dims: zero rows, huge images, zero count, lying huge count */
    memcpy(tmp, img, ni);
    put_be32(tmp + 8, 0);
    bad = write_file("rows0", tmp, ni, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("image size"));
    put_be32(tmp + 8, 100000); put_be32(tmp + 12, 100000);
    bad = write_file("huge", tmp, ni, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("image size"));
    put_be32(tmp + 8, 0xFFFFFFFFu); put_be32(tmp + 12, 0xFFFFFFFFu);   /* product overflows int64 */
    bad = write_file("huge2", tmp, ni, 0);
    CHECK(gf_idx_load(bad, lp, &d) == GF_ERR_FORMAT && has("image size"));
    unsigned char lab0[8], none[1] = {0};
    bad = write_file("lab0", lab0, make_labels(lab0, 0, none), 0);
    CHECK(gf_idx_load(ip, bad, &d) == GF_ERR_FORMAT && has("no labels"));
    memcpy(tmp, lab, nl);
    put_be32(tmp + 4, 0xFFFFFFFFu);     /* claims 4 billion labels, holds 4 */
    bad = write_file("labhuge", tmp, nl, 0);
    CHECK(gf_idx_load(ip, bad, &d) == GF_ERR_FORMAT && has("row limit") && has("4294967295"));
    put_be32(tmp + 4, 5);               /* claims 5 labels, holds 4 */
    bad = write_file("lab5", tmp, nl, 0);
    CHECK(gf_idx_load(ip, bad, &d) == GF_ERR_FORMAT && has("truncated") && has("5 labels"));
}

/* ---- CSV ---- */

static void test_csv(void)
{
    gf_dataset d;
    const char *p = write_text("a.csv", "f1,label,f2\n1.5,2,-3\n 4 , 0 ,5e-1\n7,1,8\n");
    gf_status st = gf_csv_load(p, "label", &d);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(d.n == 3 && d.dim == 2 && d.c == 1 && d.h == 1 && d.w == 2);
        CHECK(d.num_classes == 3);
        CHECK(d.y[0] == 2 && d.y[1] == 0 && d.y[2] == 1);
        CHECK(d.x[0] == 1.5f && d.x[1] == -3.0f && d.x[2] == 4.0f && d.x[3] == 0.5f);
        CHECK(d.x[4] == 7.0f && d.x[5] == 8.0f);
        gf_dataset_free(&d);
    }
    /* CRLF, no trailing newline, blank lines, a BOM, another label name */
    p = write_text("crlf.csv", "\xEF\xBB\xBFy,a\r\n1,2\r\n\r\n3,4");
    st = gf_csv_load(p, "y", &d);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(d.n == 2 && d.dim == 1 && d.y[1] == 3 && d.x[1] == 4.0f && d.num_classes == 4);
        gf_dataset_free(&d);
    }
    /* a line far longer than 4096 characters: 3000 columns */
    {
        int cols = 3000;
        size_t cap = (size_t)cols * 16 + 64;
        char *text = malloc(cap);
        size_t used = (size_t)snprintf(text, cap, "label");
        for (int i = 0; i < cols; i++) used += (size_t)snprintf(text + used, cap - used, ",c%d", i);
        used += (size_t)snprintf(text + used, cap - used, "\n5");
        for (int i = 0; i < cols; i++) used += (size_t)snprintf(text + used, cap - used, ",%d.25", i);
        snprintf(text + used, cap - used, "\n");
        CHECK(used > 4096 * 3);
        p = write_text("wide.csv", text);
        free(text);
        st = gf_csv_load(p, "label", &d);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        if (!st) {
            CHECK(d.n == 1 && d.dim == 3000 && d.y[0] == 5 && d.x[2999] == 2999.25f);
            gf_dataset_free(&d);
        }
    }

    /* errors */
    /* errors name the line and the 1-based column, never the cell's text */
    p = write_text("nonnum.csv", "label,x,y\n0,1,2\n1,abc,3\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("nonnum.csv: line 3, column 2: not a number")
          && !has("abc"));
    CHECK(d.x == NULL && d.y == NULL && d.n == 0);
    p = write_text("partial.csv", "label,x\n0,1.5kgram\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 2, column 2: not a number") && !has("kgram"));
    p = write_text("quoted.csv", "label,x\n0,\"1\"\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 2, column 2") && has("unquoted"));
    /* missing values: NaN in x, never an error or a zero */
    p = write_text("miss.csv", "label,x,z,w\n0,,1,2\n1,?,NA,3\n0,4, NaN ,?\n1,5,6,nan\n2,N/A,null,7\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_OK && d.n == 5 && d.dim == 3);
    if (d.n == 5) {
        const float want[15] = { NAN, 1, 2,  NAN, NAN, 3,  4, NAN, NAN,  5, 6, NAN,  NAN, NAN, 7 };
        int same = 1;
        for (int i = 0; i < 15; i++) same &= isnan(want[i]) ? isnan(d.x[i]) : d.x[i] == want[i];
        CHECK(same);
        CHECK(d.y[0] == 0 && d.y[1] == 1 && d.y[4] == 2);
        CHECK(gf_dataset_check_finite(&d, "train") == GF_ERR_NUMERIC && has("sample 0, feature 0 is missing")
              && has("impute"));
    }
    gf_dataset_free(&d);
    p = write_text("allmissing.csv", "label,x,z\n0,1,\n1,2,?\n0,3,NA\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("allmissing.csv: column 3: every value is missing")
          && d.x == NULL);
    p = write_text("gf_SECRETHDR.csv", "label,gf_SECRETNAME\n0,?\n");   /* the column by number only */
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("column 2: every value") && !has("SECRETNAME"));
    p = write_text("nolabelval.csv", "x,label\n1,0\n2,?\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 3, column 2 (the label column): missing label"));
    p = write_text("nanword.csv", "label,x\n0,1\n0,NAN(1)\n");
    CHECK(gf_csv_load(p, "label", &d) != GF_OK && has("line 3, column 2") && !has("NAN(1)"));
    p = write_text("inf.csv", "label,x\n0,1e300\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_NUMERIC && has("line 2, column 2") && has("finite")
          && !has("1e300"));
    p = write_text("ragged.csv", "label,x,y\n0,1,2\n1,2,3\n1,2\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("ragged.csv: line 4") && has("ragged")
          && has("2 cells") && has("expected 3"));
    p = write_text("ragged2.csv", "label,x\n0,1,2\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 2") && has("3 cells"));
    p = write_text("nolabel.csv", "alpha,beta,gamma\n0,1,2\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_ARG && has("no label column named 'label'")
          && has("header's 3 columns") && !has("alpha") && !has("beta") && !has("gamma"));
    p = write_text("empty.csv", "");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("empty"));
    p = write_text("header.csv", "label,x\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("no data rows"));
    /* values long enough that the random part of the file's path cannot hold them */
    p = write_text("neg.csv", "label,x\n-31337,0\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 2, column 1 (the label column)")
          && has("class id") && !has("31337"));
    p = write_text("frac.csv", "x,label\n0,1.5\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("line 2, column 2") && has("class id")
          && !has("1.5"));
    p = write_text("onlylabel.csv", "label\n1\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("no feature"));
    p = write_text("dup.csv", "label,x,label\n1,2,3\n");
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("twice"));
    CHECK(gf_csv_load(tmp_path("missing.csv"), "label", &d) == GF_ERR_IO && has("missing.csv"));
    CHECK(d.x == NULL);
    p = write_file("nul.csv", "label,x\n0,1\0\n", 13, 0);
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("NUL"));
}

static void test_csv_spec(void)
{
    /* 25 rows, no test= nor test_fraction=: no test split, every row trains */
    char text[1024];
    size_t used = (size_t)snprintf(text, sizeof text, "x,cls\n");
    for (int i = 0; i < 25; i++) used += (size_t)snprintf(text + used, sizeof text - used, "%d,%d\n", i, i % 3);
    const char *p = write_text("split.csv", text);
    char spec[512];
    snprintf(spec, sizeof spec, "csv:%s,label=cls", p);
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 25 && te.n == 0 && tr.dim == 1 && te.dim == 1 && te.x == NULL);
        CHECK(tr.x[24] == 24.0f && tr.num_classes == 3 && te.num_classes == 3);
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* test_fraction=0.2: round(0.2 * 25) = 5 rows drawn, both halves in file
     * order, together every row once; the same draw for the same row count */
    for (int rep = 0; rep < 2; rep++) {
        snprintf(spec, sizeof spec, "csv:%s,label=cls,test_fraction=0.2", p);
        st = gf_dataset_open(spec, &tr, &te);
        CHECK_MSG(st == GF_OK, "%s", gf_last_error());
        if (st) break;
        CHECK(tr.n == 20 && te.n == 5 && te.dim == 1);
        int seen[25] = {0}, ordered = 1;
        for (int64_t i = 0; i < tr.n; i++) { seen[(int)tr.x[i]]++; if (i && tr.x[i] <= tr.x[i - 1]) ordered = 0; }
        for (int64_t i = 0; i < te.n; i++) { seen[(int)te.x[i]]++; if (i && te.x[i] <= te.x[i - 1]) ordered = 0; }
        int once = 1, last_five = 1;
        for (int i = 0; i < 25; i++) once &= seen[i] == 1;
        for (int64_t i = 0; i < te.n; i++) last_five &= te.x[i] >= 20.0f;
        for (int64_t i = 0; i < te.n; i++) CHECK(te.y[i] == (int)te.x[i] % 3);   /* labels travel with rows */
        CHECK(once && ordered && !last_five);     /* a draw, not the tail of the file */
        static float first[5];
        if (rep == 0) for (int i = 0; i < 5; i++) first[i] = te.x[i];
        else for (int i = 0; i < 5; i++) CHECK(first[i] == te.x[i]);
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    /* bounds: at least one row each side; bad fractions and both options refused */
    snprintf(spec, sizeof spec, "csv:%s,label=cls,test_fraction=0.001", p);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_OK && tr.n == 24 && te.n == 1);
    gf_dataset_free(&tr); gf_dataset_free(&te);
    snprintf(spec, sizeof spec, "csv:%s,label=cls,test_fraction=0.999", p);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_OK && tr.n == 1 && te.n == 24);
    gf_dataset_free(&tr); gf_dataset_free(&te);
    const char *bad[] = { "0", "1", "-0.1", "0.5x", "nan", "" };
    for (int i = 0; i < 6; i++) {
        snprintf(spec, sizeof spec, "csv:%s,label=cls,test_fraction=%s", p, bad[i]);
        st = gf_dataset_open(spec, &tr, &te);
        CHECK_MSG(st == GF_ERR_ARG && has("test_fraction") && tr.x == NULL, "test_fraction=%s: %d", bad[i], st);
    }
    snprintf(spec, sizeof spec, "csv:%s,label=cls,test=%s,test_fraction=0.5", p, p);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("not both"));
    /* default label column is "label"; test= gives the test set */
    const char *a = write_text("tr.csv", "label,f\n0,1\n1,2\n");
    const char *b = write_text("te.csv", "label,f\n4,9\n");
    snprintf(spec, sizeof spec, "csv:%s,test=%s", a, b);
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 2 && te.n == 1 && te.x[0] == 9.0f);
        CHECK(tr.num_classes == 5 && te.num_classes == 5);
        gf_dataset_free(&tr); gf_dataset_free(&te);
    }
    b = write_text("te3.csv", "label,f,g\n0,1,2\n");
    snprintf(spec, sizeof spec, "csv:%s,test=%s", a, b);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_MISMATCH && tr.x == NULL && te.x == NULL);
    snprintf(spec, sizeof spec, "csv:%s,lable=x", a);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("lable=x"));
    const char *one = write_text("one.csv", "label,f\n0,1\n");
    snprintf(spec, sizeof spec, "csv:%s,test_fraction=0.5", one);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("split"));
    snprintf(spec, sizeof spec, "csv:%s", one);      /* one row and no test split: fine */
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_OK && tr.n == 1 && te.n == 0);
    gf_dataset_free(&tr); gf_dataset_free(&te);

    CHECK(gf_dataset_open("mnist-ish", &tr, &te) == GF_ERR_ARG && has("mnist-ish")
          && has("fashion-mnist") && has("idx:DIR") && has("csv:PATH"));
    CHECK(gf_dataset_open("", &tr, &te) == GF_ERR_ARG);
    CHECK(gf_dataset_open("idx:", &tr, &te) == GF_ERR_ARG);
    CHECK(gf_dataset_open("csv:", &tr, &te) == GF_ERR_ARG);
    CHECK(tr.x == NULL && te.x == NULL);
}

/* ---- limits, special files, no file content in messages ---- */

static long maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Runs fn in a forked child under an alarm (a reader that blocks or loops
 * is killed) and, without ASan, an address-space limit of the child's
 * current size + 512 MiB (a reader that grows without bound gets ENOMEM
 * instead of taking the host down). The child also checks that its peak
 * resident size grew by less than 64 MiB. Returns 1 when every check in the
 * child passed. */
static int in_child(const char *what, void (*fn)(void))
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 0; }
    if (pid == 0) {
        alarm(60);
#if !defined(__SANITIZE_ADDRESS__)
        long pages = 0, page = sysconf(_SC_PAGESIZE);
        FILE *f = fopen("/proc/self/statm", "r");
        if (f) { if (fscanf(f, "%ld", &pages) != 1) pages = 0; fclose(f); }
        if (pages > 0) {
            rlim_t cap = (rlim_t)pages * (rlim_t)page + ((rlim_t)512 << 20);
            struct rlimit rl = { cap, cap };
            setrlimit(RLIMIT_AS, &rl);
        }
#endif
        long before = maxrss_kb();
        check_failures = 0;
        fn();
        long grew = maxrss_kb() - before;
        CHECK_MSG(grew < 64 * 1024, "%s: peak RSS grew by %ld KiB", what, grew);
        fflush(NULL);
        _exit(check_failures ? 1 : 0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) { perror("waitpid"); return 0; }
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: child killed by signal %d\n", what, WTERMSIG(status));
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void special_files(void)
{
    gf_dataset d, tr, te;
    /* /dev/zero: refused before a byte is read */
    CHECK(gf_csv_load("/dev/zero", "y", &d) == GF_ERR_IO && has("/dev/zero")
          && has("not a regular file") && has("character device"));
    CHECK(d.x == NULL && d.n == 0);
    CHECK(gf_dataset_open("csv:/dev/zero,label=y", &tr, &te) == GF_ERR_IO && has("not a regular file"));
    const char *lp = tmp_path("lim-labels");
    CHECK(gf_idx_load("/dev/zero", lp, &d) == GF_ERR_IO || has("not a regular file"));
    CHECK(gf_idx_load(lp, "/dev/zero", &d) == GF_ERR_IO && has("not a regular file"));
    /* a FIFO with no writer: refused, not waited on */
    const char *fifo = tmp_path("fifo.csv");
    unlink(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK(gf_csv_load(fifo, "label", &d) == GF_ERR_IO && has("fifo.csv") && has("not a regular file")
          && has("FIFO"));
    CHECK(gf_idx_load(fifo, fifo, &d) == GF_ERR_IO && has("FIFO"));
    /* a directory */
    CHECK(gf_csv_load(tmpdir, "label", &d) == GF_ERR_IO && has("not a regular file") && has("directory"));
    CHECK(gf_idx_load(tmpdir, tmpdir, &d) == GF_ERR_IO && has("directory"));
    /* a symlink to a regular file is fine */
    const char *real = write_text("real.csv", "label,x\n0,1\n");
    const char *link = tmp_path("link.csv");
    unlink(link);
    CHECK(symlink(real, link) == 0);
    CHECK(gf_csv_load(link, "label", &d) == GF_OK && d.n == 1);
    gf_dataset_free(&d);
}

/* A gzipped idx3 file whose header declares n images of rows x cols,
 * followed by `zeros` zero bytes (a few KiB on disk per MiB declared). */
static const char *write_bomb(const char *name, uint32_t n, uint32_t rows, uint32_t cols, size_t zeros)
{
    const char *path = tmp_path(name);
    gzFile f = gzopen(path, "wb9");
    if (!f) { perror(path); exit(2); }
    unsigned char hdr[16];
    put_be32(hdr, 0x00000803); put_be32(hdr + 4, n); put_be32(hdr + 8, rows); put_be32(hdr + 12, cols);
    if (gzwrite(f, hdr, 16) != 16) { fprintf(stderr, "gzwrite failed\n"); exit(2); }
    static unsigned char zero[1 << 16];
    for (size_t done = 0; done < zeros; ) {
        size_t k = zeros - done < sizeof zero ? zeros - done : sizeof zero;
        if (gzwrite(f, zero, (unsigned)k) != (int)k) { fprintf(stderr, "gzwrite failed\n"); exit(2); }
        done += k;
    }
    gzclose(f);
    return path;
}

static void gzip_bombs(void)
{
    gf_dataset d;
    /* default limits: 200 images of 4096 x 4096 are 3.2 GB of pixels, over
     * the 2 GiB cap; 64 MiB of zeros follow in a file of ~65 KiB */
    static unsigned char lab[8 + 200];
    unsigned char l200[200] = {0};
    const char *lp = write_file("bomb-labels", lab, make_labels(lab, 200, l200), 0);
    const char *bomb = write_bomb("bomb.gz", 200, 4096, 4096, (size_t)64 << 20);
    struct stat sb;
    CHECK(stat(bomb, &sb) == 0 && sb.st_size < (1 << 20));
    CHECK(gf_idx_load(bomb, lp, &d) == GF_ERR_FORMAT && has("bomb.gz") && has("decompressed size limit")
          && has("2147483648"));
    CHECK(d.x == NULL && d.n == 0);
    /* a label file declaring more labels than the row limit */
    unsigned char big[8];
    put_be32(big, 0x00000801); put_be32(big + 4, (uint32_t)GF_DATA_MAX_ROWS + 1);
    const char *lbig = write_file("labels-big.gz", big, 8, 1);
    CHECK(gf_idx_load(bomb, lbig, &d) == GF_ERR_FORMAT && has("labels-big.gz") && has("row limit"));

    /* smaller limits: 16 images of 512 x 512 (4 MiB) over a 1 MiB cap */
    gf_data_limits lim = gf_data_limits_default();
    lim.max_inflated_bytes = 1 << 20;
    static unsigned char lab16[8 + 16];
    unsigned char l16[16] = {0};
    const char *lp16 = write_file("bomb-labels16", lab16, make_labels(lab16, 16, l16), 0);
    const char *bomb16 = write_bomb("bomb16.gz", 16, 512, 512, (size_t)16 * 512 * 512);
    CHECK(gf_idx_load_limited(bomb16, lp16, &lim, &d) == GF_ERR_FORMAT && has("decompressed size limit")
          && has("1048576"));
    /* the same file under the defaults is a valid (black) data set */
    CHECK(gf_idx_load(bomb16, lp16, &d) == GF_OK && d.n == 16 && d.dim == 512 * 512 && d.x[d.n * d.dim - 1] == 0.0f);
    gf_dataset_free(&d);
    /* exactly at the cap is accepted: 16 + 16 * 8 * 8 bytes */
    const char *at = write_bomb("at-cap.gz", 16, 8, 8, 16 * 64);
    lim.max_inflated_bytes = 16 + 16 * 64;
    CHECK(gf_idx_load_limited(at, lp16, &lim, &d) == GF_OK && d.n == 16);
    gf_dataset_free(&d);
    lim.max_inflated_bytes = 16 + 16 * 64 - 1;
    CHECK(gf_idx_load_limited(at, lp16, &lim, &d) == GF_ERR_FORMAT && has("decompressed size limit"));
    /* row limit on IDX */
    lim = gf_data_limits_default();
    lim.max_rows = 15;
    CHECK(gf_idx_load_limited(at, lp16, &lim, &d) == GF_ERR_FORMAT && has("row limit of 15")
          && has("bomb-labels16"));
}

static void csv_limits(void)
{
    gf_dataset d;
    gf_data_limits lim = gf_data_limits_default();
    /* a data line of exactly GF_DATA_MAX_LINE_BYTES bytes is accepted, one
     * more byte is refused with the line-length limit and the line number */
    size_t max = (size_t)GF_DATA_MAX_LINE_BYTES;
    char *text = malloc(max + 64);
    size_t used = (size_t)sprintf(text, "label,x\n0,");
    size_t start = used - 2;             /* where the data line begins */
    memset(text + used, '0', max - 3);   /* "0," + (max - 3) zeros + "7" is max bytes */
    used += max - 3;
    text[used++] = '7';
    CHECK(used - start == max);
    memcpy(text + used, "\r\n", 3);
    const char *p = write_text("maxline.csv", text);
    gf_status st = gf_csv_load(p, "label", &d);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) { CHECK(d.n == 1 && d.x[0] == 7.0f); gf_dataset_free(&d); }
    memmove(text + start + 1, text + start, used - start);   /* one more '0' */
    used++;
    memcpy(text + used, "\n", 2);
    p = write_text("longline.csv", text);
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("longline.csv: line 2")
          && has("line length limit of 1048576 bytes"));
    CHECK(d.x == NULL);
    free(text);
    /* a long line without any newline, as from a binary file */
    lim.max_line_bytes = 16;
    p = write_text("noeol.csv", "label,x,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    CHECK(gf_csv_load_limited(p, "label", &lim, &d) == GF_ERR_FORMAT && has("line 1")
          && has("line length limit of 16 bytes") && !has("aaa"));
    lim = gf_data_limits_default();

    /* columns: GF_DATA_MAX_COLUMNS accepted, one more refused */
    int cols = (int)GF_DATA_MAX_COLUMNS;
    size_t cap = (size_t)cols * 10 + 64;   /* ",c99999" + ",2" per column */
    text = malloc(cap);
    used = (size_t)sprintf(text, "label");
    for (int i = 1; i < cols; i++) used += (size_t)sprintf(text + used, ",c%d", i);
    used += (size_t)sprintf(text + used, "\n1");
    for (int i = 1; i < cols; i++) { memcpy(text + used, ",2", 2); used += 2; }
    text[used++] = '\n';
    text[used] = '\0';
    p = write_text("maxcols.csv", text);
    st = gf_csv_load(p, "label", &d);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) { CHECK(d.dim == cols - 1 && d.x[cols - 2] == 2.0f); gf_dataset_free(&d); }
    char *nl = strchr(text, '\n');
    memmove(nl + 3, nl, strlen(nl) + 1);
    memcpy(nl, ",zz", 3);                /* one more header column */
    p = write_text("toomanycols.csv", text);
    CHECK(gf_csv_load(p, "label", &d) == GF_ERR_FORMAT && has("toomanycols.csv: line 1")
          && has("100001 columns") && has("column limit of 100000"));
    free(text);

    /* rows and file size, under smaller limits */
    lim.max_rows = 3;
    p = write_text("rows3.csv", "label,x\n0,1\n1,2\n\n0,3\n");
    CHECK(gf_csv_load_limited(p, "label", &lim, &d) == GF_OK && d.n == 3);
    gf_dataset_free(&d);
    p = write_text("rows4.csv", "label,x\n0,1\n1,2\n\n0,3\n1,4\n");
    CHECK(gf_csv_load_limited(p, "label", &lim, &d) == GF_ERR_FORMAT && has("rows4.csv: line 6")
          && has("row limit of 3"));
    lim = gf_data_limits_default();
    lim.max_file_bytes = 20;
    p = write_text("size20.csv", "label,x\n0,1\n1,22222\n");    /* 20 bytes */
    CHECK(gf_csv_load_limited(p, "label", &lim, &d) == GF_OK && d.n == 2);
    gf_dataset_free(&d);
    p = write_text("size21.csv", "label,x\n0,1\n1,222222\n");
    CHECK(gf_csv_load_limited(p, "label", &lim, &d) == GF_ERR_FORMAT && has("size21.csv")
          && has("21 bytes") && has("file size limit of 20 bytes"));
    CHECK(gf_idx_load_limited(p, p, &lim, &d) == GF_ERR_FORMAT && has("file size limit"));
}

/* A file whose header (or a cell) is a secret never has it echoed. */
static void secrets_not_echoed(void)
{
    gf_dataset d, tr, te;
    char spec[512];
    /* a one-line token file named as a CSV */
    const char *tok = write_text("operator.token", "gf_SECRETTOKEN\n");
    CHECK(gf_csv_load(tok, "zz", &d) == GF_ERR_ARG && has("no label column named 'zz'")
          && has("1 columns") && !has("SECRET"));
    snprintf(spec, sizeof spec, "csv:%s,label=zz", tok);
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && !has("SECRET"));
    CHECK(gf_csv_load(tok, "gf_SECRETTOKEN", &d) == GF_ERR_FORMAT && has("no feature"));
    const char *tok2 = write_text("token2", "gf_SECRETTOKEN\ngf_SECRETTOKEN2\n");
    CHECK(gf_csv_load(tok2, "gf_SECRETTOKEN", &d) == GF_ERR_FORMAT);  /* caller's own name only */
    const char *tok3 = write_text("token3", "zz,a\ngf_SECRETTOKEN,1\n");
    CHECK(gf_csv_load(tok3, "zz", &d) == GF_ERR_FORMAT && has("line 2, column 1") && !has("SECRET"));
    /* as IDX: the magic number found is not echoed either */
    CHECK(gf_idx_load(tok, tok, &d) == GF_ERR_FORMAT && has("bad magic") && !has("SECRET")
          && !has("0x67665f53") && !has("67665f53"));
    /* header names and cells of several failure kinds */
    const char *hdr = "gf_SECRETTOKEN_A,label,gf_SECRETTOKEN_B\n1,0,2\n";
    struct { const char *name, *rows, *label, *where; gf_status st; } cases[] = {
        { "s-nolabel.csv", "", "y", "among the header's 3 columns", GF_ERR_ARG },
        { "s-nonnum.csv", "3,1,gf_SECRETCELL\n", "label", "line 3, column 3: not a number", GF_ERR_FORMAT },
        { "s-ragged.csv", "3,1\n", "label", "line 3: ragged row", GF_ERR_FORMAT },
        { "s-ragged2.csv", "3,1,2,gf_SECRETCELL\n", "label", "line 3: ragged row", GF_ERR_FORMAT },
        { "s-empty.csv", "3,,4\n", "label", "line 3, column 2 (the label column): missing label", GF_ERR_FORMAT },
        { "s-label.csv", "3,gf_SECRETCELL,4\n", "label", "line 3, column 2: not a number", GF_ERR_FORMAT },
        { "s-classid.csv", "3,7.5,4\n", "label", "line 3, column 2 (the label column)", GF_ERR_FORMAT },
        { "s-inf.csv", "3,1,1e999\n", "label", "line 3, column 3: not a finite", GF_ERR_NUMERIC },
        { "s-nul.csv", "3,1,4\n", "label", "", GF_ERR_FORMAT },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        size_t len = (size_t)snprintf(text, sizeof text, "%s%s", hdr, cases[i].rows);
        if (!strcmp(cases[i].name, "s-nul.csv")) text[len - 3] = '\0';
        const char *p = write_file(cases[i].name, text, len, 0);
        gf_status st = gf_csv_load(p, cases[i].label, &d);
        CHECK_MSG(st == cases[i].st && has(cases[i].name) && has(cases[i].where) && !has("SECRET"),
                  "%s: status %d, message: %s", cases[i].name, st, gf_last_error());
        CHECK(d.x == NULL && d.n == 0);
    }
}

static void test_limits(void)
{
    CHECK(in_child("special files", special_files));
    CHECK(in_child("gzip bombs", gzip_bombs));
    CHECK(in_child("csv limits", csv_limits));
    secrets_not_echoed();
    gf_data_limits lim = gf_data_limits_default();
    CHECK(lim.max_file_bytes == GF_DATA_MAX_FILE_BYTES && lim.max_line_bytes == GF_DATA_MAX_LINE_BYTES
          && lim.max_columns == GF_DATA_MAX_COLUMNS && lim.max_rows == GF_DATA_MAX_ROWS
          && lim.max_inflated_bytes == GF_DATA_MAX_INFLATED_BYTES);
}

/* ---- finiteness, shuffle, partitions ---- */

static void make_synthetic(gf_dataset *d, int64_t n, int classes)
{
    memset(d, 0, sizeof *d);
    d->n = n; d->c = 1; d->h = 1; d->w = 2; d->dim = 2; d->num_classes = classes;
    d->x = calloc((size_t)n * 2, sizeof *d->x);
    d->y = malloc((size_t)n * sizeof *d->y);
    if (!d->x || !d->y) { fprintf(stderr, "out of memory\n"); exit(2); }
    for (int64_t i = 0; i < n; i++) { d->y[i] = (int32_t)(i % classes); d->x[2 * i] = (float)i; }
}

static void test_check_finite(void)
{
    gf_dataset d;
    make_synthetic(&d, 10, 2);
    CHECK(gf_dataset_check_finite(&d, "syn") == GF_OK);
    d.x[2 * 7 + 1] = NAN;
    CHECK(gf_dataset_check_finite(&d, "syn") == GF_ERR_NUMERIC && has("syn") && has("sample 7")
          && has("feature 1") && has("NaN"));
    d.x[2 * 7 + 1] = 0;
    d.x[4] = -INFINITY;
    CHECK(gf_dataset_check_finite(&d, NULL) == GF_ERR_NUMERIC && has("sample 2") && has("-Inf"));
    gf_dataset_free(&d);
}

static int is_permutation(const int64_t *p, int64_t n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int64_t i = 0; i < n && ok; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]]) ok = 0;
        else seen[p[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_shuffle(void)
{
    enum { N = 1000 };
    static int64_t a[N], b[N], c[N], e[N];
    gf_shuffle(N, 42, 0, a);
    gf_shuffle(N, 42, 0, b);
    gf_shuffle(N, 42, 1, c);
    gf_shuffle(N, 43, 0, e);
    CHECK(is_permutation(a, N) && is_permutation(c, N));
    CHECK(!memcmp(a, b, sizeof a));           /* deterministic */
    CHECK(memcmp(a, c, sizeof a) != 0);       /* epochs differ */
    CHECK(memcmp(a, e, sizeof a) != 0);       /* seeds differ */
    int fixed = 0, same = 0;
    for (int i = 0; i < N; i++) { fixed += a[i] == i; same += a[i] == c[i]; }
    CHECK(fixed < 20 && same < 20);           /* ~1 expected for a random permutation */
    /* epoch 5 does not depend on having computed epochs 1..4 */
    gf_shuffle(N, 42, 5, b);
    gf_shuffle(N, 42, 3, c);
    gf_shuffle(N, 42, 5, e);
    CHECK(!memcmp(b, e, sizeof b));
    int64_t one = -1;
    gf_shuffle(1, 1, 1, &one);
    CHECK(one == 0);
    gf_shuffle(0, 1, 1, NULL);                /* nothing to do, no crash */
}

/* Every index 0..n-1 exactly once, offsets monotone from 0 to n. */
static int covers(const gf_partition *p, int64_t n)
{
    if (p->offset[0] != 0 || p->offset[p->shards] != n) return 0;
    for (int s = 0; s < p->shards; s++) if (p->offset[s + 1] < p->offset[s]) return 0;
    return is_permutation(p->index, n);
}

static void test_partitions(void)
{
    gf_dataset d;
    make_synthetic(&d, 20000, 10);
    gf_partition p, q;

    /* IID */
    CHECK(gf_partition_iid(&d, 7, 1, &p) == GF_OK);
    CHECK(p.shards == 7 && covers(&p, d.n));
    int64_t lo = d.n, hi = 0;
    for (int s = 0; s < 7; s++) {
        int64_t sz = p.offset[s + 1] - p.offset[s];
        if (sz < lo) lo = sz;
        if (sz > hi) hi = sz;
    }
    CHECK(hi - lo <= 1 && lo > 0);
    CHECK(gf_partition_iid(&d, 7, 1, &q) == GF_OK);
    CHECK(!memcmp(p.index, q.index, (size_t)d.n * sizeof *p.index));
    gf_partition_free(&q);
    CHECK(gf_partition_iid(&d, 7, 2, &q) == GF_OK);
    CHECK(memcmp(p.index, q.index, (size_t)d.n * sizeof *p.index) != 0);
    gf_partition_free(&q);
    int sorted = 1;
    for (int64_t i = 1; i < p.offset[1]; i++) sorted &= p.index[i] > p.index[i - 1];
    CHECK(!sorted);                           /* shuffled, not contiguous blocks */
    gf_partition_free(&p);
    CHECK(p.index == NULL && p.offset == NULL);
    CHECK(gf_partition_iid(&d, (int)d.n, 1, &p) == GF_OK && covers(&p, d.n));
    gf_partition_free(&p);
    CHECK(gf_partition_iid(&d, 0, 1, &p) == GF_ERR_ARG && p.index == NULL);
    CHECK(gf_partition_iid(&d, 20001, 1, &p) == GF_ERR_ARG && has("20001"));

    /* Dirichlet: cover, determinism, skew vs near-uniform */
    CHECK(gf_partition_dirichlet(&d, 10, 0.1, 9, &p) == GF_OK);
    CHECK(covers(&p, d.n));
    CHECK(gf_partition_dirichlet(&d, 10, 0.1, 9, &q) == GF_OK);
    CHECK(!memcmp(p.offset, q.offset, 11 * sizeof *p.offset)
          && !memcmp(p.index, q.index, (size_t)d.n * sizeof *p.index));
    gf_partition_free(&q);
    CHECK(gf_partition_dirichlet(&d, 10, 0.1, 10, &q) == GF_OK);
    CHECK(memcmp(p.index, q.index, (size_t)d.n * sizeof *p.index) != 0);
    gf_partition_free(&q);

    int dominated = 0, empty = 0;
    double max_dev_skewed = 0;
    for (int s = 0; s < 10; s++) {
        int64_t h[10] = {0}, sz = p.offset[s + 1] - p.offset[s];
        if (sz == 0) { empty++; continue; }
        for (int64_t i = p.offset[s]; i < p.offset[s + 1]; i++) h[d.y[p.index[i]]]++;
        int64_t a = 0, b = 0;
        for (int c = 0; c < 10; c++) {
            if (h[c] > a) { b = a; a = h[c]; } else if (h[c] > b) b = h[c];
            double dev = fabs((double)h[c] / (double)sz - 0.1);
            if (dev > max_dev_skewed) max_dev_skewed = dev;
        }
        if ((double)(a + b) / (double)sz > 0.6) dominated++;
    }
    CHECK(empty == 0);
    CHECK_MSG(dominated >= 7, "alpha 0.1: only %d of 10 shards dominated by two classes", dominated);
    CHECK(max_dev_skewed > 0.3);
    gf_partition_free(&p);

    CHECK(gf_partition_dirichlet(&d, 10, 1000.0, 9, &p) == GF_OK);
    CHECK(covers(&p, d.n));
    double max_dev = 0;
    for (int s = 0; s < 10; s++) {
        int64_t h[10] = {0}, sz = p.offset[s + 1] - p.offset[s];
        CHECK(sz > 1500 && sz < 2500);
        for (int64_t i = p.offset[s]; i < p.offset[s + 1]; i++) h[d.y[p.index[i]]]++;
        for (int c = 0; c < 10; c++) {
            double dev = fabs((double)h[c] / (double)sz - 0.1);
            if (dev > max_dev) max_dev = dev;
        }
    }
    CHECK_MSG(max_dev < 0.02, "alpha 1000: label proportion off by %g", max_dev);
    gf_partition_free(&p);

    /* tiny alpha, many shards: still no empty shard, still a cover */
    CHECK(gf_partition_dirichlet(&d, 500, 0.001, 4, &p) == GF_OK);
    CHECK(covers(&p, d.n));
    int nonempty = 1;
    for (int s = 0; s < 500; s++) nonempty &= p.offset[s + 1] > p.offset[s];
    CHECK(nonempty);
    gf_partition_free(&p);
    CHECK(gf_partition_dirichlet(&d, (int)d.n, 0.5, 4, &p) == GF_OK && covers(&p, d.n));
    gf_partition_free(&p);

    CHECK(gf_partition_dirichlet(&d, 10, 0.0, 1, &p) == GF_ERR_ARG && has("alpha"));
    CHECK(gf_partition_dirichlet(&d, 10, -1.0, 1, &p) == GF_ERR_ARG);
    CHECK(gf_partition_dirichlet(&d, 10, NAN, 1, &p) == GF_ERR_ARG);
    CHECK(gf_partition_dirichlet(&d, 0, 1.0, 1, &p) == GF_ERR_ARG);
    CHECK(gf_partition_dirichlet(&d, 20001, 1.0, 1, &p) == GF_ERR_ARG && p.index == NULL);
    d.y[5] = 10;                              /* label outside num_classes */
    CHECK(gf_partition_dirichlet(&d, 10, 1.0, 1, &p) == GF_ERR_ARG && has("sample 5"));

    /* gather */
    int64_t idx[2] = {3, 1};
    float x[4];
    int32_t y[2];
    gf_dataset_gather(&d, idx, 2, x, y);
    CHECK(x[0] == 3.0f && x[2] == 1.0f && y[0] == 3 && y[1] == 1);
    gf_dataset sub;
    CHECK(gf_dataset_subset(&d, idx, 0, &sub) == GF_OK && sub.n == 0 && sub.dim == 2);
    gf_dataset_free(&sub);
    gf_dataset_free(&d);
    gf_dataset_free(&d);                      /* second free is harmless */
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/gf-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }

    test_limits();                      /* first: its children measure their peak memory */
    test_fashion_mnist();
    test_idx_small();
    test_idx_bad();
    test_csv();
    test_csv_spec();
    test_check_finite();
    test_shuffle();
    test_partitions();

    /* every file in tmpdir, including those the forked children made */
    DIR *dir = opendir(tmpdir);
    for (struct dirent *e; dir && (e = readdir(dir)); ) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        unlink(path);
    }
    if (dir) closedir(dir);
    if (rmdir(tmpdir) != 0) perror(tmpdir);
    return check_summary();
}
