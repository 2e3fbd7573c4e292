/* libFuzzer target: arbitrary bytes as an inbound model update for
 * mlp:4-3-2; decoding must refuse or accept cleanly, never crash or leak,
 * and an accepted update must re-encode to a body that decodes the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static gf_manifest m;
    static int ready;
    if (!ready) {
        if (gf_manifest_from_spec("mlp:4-3-2", &m)) abort();
        ready = 1;
    }
    float v[64], w[64];
    if (gf_update_decode(&m, data, size, 1 << 16, v) != GF_OK) return 0;
    uint8_t *buf;
    size_t len;
    if (gf_update_encode(&m, v, NULL, 0, &buf, &len) != GF_OK) abort();
    if (gf_update_decode(&m, buf, len, len, w) != GF_OK || memcmp(v, w, sizeof(float) * m.d)) abort();
    free(buf);
    return 0;
}
