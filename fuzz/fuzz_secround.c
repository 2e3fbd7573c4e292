/* libFuzzer target: arbitrary bytes as the secure-aggregation messages a
 * coordinator receives (fed/secround.h). The input is a script: each
 * step is a header byte (site = low 3 bits, message = next 3 bits mod 5, advance
 * the phase = top bit) and a 2-byte length, then that many body bytes, fed
 * to a round of 6 sites over a 5-parameter model. Every message must be
 * accepted or refused cleanly; whatever happens, the round must never
 * crash, and a refused message must leave an HTTP status of 400 or 409. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fed/secround.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gf_secagg_config cfg = { .enabled = 1, .max_weight = 100, .phase_timeout_s = 60 };
    gf_secround *r = NULL;
    if (gf_secround_new(&cfg, NULL, 0, 1, 1, 6, 5, 0.0, &r) != GF_OK) abort();
    double now = 0;
    size_t at = 0;
    while (at + 3 <= size) {
        uint8_t h = data[at];
        size_t len = (size_t)data[at + 1] | (size_t)data[at + 2] << 8;
        at += 3;
        if (len > size - at) len = size - at;
        const uint8_t *body = data + at;
        at += len;
        int site = h & 7, http = 0;
        gf_status st;
        switch (((h >> 3) & 7) % 5) {
        case 0: st = gf_secround_add_keys(r, site, body, len, &http); break;
        case 1: st = gf_secround_add_shares(r, site, body, len, &http); break;
        case 2: st = gf_secround_add_masked(r, site, body, len, &http); break;
        case 3: st = gf_secround_add_consistency(r, site, body, len, &http); break;
        default: st = gf_secround_add_unmask(r, site, body, len, &http); break;
        }
        if (st != GF_OK && http != 400 && http != 409) abort();
        uint8_t *out = NULL;
        size_t olen;
        for (int i = 0; i < 6; i++) {
            if (gf_secround_key_table(r, i, &out, &olen, &http) == GF_OK) free(out);
            out = NULL;
            if (gf_secround_inbox(r, i, &out, &olen, &http) == GF_OK) free(out);
            out = NULL;
            if (gf_secround_survivors(r, i, &out, &olen, &http) == GF_OK) free(out);
            out = NULL;
            if (gf_secround_unmask_request(r, i, &out, &olen, &http) == GF_OK) free(out);
            out = NULL;
        }
        if (h & 0x80) {                  /* the phase's deadline passes */
            now += 100;
            if (gf_secround_advance(r, now, 60, 2) != GF_OK) break;
            if (gf_secround_phase_of(r) == GF_SECROUND_FINISHING &&
                (gf_secround_finish(r) != GF_OK || gf_secround_advance(r, now, 60, 2) != GF_OK))
                break;
        }
        if (h == 0xE0) gf_secround_leave(r, site);
    }
    if (gf_secround_phase_of(r) == GF_SECROUND_DONE) {
        float sum[5];
        double w, count;
        int m;
        if (gf_secround_result(r, sum, &w, &m, &count) != GF_OK) abort();
    }
    gf_secround_free(r);
    return 0;
}
