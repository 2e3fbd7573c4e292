/* Tests for the NIfTI reader (src/data/nifti.c) and the nifti: dataset spec
 * (src/data/medset.c): Debian's mricron-data ch2.nii.gz compared with the
 * values of an independent decoder (tests/data/nifti_ch2_reference.txt,
 * scripts/gen_nifti_reference.py: gzip + struct in Python); small volumes
 * written byte by byte here (both byte orders, int16 with scl_slope and
 * scl_inter, float32, 2-D, gzipped) checked value by value; and bad input,
 * each refused with a message naming the file: a truncated file, a header
 * whose dimensions claim more data than there is, a file too short for a
 * header, an unsupported datatype, a 4-D series, the voxel limit, not a
 * NIfTI file, a volume without a label, volumes of different shapes and
 * spec errors. DICOM (src/data/dicom.c, through dcm2niix): pydicom's
 * CT_small.dcm and MR_small.dcm compared with pydicom's own decoding
 * (tests/data/dicom_reference.txt, scripts/gen_dicom_reference.py), a
 * dicom: dataset of a file and a series folder, and a file that is not
 * DICOM, a folder of two series, mixed shapes and a missing label. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "data/dataset.h"
#include "data/medimg.h"

#define CH2 "/usr/share/mricron/templates/ch2.nii.gz"
#define REFERENCE "tests/data/nifti_ch2_reference.txt"
#define PYDICOM_FILES "/usr/lib/python3/dist-packages/pydicom/data/test_files"
#define DICOM_REFERENCE "tests/data/dicom_reference.txt"

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
    int ok = strstr(gf_last_error(), needle) != NULL;
    if (!ok) fprintf(stderr, "  message was: %s\n  expected: %s\n", gf_last_error(), needle);
    return ok;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f)) { perror(path); exit(2); }
}

static void write_text(const char *path, const char *s) { write_file(path, s, strlen(s)); }

/* Stores v at b in `size` bytes, big- or little-endian. */
static void put(unsigned char *b, uint64_t v, int size, int be)
{
    for (int i = 0; i < size; i++) b[be ? size - 1 - i : i] = (unsigned char)(v >> (8 * i));
}

static void put_f32(unsigned char *b, float f, int be)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put(b, u, 4, be);
}

/* A NIfTI-1 single file in memory: the 348-byte header (fields at their
 * offsets in the NIfTI-1 layout), 4 bytes of extension flag, then data.
 * dims[0] is dim[0]; *len receives the size. */
static unsigned char *nii(int be, const int16_t dims[8], int datatype, int bitpix, float slope, float inter,
                          const void *data, size_t data_len, size_t *len)
{
    *len = 352 + data_len;
    unsigned char *b = calloc(1, *len);
    put(b, 348, 4, be);
    for (int i = 0; i < 8; i++) put(b + 40 + 2 * i, (uint16_t)dims[i], 2, be);
    put(b + 70, (uint16_t)datatype, 2, be);
    put(b + 72, (uint16_t)bitpix, 2, be);
    put_f32(b + 108, 352.0f, be);
    put_f32(b + 112, slope, be);
    put_f32(b + 116, inter, be);
    memcpy(b + 344, "n+1", 4);
    memcpy(b + 352, data, data_len);
    return b;
}

static double ref_value(const char *key, int which)
{
    FILE *f = fopen(REFERENCE, "r");
    if (!f) { perror(REFERENCE); exit(2); }
    char line[256];
    double v = NAN;
    while (fgets(line, sizeof line, f)) {
        char k[32];
        double a, b;
        int n = sscanf(line, "%31s %lf %lf", k, &a, &b);
        if (n >= 2 && !strcmp(k, key)) { v = which == 0 ? a : b; break; }
    }
    fclose(f);
    return v;
}

