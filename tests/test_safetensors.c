/* Tests for io/safetensors: round trips, byte-exact output against a file
 * built by hand, reading a hand-made file with a non-F32 tensor, every
 * rejected input with its status and message, and the atomic writer. */
#include "io/safetensors.h"
#include "check.h"

#include <dirent.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[64];

static char *path_in(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    if (snprintf(p, 256, "%s/%s", dir, name) >= 256) abort();
    return p;
}

/* Reads a whole file; *len gets its size. NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, fp) != (size_t)n) { free(b); b = NULL; }
    fclose(fp);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    if (!fp) return;
    CHECK(fwrite(p, 1, n, fp) == n);
    fclose(fp);
}

/* An in-memory file: LE u64 length of `hdr`, `hdr`, then `data`. */
static size_t make_buf(uint8_t *out, const char *hdr, const void *data, size_t ndata)
{
    uint64_t n = strlen(hdr);
    for (int i = 0; i < 8; i++) out[i] = (uint8_t)(n >> (8 * i));
    memcpy(out + 8, hdr, n);
    if (ndata) memcpy(out + 8 + n, data, ndata);
    return 8 + n + ndata;
}

static int has(const char *needle) { return strstr(gf_last_error(), needle) != NULL; }

/* Parses hdr + data and expects failure `want` with a message containing `words`. */
static void expect_bad(const char *hdr, const void *data, size_t ndata, gf_status want,
                       const char *words, int line)
{
    static uint8_t buf[4096];
    size_t n = make_buf(buf, hdr, data, ndata);
    gf_st_file *f = (gf_st_file *)1;
    gf_status st = gf_st_parse(buf, n, "bad.safetensors", &f);
    CHECK_MSG(st == want && f == NULL, "line %d: status %d (%s), want %d", line, st,
              gf_last_error(), want);
    CHECK_MSG(has(words), "line %d: message \"%s\" lacks \"%s\"", line, gf_last_error(), words);
    CHECK_MSG(has("bad.safetensors"), "line %d: message \"%s\" lacks the name", line, gf_last_error());
    gf_st_close(f == (gf_st_file *)1 ? NULL : f);
}
#define BAD(hdr, data, n, st, words) expect_bad(hdr, data, n, st, words, __LINE__)

