/* libFuzzer target: arbitrary bytes as the preprocessing JSON a site gets
 * in its task and gf eval reads from a model (data/preprocess.h), and as a
 * statistics result the coordinator builds a preprocessing from. Decoding
 * must refuse or accept cleanly, never crash or leak; an accepted one must
 * encode to JSON that decodes to the same arrays, and apply to a small
 * dataset of its width (with a missing value) without fault. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "data/preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_preprocess p, q;
    int64_t drop[] = { 0 };
    gf_preprocess_config cfg = { .impute = GF_IMPUTE_MEDIAN, .standardize = 1, .drop = drop, .ndrop = size & 1 };
    if (gf_preprocess_from_stats_json(&cfg, (const char *)data, size, &p) == GF_OK) gf_preprocess_free(&p);
    if (gf_preprocess_from_json((const char *)data, size, &p) != GF_OK) return 0;
    char *a = NULL;
    if (gf_preprocess_to_json(&p, &a) != GF_OK || gf_preprocess_from_json(a, strlen(a), &q) != GF_OK) abort();
    if (q.columns != p.columns || q.kept != p.kept || memcmp(q.drop, p.drop, (size_t)p.columns) ||
        memcmp(q.center, p.center, sizeof(float) * (size_t)p.columns) ||
        memcmp(q.scale, p.scale, sizeof(float) * (size_t)p.columns))
        abort();
    if (p.columns <= 64) {
        float x[2 * 64];
        int32_t y[2] = { 0, 3 };
        for (int i = 0; i < 2 * 64; i++) x[i] = (float)i;
        x[1] = NAN;
        gf_dataset d = { .n = 2, .c = 1, .h = 1, .w = (int)p.columns, .dim = p.columns, .num_classes = 4, .x = x, .y = y };
        gf_dataset out;
        if (gf_preprocess_apply(&p, &d, "fuzz", &out) == GF_OK) gf_dataset_free(&out);
    }
    free(a);
    gf_preprocess_free(&p);
    gf_preprocess_free(&q);
    return 0;
}
