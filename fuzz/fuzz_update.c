/* libFuzzer target: arbitrary bytes as an inbound model update, for
 * mlp:4-3-2 and for its SCAFFOLD layout (tensors + "control.*"); decoding
 * must refuse or accept cleanly, never crash or leak. An accepted update
 * must re-encode to a body that decodes the same, and the in-place view
 * (what the coordinator uses) must agree with the copying decoder and
 * expose the metadata. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const gf_manifest *m, const uint8_t *data, size_t size)
{
    float v[128], w[128];
    gf_update_view view;
    gf_status sv = gf_update_view_open(m, data, size, 1 << 16, &view);
    gf_status sd = gf_update_decode(m, data, size, 1 << 16, v);
    if ((sv == GF_OK) != (sd == GF_OK)) abort();
    if (sv != GF_OK) return;
    if (memcmp(view.vec, v, sizeof(float) * (size_t)m->d)) abort();
    (void)gf_st_meta_get(view.file, "gf.samples");
    gf_update_view_close(&view);
    uint8_t *buf;
    size_t len;
    if (gf_update_encode(m, v, NULL, 0, &buf, &len) != GF_OK) abort();
    if (gf_update_decode(m, buf, len, len, w) != GF_OK || memcmp(v, w, sizeof(float) * (size_t)m->d)) abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gf_manifest m, mc;
    static int ready;
    if (!ready) {
        if (gf_manifest_from_spec("mlp:4-3-2", &m) || gf_manifest_with_control(&m, &mc)) abort();
        ready = 1;
    }
    one(&m, data, size);
    one(&mc, data, size);
    return 0;
}