static void test_round_trip(void)
{
    float w1[6], b1[3], s[1] = {42.5f}, big[1000];
    for (int i = 0; i < 6; i++) w1[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 3; i++) b1[i] = -(float)i;
    for (int i = 0; i < 1000; i++) big[i] = (float)i / 7.0f;
    gf_st_tensor t[] = {
        {"fc1.weight", 2, {3, 2}, w1},
        {"fc1.bias", 1, {3}, b1},
        {"scalar", 0, {0}, s},
        {"empty", 2, {4, 0}, NULL},
        {"conv.w", 4, {10, 1, 10, 10}, big},
    };
    gf_st_meta m[] = {{"format", "pt"}, {"model", "mlp:784-256-10"}, {"utf8", "h\xc3\xa9llo \"q\"\n"}};
    const char *p1 = path_in("rt1.safetensors"), *p2 = path_in("rt2.safetensors");
    CHECK(gf_st_write(p1, t, 5, m, 3) == GF_OK);
    CHECK(gf_st_write(p2, t, 5, m, 3) == GF_OK);

    size_t n1 = 0, n2 = 0;
    uint8_t *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    if (a) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = (hl << 8) | a[i];
        CHECK(hl % 8 == 0);                                /* data 8-byte aligned */
        CHECK(n1 == 8 + hl + 4 * (6 + 3 + 1 + 0 + 1000));
        CHECK(a[8] == '{');
    }
    free(a);
    free(b);

    gf_st_file *f = NULL;
    CHECK(gf_st_open(p1, &f) == GF_OK);
    if (!f) return;
    CHECK(gf_st_count(f) == 5);
    for (int i = 0; i < 5; i++) CHECK(gf_st_name(f, i) && strcmp(gf_st_name(f, i), t[i].name) == 0);
    CHECK(gf_st_name(f, 5) == NULL && gf_st_name(f, -1) == NULL);
    CHECK(gf_st_meta_get(f, "format") && strcmp(gf_st_meta_get(f, "format"), "pt") == 0);
    CHECK(gf_st_meta_get(f, "model") && strcmp(gf_st_meta_get(f, "model"), "mlp:784-256-10") == 0);
    CHECK(gf_st_meta_get(f, "utf8") && strcmp(gf_st_meta_get(f, "utf8"), m[2].value) == 0);
    CHECK(gf_st_meta_get(f, "nope") == NULL);

    float o[1000];
    CHECK(gf_st_read_f32(f, "fc1.weight", 2, (int64_t[]){3, 2}, o) == GF_OK);
    CHECK(memcmp(o, w1, sizeof w1) == 0);
    CHECK(gf_st_read_f32(f, "fc1.bias", -1, NULL, o) == GF_OK);
    CHECK(memcmp(o, b1, sizeof b1) == 0);
    CHECK(gf_st_read_f32(f, "scalar", 0, NULL, o) == GF_OK && o[0] == 42.5f);
    CHECK(gf_st_read_f32(f, "empty", 2, (int64_t[]){4, 0}, NULL) == GF_OK);
    CHECK(gf_st_read_f32(f, "conv.w", 4, (int64_t[]){10, 1, 10, 10}, o) == GF_OK);
    CHECK(memcmp(o, big, sizeof big) == 0);

    /* shape mismatch, missing tensor */
    CHECK(gf_st_read_f32(f, "conv.w", 4, (int64_t[]){10, 1, 5, 20}, o) == GF_ERR_MISMATCH);
    CHECK_MSG(has("[10, 1, 10, 10]") && has("[10, 1, 5, 20]") && has("conv.w"), "%s", gf_last_error());
    CHECK(gf_st_read_f32(f, "conv.w", 3, (int64_t[]){10, 1, 10}, o) == GF_ERR_MISMATCH);
    CHECK(gf_st_read_f32(f, "fc1.bias", 0, NULL, o) == GF_ERR_MISMATCH);
    CHECK_MSG(has("[3]") && has("[]"), "%s", gf_last_error());
    CHECK(gf_st_read_f32(f, "fc2.weight", -1, NULL, o) == GF_ERR_MISMATCH);
    CHECK_MSG(has("no tensor \"fc2.weight\" in ") && has("rt1.safetensors"), "%s", gf_last_error());
    gf_st_close(f);

    /* no metadata, no tensors */
    const char *p3 = path_in("empty.safetensors");
    CHECK(gf_st_write(p3, NULL, 0, NULL, 0) == GF_OK);
    size_t n3 = 0;
    uint8_t *e = slurp(p3, &n3);
    CHECK(e && n3 == 16 && memcmp(e, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
    free(e);
    CHECK(gf_st_open(p3, &f) == GF_OK && gf_st_count(f) == 0 && gf_st_meta_get(f, "format") == NULL);
    gf_st_close(f);
    gf_st_close(NULL);

    /* bad writer arguments */
    gf_st_tensor dup[] = {{"x", 1, {1}, s}, {"x", 1, {1}, s}};
    CHECK(gf_st_write(path_in("dup.safetensors"), dup, 2, NULL, 0) == GF_ERR_ARG);
    gf_st_tensor neg[] = {{"x", 1, {-1}, s}};
    CHECK(gf_st_write(path_in("neg.safetensors"), neg, 1, NULL, 0) == GF_ERR_ARG);
    gf_st_tensor res[] = {{"__metadata__", 1, {1}, s}};
    CHECK(gf_st_write(path_in("res.safetensors"), res, 1, NULL, 0) == GF_ERR_ARG);
    gf_st_tensor badu[] = {{"\xff\xfe", 1, {1}, s}};
    CHECK(gf_st_write(path_in("badu.safetensors"), badu, 1, NULL, 0) == GF_ERR_ARG);
    CHECK(access(path_in("dup.safetensors"), F_OK) != 0);
}

/* The exact bytes the format prescribes, written out by hand. */
static const char hand_header[] =
    "{\"__metadata__\":{\"format\":\"pt\"},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[8,16]}}";

static void test_hand_made_bytes(void)
{
    CHECK(strlen(hand_header) == 141);                  /* 141 + 3 spaces = 144 = 0x90 */
    uint8_t want[8 + 144 + 16];
    memcpy(want, "\x90\0\0\0\0\0\0\0", 8);
    memcpy(want + 8, hand_header, 141);
    memcpy(want + 8 + 141, "   ", 3);
    memcpy(want + 8 + 144,
           "\x00\x00\x80\x3f" "\x00\x00\x00\x40"        /* 1.0f, 2.0f */
           "\x00\x00\x40\x40" "\x00\x00\x80\xbf", 16);  /* 3.0f, -1.0f */

    float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, -1.0f};
    gf_st_tensor t[] = {{"a", 1, {2}, a}, {"b", 2, {1, 2}, b}};
    gf_st_meta m[] = {{"format", "pt"}};
    const char *p = path_in("hand.safetensors");
    CHECK(gf_st_write(p, t, 2, m, 1) == GF_OK);
    size_t n = 0;
    uint8_t *got = slurp(p, &n);
    CHECK_MSG(got && n == sizeof want && memcmp(got, want, sizeof want) == 0,
              "gf_st_write output differs from the hand-built file (%zu vs %zu bytes)", n, sizeof want);
    free(got);
}

