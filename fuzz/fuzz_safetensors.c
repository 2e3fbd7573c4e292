/* libFuzzer target for io/safetensors: feeds arbitrary bytes to gf_st_parse
 * and, when they are accepted, reads every tensor back (any shape, then a
 * wrong one) and looks up metadata, so that ASan/UBSan see every offset the
 * validator let through. */
#include "io/safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_st_file *f = NULL;
    if (gf_st_parse(data, size, "fuzz", &f) != GF_OK) {
        if (f) abort();                         /* failure must leave *out NULL */
        return 0;
    }
    /* Every accepted tensor's bytes lie inside the input, so a buffer as
     * large as the input holds any of them: reads with ndim = -1 fit. */
    float *out = malloc((size / sizeof(float) + 1) * sizeof(float));
    if (!out) { gf_st_close(f); return 0; }
    int n = gf_st_count(f);
    for (int i = 0; i < n; i++) {
        const char *name = gf_st_name(f, i);
        if (!name) abort();
        (void)gf_st_read_f32(f, name, -1, NULL, out);
        const int64_t guess[2] = {1, (int64_t)size};
        (void)gf_st_read_f32(f, name, 2, guess, out);     /* almost always a mismatch */
        (void)gf_st_meta_get(f, name);
    }
    if (gf_st_name(f, n) != NULL || gf_st_name(f, -1) != NULL) abort();
    (void)gf_st_read_f32(f, "\x01no such tensor", -1, NULL, out);
    (void)gf_st_meta_get(f, "format");
    free(out);
    gf_st_close(f);
    return 0;
}