static void test_ch2_reference(void)
{
    gf_volume v;
    gf_status st = gf_nifti_read(CH2, NULL, &v);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    FILE *f = fopen(REFERENCE, "r");
    if (!f) { perror(REFERENCE); exit(2); }
    char line[256];
    int voxels = 0;
    double sum = 0, sumsq = 0, lo = INFINITY, hi = -INFINITY;
    int64_t n = (int64_t)v.nx * v.ny * v.nz;
    for (int64_t i = 0; i < n; i++) {
        sum += v.x[i];
        sumsq += (double)v.x[i] * v.x[i];
        if (v.x[i] < lo) lo = v.x[i];
        if (v.x[i] > hi) hi = v.x[i];
    }
    while (fgets(line, sizeof line, f)) {
        int a, b, c;
        double val;
        if (sscanf(line, "dims %d %d %d", &a, &b, &c) == 3) {
            CHECK(v.nx == a && v.ny == b && v.nz == c);
        } else if (sscanf(line, "sum %lf", &val) == 1) {
            CHECK_NEAR(sum, val, 0.5);
        } else if (sscanf(line, "sumsq %lf", &val) == 1) {
            CHECK_NEAR(sumsq, val, 0.5);
        } else if (sscanf(line, "voxel %d %d %d %lf", &a, &b, &c, &val) == 4) {
            CHECK_NEAR(v.x[((int64_t)c * v.ny + b) * v.nx + a], val, 1e-6);
            voxels++;
        }
    }
    fclose(f);
    CHECK(voxels == 15);
    CHECK_NEAR(lo, ref_value("range", 0), 0);
    CHECK_NEAR(hi, ref_value("range", 1), 0);
    gf_volume_free(&v);

    /* the same volume through the nifti: spec (a list file, minmax scaling) */
    char list[512], spec[1024];
    snprintf(list, sizeof list, "# one volume\n\n%s\n", CH2);
    write_text(tmp_path("ch2.list"), list);
    write_text(tmp_path("ch2.csv"), "file,age,label\nch2,31,3\nother.nii,40,1\n");
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s,scale=minmax", tmp_path("ch2.list"), tmp_path("ch2.csv"));
    gf_dataset tr, te;
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st) return;
    CHECK(tr.n == 1 && te.n == 0);
    CHECK(tr.c == 181 && tr.h == 217 && tr.w == 181 && tr.dim == 181LL * 217 * 181);
    CHECK(tr.y[0] == 3 && tr.num_classes == 4);
    double ms = 0;
    for (int64_t i = 0; i < tr.dim; i++) ms += tr.x[i];
    CHECK_NEAR(ms, ref_value("minmax_sum", 0), 0.05);   /* 7.1M float roundings of ~3e-8 each */
    gf_dataset_free(&tr);
    gf_dataset_free(&te);
}

/* int16 big-endian with slope/intercept (2-D), float32 little-endian (3-D) */
static void test_small_volumes(void)
{
    int16_t d2[8] = {2, 2, 3, 1, 1, 1, 1, 1};
    unsigned char data[12];
    int16_t raw[6] = {-3, 0, 7, 1000, -32768, 32767};
    for (int i = 0; i < 6; i++) put(data + 2 * i, (uint16_t)raw[i], 2, 1);
    size_t len;
    unsigned char *b = nii(1, d2, 4, 16, 0.5f, 10.0f, data, sizeof data, &len);
    gf_volume v;
    gf_status st = gf_nifti_decode(b, (int64_t)len, "be.nii", &v);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(v.nx == 2 && v.ny == 3 && v.nz == 1);
        for (int i = 0; i < 6; i++) CHECK_NEAR(v.x[i], raw[i] * 0.5 + 10.0, 0);
        gf_volume_free(&v);
    }
    write_file(tmp_path("vols/b_int16.nii"), b, len);
    free(b);

    int16_t d3[8] = {3, 2, 2, 2, 1, 1, 1, 1};
    float fv[8] = {0.25f, -1.5f, 3.0f, 1e6f, -2e-3f, 7.0f, 0.0f, NAN};
    unsigned char fd[32];
    for (int i = 0; i < 8; i++) put_f32(fd + 4 * i, fv[i], 0);
    b = nii(0, d3, 16, 32, 0.0f, 5.0f, fd, sizeof fd, &len);   /* slope 0: no scaling */
    st = gf_nifti_decode(b, (int64_t)len, "le.nii", &v);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(v.nx == 2 && v.ny == 2 && v.nz == 2);
        for (int i = 0; i < 7; i++) CHECK(v.x[i] == fv[i]);
        CHECK(isnan(v.x[7]));   /* missing stays missing */
        gf_volume_free(&v);
    }
    free(b);

    /* a dataset from a directory: three 2x3 int16 volumes, one gzipped,
     * labelled by a tab-separated table with its own column names */
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 6; i++) put(data + 2 * i, (uint16_t)(100 * (k + 1) + i), 2, 0);
        b = nii(0, d2, 4, 16, 1.0f, 0.0f, data, sizeof data, &len);
        if (k == 0) {
            write_file(tmp_path("vols/a.nii"), b, len);
        } else {
            gzFile g = gzopen(tmp_path("vols/c.nii.gz"), "wb");
            CHECK(g && gzwrite(g, b, (unsigned)len) == (int)len);
            gzclose(g);
        }
        free(b);
    }
    write_text(tmp_path("vols/notes.txt"), "not a volume\n");
    write_text(tmp_path("vol_labels.tsv"), "scan\tclass\nc.nii.gz\t2\nb_int16\t0\na.nii\t5\n");
    char spec[1024];
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s,id_col=scan,label_col=class", tmp_path("vols"),
             tmp_path("vol_labels.tsv"));
    gf_dataset tr, te;
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 3 && tr.c == 1 && tr.h == 3 && tr.w == 2 && tr.num_classes == 6);
        /* name order: a.nii, b_int16.nii, c.nii.gz */
        CHECK(tr.y[0] == 5 && tr.y[1] == 0 && tr.y[2] == 2);
        CHECK(tr.x[0] == 100 && tr.x[5] == 105 && tr.x[12] == 200 && tr.x[17] == 205);
        CHECK(tr.x[6] == -3 * 0.5 + 10 && tr.x[9] == 1000 * 0.5 + 10);
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
    }
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s,id_col=scan,label_col=class,test_fraction=0.34,seed=1",
             tmp_path("vols"), tmp_path("vol_labels.tsv"));
    st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 2 && te.n == 1 && te.dim == 6);
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
    }
}