static void test_hand_made_f16(void)
{
    /* Unpadded header, F16 tensor first, so the F32 data sits unaligned. */
    const char *hdr =
        "{\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
        "\"__metadata__\":{\"note\":\"by hand\"}}";
    uint8_t data[12] = {0x00, 0x3c, 0x00, 0xc0,                /* F16 1.0, -2.0 */
                        0x00, 0x00, 0x20, 0x40, 0x00, 0x00, 0x80, 0x3e};  /* 2.5f, 0.25f */
    uint8_t buf[512];
    size_t n = make_buf(buf, hdr, data, sizeof data);
    const char *p = path_in("f16.safetensors");
    spit(p, buf, n);

    gf_st_file *f = NULL;
    CHECK(gf_st_open(p, &f) == GF_OK);
    if (!f) { fprintf(stderr, "%s\n", gf_last_error()); return; }
    CHECK(gf_st_count(f) == 2);
    CHECK(strcmp(gf_st_name(f, 0), "h") == 0 && strcmp(gf_st_name(f, 1), "w") == 0);
    CHECK(gf_st_meta_get(f, "note") && strcmp(gf_st_meta_get(f, "note"), "by hand") == 0);
    float o[2] = {0, 0};
    CHECK(gf_st_read_f32(f, "h", -1, NULL, o) == GF_ERR_MISMATCH);
    CHECK_MSG(has("F16") && has("\"h\""), "%s", gf_last_error());
    CHECK(gf_st_read_f32(f, "w", 1, (int64_t[]){2}, o) == GF_OK);
    CHECK(o[0] == 2.5f && o[1] == 0.25f);
    gf_st_close(f);

    /* The same through gf_st_parse, which reads the caller's buffer in place
     * (no copy): a change to the buffer shows through the handle. */
    uint8_t *copy = malloc(n);
    CHECK(copy != NULL);
    if (!copy) return;
    memcpy(copy, buf, n);
    CHECK(gf_st_parse(copy, n, "mem", &f) == GF_OK);
    o[0] = o[1] = 0;
    CHECK(gf_st_read_f32(f, "w", -1, NULL, o) == GF_OK && o[0] == 2.5f && o[1] == 0.25f);
    float nine = 9.0f;
    memcpy(copy + n - 2 * sizeof(float), &nine, sizeof nine);
    CHECK(gf_st_read_f32(f, "w", -1, NULL, o) == GF_OK && o[0] == 9.0f && o[1] == 0.25f);
    gf_st_close(f);
    free(copy);
}

