/* Test helper: the initial weights of a model in a committed reference file
 * (under tests/data), regenerated exactly as scripts/gen_reference.py
 * makes them (its init_params): tensor k, element i = shift + (2u - 1) *
 * scale in float32 with u = (gf_hash64(seed * 1000 + k, i) >> 40) / 2^24,
 * the scale and shift of each tensor read from the file's metadata
 * "C.init.scale.NAME" and "C.init.shift.NAME" for case C. */
#ifndef GF_TESTS_REFERENCE_INIT_H
#define GF_TESTS_REFERENCE_INIT_H

#include <stdio.h>
#include <stdlib.h>
#include "check.h"
#include "core/rng.h"
#include "engine/model.h"
#include "io/safetensors.h"

static void reference_init(const gf_st_file *ref, gf_model *m, const char *c, uint64_t seed)
{
    char key[128];
    for (int k = 0; k < gf_model_num_tensors(m); k++) {
        gf_tensor_view v;
        gf_model_tensor(m, k, &v);
        snprintf(key, sizeof key, "%s.init.scale.%s", c, v.name);
        const char *sc = gf_st_meta_get(ref, key);
        snprintf(key, sizeof key, "%s.init.shift.%s", c, v.name);
        const char *sh = gf_st_meta_get(ref, key);
        CHECK_MSG(sc && sh, "reference lacks the init range of %s.%s", c, v.name);
        if (!sc || !sh) continue;
        float scale = strtof(sc, NULL), shift = strtof(sh, NULL);
        for (int64_t i = 0; i < v.numel; i++) {
            float u = (float)(gf_hash64(seed * 1000 + (uint64_t)k, (uint64_t)i) >> 40) * (1.0f / 16777216.0f);
            v.data[i] = shift + (2.0f * u - 1.0f) * scale;
        }
    }
}

#endif