static void test_bad_input(void)
{
    gf_volume v;
    gf_dataset tr, te;
    char spec[1024];
    /* a truncated file: the first 100000 bytes of ch2, decompressed */
    gzFile g = gzopen(CH2, "rb");
    unsigned char *part = malloc(100000);
    CHECK(g && gzread(g, part, 100000) == 100000);
    gzclose(g);
    write_file(tmp_path("trunc.nii"), part, 100000);
    CHECK(gf_nifti_read(tmp_path("trunc.nii"), NULL, &v) == GF_ERR_FORMAT);
    CHECK(has("trunc.nii") && has("truncated file or wrong header") && has("181 x 217 x 181"));
    CHECK(v.x == NULL);
    write_file(tmp_path("short.nii"), part, 200);
    CHECK(gf_nifti_read(tmp_path("short.nii"), NULL, &v) == GF_ERR_FORMAT);
    CHECK(has("short.nii") && has("shorter than the 348-byte NIfTI-1 header"));
    free(part);

    /* a lying header: 100 x 100 x 100 int16 voxels declared, 8 voxels there */
    int16_t lie[8] = {3, 100, 100, 100, 1, 1, 1, 1};
    unsigned char data[16] = {0};
    size_t len;
    unsigned char *b = nii(0, lie, 4, 16, 1, 0, data, sizeof data, &len);
    write_file(tmp_path("lying.nii"), b, len);
    free(b);
    CHECK(gf_nifti_read(tmp_path("lying.nii"), NULL, &v) == GF_ERR_FORMAT);
    CHECK(has("lying.nii") && has("100 x 100 x 100") && has("2000000 bytes") && has("only 16 bytes"));

    /* the voxel limit, before any allocation */
    int16_t huge[8] = {3, 32767, 32767, 32767, 1, 1, 1, 1};
    b = nii(0, huge, 2, 8, 1, 0, data, sizeof data, &len);
    CHECK(gf_nifti_decode(b, (int64_t)len, "huge.nii", &v) == GF_ERR_FORMAT);
    CHECK(has("huge.nii") && has("limit of 33554432 voxels"));
    free(b);

    /* wrong types: complex64, RGB24; a 4-D series; not NIfTI at all; ANALYZE */
    int16_t d1[8] = {1, 2, 1, 1, 1, 1, 1, 1};
    b = nii(0, d1, 32, 64, 1, 0, data, sizeof data, &len);
    CHECK(gf_nifti_decode(b, (int64_t)len, "cplx.nii", &v) == GF_ERR_FORMAT);
    CHECK(has("cplx.nii") && has("datatype 32") && has("not supported"));
    free(b);
    b = nii(1, d1, 128, 24, 1, 0, data, sizeof data, &len);
    CHECK(gf_nifti_decode(b, (int64_t)len, "rgb.nii", &v) == GF_ERR_FORMAT);
    CHECK(has("rgb.nii") && has("datatype 128"));
    free(b);
    int16_t d4[8] = {4, 1, 1, 1, 3, 1, 1, 1};
    b = nii(0, d4, 2, 8, 1, 0, data, sizeof data, &len);
    CHECK(gf_nifti_decode(b, (int64_t)len, "series.nii", &v) == GF_ERR_FORMAT);
    CHECK(has("series.nii") && has("only 2-D and 3-D"));
    memcpy(b + 344, "ni1", 4);
    CHECK(gf_nifti_decode(b, (int64_t)len, "pair.hdr", &v) == GF_ERR_FORMAT && has("two-file"));
    memset(b + 344, 0, 4);
    CHECK(gf_nifti_decode(b, (int64_t)len, "analyze.hdr", &v) == GF_ERR_FORMAT && has("ANALYZE"));
    free(b);
    char text[400];
    memset(text, 'x', sizeof text);
    CHECK(gf_nifti_decode(text, sizeof text, "text.nii", &v) == GF_ERR_FORMAT);
    CHECK(has("text.nii") && has("not a NIfTI file"));
    CHECK(v.x == NULL);

    /* a volume without a label */
    write_text(tmp_path("partial.csv"), "file,label\na.nii,1\nc.nii.gz,0\n");
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("vols"), tmp_path("partial.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT);
    CHECK(has("partial.csv") && has("no label for volume") && has("b_int16.nii"));
    CHECK(tr.x == NULL && te.x == NULL);
    write_text(tmp_path("badlabel.csv"), "file,label\na.nii,1\nb_int16.nii,-2\nc.nii.gz,0\n");
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("vols"), tmp_path("badlabel.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("line 3") && has("not a class id"));

    write_text(tmp_path("twice.csv"), "file,label\na.nii,1\nb_int16,0\nc.nii.gz,0\na,1\n");
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("vols"), tmp_path("twice.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("line 5 is a second row for volume") && has("a.nii"));

    /* volumes of different shapes, a lying volume inside a list */
    int16_t d3[8] = {3, 2, 3, 2, 1, 1, 1, 1};
    unsigned char d12[24] = {0};
    b = nii(0, d3, 4, 16, 1, 0, d12, sizeof d12, &len);
    write_file(tmp_path("deep.nii"), b, len);
    free(b);
    char list[600];
    snprintf(list, sizeof list, "%s\ndeep.nii\n", tmp_path("vols/a.nii"));
    write_text(tmp_path("mixed.list"), list);
    write_text(tmp_path("mixed.csv"), "file,label\na,0\ndeep,1\nlying,1\n");
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("mixed.list"), tmp_path("mixed.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_MISMATCH && has("deep.nii") && has("one shape"));
    snprintf(list, sizeof list, "lying.nii\n");
    write_text(tmp_path("lying.list"), list);
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("lying.list"), tmp_path("mixed.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("lying.nii") && has("wrong header"));

    /* spec errors */
    snprintf(spec, sizeof spec, "nifti:%s", tmp_path("vols"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("labels=CSV"));
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s,scale=zscore", tmp_path("vols"), tmp_path("partial.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("scale must be minmax"));
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s,colour=red", tmp_path("vols"), tmp_path("partial.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("unknown or empty option"));
    snprintf(spec, sizeof spec, "nifti:%s,labels=%s", tmp_path("empty"), tmp_path("partial.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("no .nii or .nii.gz files"));
}

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    if (!f) { perror(from); exit(2); }
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    write_file(to, buf, n);
}

static void test_dicom(void)
{
    FILE *f = fopen(DICOM_REFERENCE, "r");
    if (!f) { perror(DICOM_REFERENCE); exit(2); }
    char line[256], name[64], cur[64] = "";
    gf_volume v = {0};
    double sum = 0, sumsq = 0;
    int pixels = 0, sizes = 0;
    while (fgets(line, sizeof line, f)) {
        int r, c;
        double val;
        if (sscanf(line, "size %63s %d %d", name, &r, &c) == 3) {
            gf_volume_free(&v);
            char path[512];
            snprintf(path, sizeof path, "%s/%s", PYDICOM_FILES, name);
            gf_status st = gf_dicom_read(path, NULL, &v);
            CHECK_MSG(st == GF_OK, "%s", gf_last_error());
            if (st) break;
            snprintf(cur, sizeof cur, "%s", name);
            CHECK(v.ny == r && v.nx == c && v.nz == 1);
            sum = sumsq = 0;
            for (int64_t i = 0; i < (int64_t)v.nx * v.ny; i++) { sum += v.x[i]; sumsq += (double)v.x[i] * v.x[i]; }
            sizes++;
        } else if (sscanf(line, "sum %63s %lf", name, &val) == 2 && !strcmp(name, cur)) {
            CHECK_NEAR(sum, val, 1e-6 * fabs(val) + 0.5);
        } else if (sscanf(line, "sumsq %63s %lf", name, &val) == 2 && !strcmp(name, cur)) {
            CHECK_NEAR(sumsq, val, 1e-9 * fabs(val) + 0.5);
        } else if (sscanf(line, "pixel %63s %d %d %lf", name, &r, &c, &val) == 4 && !strcmp(name, cur)) {
            CHECK_NEAR(v.x[(int64_t)(v.ny - 1 - r) * v.nx + c], val, 1e-4);   /* dcm2niix: rows bottom up */
            pixels++;
        }
    }
    fclose(f);
    gf_volume_free(&v);
    CHECK(sizes == 2 && pixels == 26);

    /* a dataset: one file and one series folder, both CT_small */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/dcm/series1 %s/dcm2/two %s/dcm3", tmpdir, tmpdir, tmpdir);
    if (system(cmd)) exit(2);
    copy_file(PYDICOM_FILES "/CT_small.dcm", tmp_path("dcm/ct.dcm"));
    copy_file(PYDICOM_FILES "/CT_small.dcm", tmp_path("dcm/series1/slice1"));
    write_text(tmp_path("dcm.csv"), "file,label\nct,1\nseries1,0\nmr,1\nnotes.dcm,0\ntwo,1\n");
    char spec[1024];
    snprintf(spec, sizeof spec, "dicom:%s,labels=%s", tmp_path("dcm"), tmp_path("dcm.csv"));
    gf_dataset tr, te;
    gf_status st = gf_dataset_open(spec, &tr, &te);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(tr.n == 2 && te.n == 0 && tr.c == 1 && tr.h == 128 && tr.w == 128);
        CHECK(tr.y[0] == 1 && tr.y[1] == 0 && tr.num_classes == 2);
        CHECK(memcmp(tr.x, tr.x + tr.dim, sizeof(float) * (size_t)tr.dim) == 0);
        CHECK_NEAR(tr.x[127 * 128 + 0], -849, 0);   /* DICOM row 0, column 0 */
        gf_dataset_free(&tr);
        gf_dataset_free(&te);
    }
    /* mixed shapes: CT 128 x 128 and MR 64 x 64 */
    copy_file(PYDICOM_FILES "/MR_small.dcm", tmp_path("dcm/mr.dcm"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_MISMATCH && has("mr.dcm") && has("one shape"));
    /* a label missing */
    write_text(tmp_path("dcm_partial.csv"), "file,label\nct,1\nmr,1\n");
    snprintf(spec, sizeof spec, "dicom:%s,labels=%s", tmp_path("dcm"), tmp_path("dcm_partial.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("no label for volume") && has("series1"));
    /* not DICOM; two series in one folder */
    write_text(tmp_path("dcm3/notes.dcm"), "not a DICOM file\n");
    snprintf(spec, sizeof spec, "dicom:%s,labels=%s", tmp_path("dcm3"), tmp_path("dcm.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("notes.dcm") && has("no DICOM image"));
    copy_file(PYDICOM_FILES "/CT_small.dcm", tmp_path("dcm2/two/a"));
    copy_file(PYDICOM_FILES "/MR_small.dcm", tmp_path("dcm2/two/b"));
    snprintf(spec, sizeof spec, "dicom:%s,labels=%s", tmp_path("dcm2"), tmp_path("dcm.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_FORMAT && has("two") && has("holds 2 series"));
    snprintf(spec, sizeof spec, "dicom:%s,labels=%s", tmp_path("dcm/ct.dcm"), tmp_path("dcm.csv"));
    CHECK(gf_dataset_open(spec, &tr, &te) == GF_ERR_ARG && has("takes a directory"));
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_medimg_XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 2; }
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/vols %s/empty", tmpdir, tmpdir);
    if (system(cmd)) return 2;
    test_ch2_reference();
    test_small_volumes();
    test_bad_input();
    test_dicom();
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) return 2;
    return check_summary();
}