static void test_bad_inputs(void)
{
    float d4[4] = {1, 2, 3, 4};

    /* truncated: shorter than 8 bytes */
    gf_st_file *f = (gf_st_file *)1;
    CHECK(gf_st_parse((const uint8_t *)"\x02\0\0", 3, "bad.safetensors", &f) == GF_ERR_FORMAT && !f);
    CHECK_MSG(has("shorter than 8 bytes"), "%s", gf_last_error());
    CHECK(gf_st_parse(NULL, 0, "bad.safetensors", &f) == GF_ERR_FORMAT && !f);

    /* lying header length */
    uint8_t buf[256];
    size_t n = make_buf(buf, "{}", NULL, 0);
    buf[0] = 0xe8; buf[1] = 0x03;                       /* claims 1000 bytes */
    CHECK(gf_st_parse(buf, n, "bad.safetensors", &f) == GF_ERR_FORMAT && !f);
    CHECK_MSG(has("header length 1000 exceeds file size 10"), "%s", gf_last_error());
    memset(buf, 0xff, 8);                                /* claims 2^64 - 1 */
    CHECK(gf_st_parse(buf, n, "bad.safetensors", &f) == GF_ERR_FORMAT && !f);
    CHECK_MSG(has("exceeds file size"), "%s", gf_last_error());

    /* JSON problems */
    BAD("{\"a\":", NULL, 0, GF_ERR_FORMAT, "invalid JSON");
    BAD("", NULL, 0, GF_ERR_FORMAT, "invalid JSON");
    BAD("{\"a\":{}, \"a\":{}}", NULL, 0, GF_ERR_FORMAT, "duplicate");
    BAD("{\"a\":1} trailing", NULL, 0, GF_ERR_FORMAT, "invalid JSON");
    BAD("[1, 2]", NULL, 0, GF_ERR_FORMAT, "not a JSON object");
    BAD("{\"a\":[1]}", NULL, 0, GF_ERR_FORMAT, "not a JSON object");

    /* entries: missing fields, wrong types */
    BAD("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "missing \"dtype\"");
    BAD("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "missing \"shape\"");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", d4, 4, GF_ERR_FORMAT, "missing \"data_offsets\"");
    BAD("{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "dtype is not a string");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "shape is not an array");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "not an integer");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", d4, 4, GF_ERR_FORMAT, "data_offsets");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", d4, 4, GF_ERR_FORMAT, "data_offsets");
    BAD("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,8,9],\"data_offsets\":[0,4]}}", d4, 4,
        GF_ERR_FORMAT, "dimensions");

    /* unknown dtype, negative dims, overflow */
    BAD("{\"w\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT,
        "unknown dtype \"F31\" for tensor \"w\"");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", d4, 4, GF_ERR_FORMAT, "negative");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,16],\"data_offsets\":[0,4]}}", d4, 4,
        GF_ERR_FORMAT, "overflow");
    BAD("{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}", d4, 4,
        GF_ERR_FORMAT, "overflow");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", d4, 4,
        GF_ERR_FORMAT, "invalid JSON");

    /* offsets out of range, reversed, negative */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d4, 12, GF_ERR_FORMAT, "out of range");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", d4, 16, GF_ERR_FORMAT, "out of range");
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", d4, 16, GF_ERR_FORMAT, "out of range");

    /* byte size != numel * dtype size */
    BAD("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", d4, 16, GF_ERR_FORMAT, "size mismatch");
    BAD("{\"w\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", d4, 16, GF_ERR_FORMAT, "needs 4");

    /* metadata */
    BAD("{\"__metadata__\":{\"epoch\":3}}", NULL, 0, GF_ERR_FORMAT, "__metadata__");
    BAD("{\"__metadata__\":[\"x\"]}", NULL, 0, GF_ERR_FORMAT, "__metadata__");

    /* truncated data section of a file written by us */
    float w[4] = {1, 2, 3, 4};
    gf_st_tensor t[] = {{"w", 1, {4}, w}};
    const char *p = path_in("trunc.safetensors");
    CHECK(gf_st_write(p, t, 1, NULL, 0) == GF_OK);
    size_t len = 0;
    uint8_t *all = slurp(p, &len);
    CHECK(all != NULL);
    if (all) {
        CHECK(gf_st_parse(all, len, "ok", &f) == GF_OK);
        gf_st_close(f);
        spit(p, all, len - 4);
        CHECK(gf_st_open(p, &f) == GF_ERR_FORMAT && !f);
        CHECK_MSG(has("out of range") && has("trunc.safetensors"), "%s", gf_last_error());
        spit(p, all, 12);
        CHECK(gf_st_open(p, &f) == GF_ERR_FORMAT && !f);
        CHECK_MSG(has("exceeds file size 12"), "%s", gf_last_error());
        spit(p, all, 5);
        CHECK(gf_st_open(p, &f) == GF_ERR_FORMAT && !f);
        CHECK_MSG(has("shorter than 8 bytes"), "%s", gf_last_error());
        free(all);
    }

    /* missing file, directory */
    CHECK(gf_st_open(path_in("no-such.safetensors"), &f) == GF_ERR_IO && !f);
    CHECK_MSG(has("no-such.safetensors") && has("No such file"), "%s", gf_last_error());
    CHECK(gf_st_open(dir, &f) == GF_ERR_IO && !f);
}

