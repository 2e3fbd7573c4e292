/* Model vectors on the wire: manifests match the model's layout, encoding
 * round-trips bit for bit, and every kind of bad inbound body is refused
 * with a message that names the problem. */
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "core/rng.h"
#include "fed/update.h"

static float *random_vec(int64_t d, uint64_t seed)
{
    gf_rng r;
    gf_rng_seed(&r, seed);
    float *v = malloc(sizeof(float) * (size_t)d);
    for (int64_t i = 0; i < d; i++) v[i] = gf_rng_uniform(&r) - 0.5f;
    return v;
}

static void expect_fail(const char *what, gf_status got, gf_status want, const char *words)
{
    CHECK_MSG(got == want, "%s: status %d, want %d (%s)", what, got, want, gf_last_error());
    CHECK_MSG(strstr(gf_last_error(), words) != NULL, "%s: message \"%s\" lacks \"%s\"", what,
              gf_last_error(), words);
}

int main(void)
{
    gf_manifest cnn, small, other;
    CHECK(gf_manifest_from_spec("cnn", &cnn) == GF_OK);
    CHECK(cnn.n == 8 && cnn.d == 454922);
    CHECK(!strcmp(cnn.e[2].name, "3.weight") && cnn.e[2].ndim == 4 && cnn.e[2].shape[1] == 32);
    int64_t at = 0;
    for (int i = 0; i < cnn.n; i++) { CHECK(cnn.e[i].offset == at); at += cnn.e[i].numel; }
    CHECK(at == cnn.d);
    CHECK(gf_manifest_from_spec("mlp:4-3-2", &small) == GF_OK && small.d == 4 * 3 + 3 + 3 * 2 + 2);
    CHECK(gf_manifest_from_spec("mlp:4-5-2", &other) == GF_OK);
    gf_manifest none;
    expect_fail("bad spec", gf_manifest_from_spec("mlp:4", &none), GF_ERR_ARG, "mlp");
    CHECK(none.n == 0 && none.e == NULL);

    /* round trip, bit for bit, with metadata */
    float *v = random_vec(cnn.d, 1), *back = random_vec(cnn.d, 2);
    gf_st_meta meta[] = { { "gf.round", "7" } };
    uint8_t *buf;
    size_t len;
    CHECK(gf_update_encode(&cnn, v, meta, 1, &buf, &len) == GF_OK);
    CHECK(len > (size_t)cnn.d * 4 && len < (size_t)cnn.d * 4 + 4096);
    CHECK(gf_update_decode(&cnn, buf, len, len, back) == GF_OK);
    CHECK(!memcmp(v, back, sizeof(float) * (size_t)cnn.d));

    /* limits and framing */
    expect_fail("over the size limit", gf_update_decode(&cnn, buf, len, len - 1, back), GF_ERR_ARG, "limit");
    expect_fail("truncated", gf_update_decode(&cnn, buf, len / 2, len, back), GF_ERR_FORMAT, "update");
    const uint8_t junk[] = "GET / HTTP/1.1\r\n\r\n";
    expect_fail("not safetensors", gf_update_decode(&cnn, junk, sizeof junk, len, back), GF_ERR_FORMAT, "header");
    expect_fail("another model's update", gf_update_decode(&small, buf, len, len, back), GF_ERR_MISMATCH, "3.weight");
    free(buf);

    /* shape: an update for mlp:4-5-2 against mlp:4-3-2 */
    float *vo = random_vec(other.d, 3), *vs = random_vec(small.d, 4);
    CHECK(gf_update_encode(&other, vo, NULL, 0, &buf, &len) == GF_OK);
    expect_fail("wrong shape", gf_update_decode(&small, buf, len, 1 << 20, vs), GF_ERR_MISMATCH, "0.weight");
    free(buf);

    /* missing and extra tensors */
    gf_manifest cut = small;
    cut.n = small.n - 1;                      /* leave out "2.bias" */
    CHECK(gf_update_encode(&cut, vs, NULL, 0, &buf, &len) == GF_OK);
    expect_fail("missing tensor", gf_update_decode(&small, buf, len, 1 << 20, vs), GF_ERR_MISMATCH, "2.bias");
    free(buf);
    gf_manifest_entry more[5];
    memcpy(more, small.e, sizeof(gf_manifest_entry) * 4);
    more[4] = small.e[3];
    strcpy(more[4].name, "9.secret");
    gf_manifest extra = { 5, more, small.d };
    CHECK(gf_update_encode(&extra, vs, NULL, 0, &buf, &len) == GF_OK);
    expect_fail("extra tensor", gf_update_decode(&small, buf, len, 1 << 20, vs), GF_ERR_MISMATCH, "9.secret");
    free(buf);

    /* non-finite values, named by tensor and index */
    float *bad = random_vec(small.d, 5);
    bad[small.e[2].offset + 4] = NAN;
    CHECK(gf_update_encode(&small, bad, NULL, 0, &buf, &len) == GF_OK);
    expect_fail("NaN", gf_update_decode(&small, buf, len, 1 << 20, vs), GF_ERR_NUMERIC, "\"2.weight\" holds NaN at index 4");
    free(buf);
    bad[small.e[2].offset + 4] = 0.0f;
    bad[1] = -INFINITY;
    CHECK(gf_update_encode(&small, bad, NULL, 0, &buf, &len) == GF_OK);
    expect_fail("infinity", gf_update_decode(&small, buf, len, 1 << 20, vs), GF_ERR_NUMERIC, "infinity at index 1");
    free(buf);

    /* a dtype other than F32 (hand-made body: one F16 tensor) */
    const char hdr[] = "{\"0.weight\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]}}";
    size_t hl = sizeof hdr - 1;
    uint8_t f16[8 + sizeof hdr + 24] = {0};
    f16[0] = (uint8_t)hl;
    memcpy(f16 + 8, hdr, hl);
    expect_fail("F16 tensor", gf_update_decode(&small, f16, 8 + hl + 24, 1 << 20, vs), GF_ERR_MISMATCH, "F16");

    free(v); free(back); free(vo); free(vs); free(bad);
    gf_manifest_free(&cnn);
    gf_manifest_free(&small);
    gf_manifest_free(&other);
    return check_summary();
}