static int count_tmp_files(void)
{
    int k = 0;
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp-")) k++;
    closedir(d);
    return k;
}

static void test_atomic(void)
{
    float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    gf_st_tensor t[] = {{"x", 1, {3}, a}};
    const char *p = path_in("atomic.safetensors");
    CHECK(gf_st_write(p, t, 1, NULL, 0) == GF_OK);
    CHECK(gf_st_write(p, t, 1, NULL, 0) == GF_OK);     /* overwrite in place */
    CHECK(count_tmp_files() == 0);
    size_t n0 = 0;
    uint8_t *before = slurp(p, &n0);

    /* into a directory that does not exist */
    char bad[300];
    snprintf(bad, sizeof bad, "%s/no-such-dir/x.safetensors", dir);
    CHECK(gf_st_write(bad, t, 1, NULL, 0) == GF_ERR_IO);
    CHECK_MSG(has("no-such-dir/x.safetensors") && has("No such file"), "%s", gf_last_error());

    /* destination is a directory: the rename fails, the temp file goes away */
    const char *sub = path_in("subdir");
    CHECK(mkdir(sub, 0700) == 0);
    t[0].data = b;
    CHECK(gf_st_write(sub, t, 1, NULL, 0) == GF_ERR_IO);
    CHECK_MSG(has("rename"), "%s", gf_last_error());
    CHECK(count_tmp_files() == 0);
    rmdir(sub);

    /* the earlier file is untouched */
    size_t n1 = 0;
    uint8_t *after = slurp(p, &n1);
    CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
    free(before);
    free(after);

    /* a bare relative name goes to the current directory */
    char cwd[512];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    CHECK(chdir(dir) == 0);
    CHECK(gf_st_write("rel.safetensors", t, 1, NULL, 0) == GF_OK);
    CHECK(chdir(cwd) == 0);
    gf_st_file *f = NULL;
    CHECK(gf_st_open(path_in("rel.safetensors"), &f) == GF_OK);
    float o[3];
    CHECK(f && gf_st_read_f32(f, "x", 1, (int64_t[]){3}, o) == GF_OK && o[2] == 6.0f);
    gf_st_close(f);
    CHECK(count_tmp_files() == 0);
}

static void cleanup(void)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') unlink(path_in(e->d_name));
    closedir(d);
    rmdir(dir);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gf_st_test_XXXXXX");
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_round_trip();
    test_hand_made_bytes();
    test_hand_made_f16();
    test_bad_inputs();
    test_atomic();
    cleanup();
    return check_summary();
}
