/* The global model's body across rounds (fed/fedjob.c): a body a reader
 * still holds (a download in flight, the recorder writing it) is never
 * changed; the next global is then a new body or the spare one (the body
 * before, once no reader holds it); with no reader the round updates the
 * body in place and drops the spare. Every body decodes to the expected
 * FedAvg global, recomputed here from the uploads. */
#include "fed/fedjob.h"
#include "check.h"
#include "fedjob_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/gf-fedjob-global-XXXXXX";

static gf_fedjob *start(void)
{
    gf_fedspec s = fedjob_test_spec(10);
    gf_fedjob *j = NULL;
    CHECK_MSG(gf_fedjob_start(dir, 1, &s, 0, 1, &j) == GF_OK, "%s", gf_last_error());
    return j;
}

/* A held body and a copy of its bytes when it was taken. */
typedef struct { gf_blob *b; uint8_t *copy; size_t len; } held;

static held hold(gf_fedjob *j)
{
    held h = { gf_fedjob_task_model(j), NULL, 0 };
    h.len = gf_blob_len(h.b);
    h.copy = malloc(h.len);
    if (h.copy) memcpy(h.copy, gf_blob_data(h.b), h.len);
    return h;
}

static void check_unchanged(held *h, const char *what)
{
    CHECK_MSG(h->copy && gf_blob_len(h->b) == h->len && !memcmp(gf_blob_data(h->b), h->copy, h->len),
              "%s: a held body changed", what);
}

static void drop(held *h)
{
    gf_blob_unref(h->b);
    free(h->copy);
    *h = (held){ 0 };
}

/* Round r with site "a" sending update u (d); want (d) += u, as FedAvg with
 * one site and server_lr 1 computes it. */
static void run_round(gf_fedjob *j, int r, float *want)
{
    const char *sites[] = { "a" };
    int64_t d = j->model.d;
    float *u = malloc(sizeof *u * (size_t)d);
    if (!u) { CHECK(0); return; }
    for (int64_t i = 0; i < d; i++) u[i] = 0.01f * (float)((r * 7 + i) % 11) - 0.05f;
    CHECK(gf_fedjob_open(j, r, sites, 1, 0.0) == GF_OK);
    gf_st_meta meta[] = { { "gf.samples", "10" }, { "gf.steps", "1" }, { "gf.train_loss", "0.5" } };
    uint8_t *body = NULL;
    size_t len = 0;
    gf_fedjob_upload up;
    int http = 0;
    double loss;
    CHECK(gf_update_encode(&j->wire, u, meta, 3, &body, &len) == GF_OK);
    CHECK_MSG(gf_fedjob_decode_upload(&j->wire, 0, body, len, gf_fedjob_upload_max(j), &up, &http) == GF_OK,
              "%s", gf_last_error());
    CHECK_MSG(gf_fedjob_add_upload(j, "a", r, &up, (int64_t)len, &http) == GF_OK, "%s", gf_last_error());
    CHECK_MSG(gf_fedjob_aggregate(j, &loss) == GF_OK, "%s", gf_last_error());
    gf_fedjob_end_round(j, 1);
    for (int64_t i = 0; i < d; i++) want[i] = (float)((double)want[i] + (double)u[i]);
    free(body);
    free(u);
}

/* The job's global body decodes to want (d). */
static void check_global(gf_fedjob *j, const float *want, const char *what)
{
    int64_t d = j->model.d;
    float *got = malloc(sizeof *got * (size_t)d);
    if (!got) { CHECK(0); return; }
    gf_status st = gf_update_decode(&j->wire, gf_blob_data(j->global), gf_blob_len(j->global),
                                    gf_blob_len(j->global), got);
    CHECK_MSG(st == GF_OK, "%s: %s", what, gf_last_error());
    CHECK_MSG(!st && !memcmp(got, want, sizeof *got * (size_t)d), "%s: the global is not the FedAvg result", what);
    free(got);
}

int main(void)
{
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    gf_fedjob *j = start();
    float *want = j ? malloc(sizeof *want * (size_t)j->model.d) : NULL;
    if (!j || !want) { CHECK(0); free(want); gf_fedjob_free(j); return check_summary(); }
    memcpy(want, gf_update_blob_vector(&j->wire, j->global), sizeof *want * (size_t)j->model.d);

    /* round 1 under a reader: a new body; the reader's is untouched */
    held h0 = hold(j);
    run_round(j, 1, want);
    CHECK(j->global != h0.b);
    check_unchanged(&h0, "round 1");
    check_global(j, want, "round 1");
    gf_blob *body0 = h0.b;
    drop(&h0);

    /* round 2 under a reader of round 1's body: round 0's, free now, is written over */
    held h1 = hold(j);
    run_round(j, 2, want);
    CHECK_MSG(j->global == body0, "round 2 did not reuse the spare body");
    check_unchanged(&h1, "round 2");
    check_global(j, want, "round 2");

    /* round 3 while both earlier bodies are held: neither is written over */
    held h2 = hold(j);
    run_round(j, 3, want);
    CHECK(j->global != h1.b && j->global != h2.b);
    check_unchanged(&h1, "round 3 (round 1's body)");
    check_unchanged(&h2, "round 3 (round 2's body)");
    check_global(j, want, "round 3");
    drop(&h1);
    drop(&h2);

    /* round 4 with no reader: in place, and the spare's memory is given back */
    gf_blob *body3 = j->global;
    CHECK(j->spare != NULL);
    run_round(j, 4, want);
    CHECK(j->global == body3);
    CHECK_MSG(j->spare == NULL, "a round in place kept the spare body");
    check_global(j, want, "round 4");

    free(want);
    gf_fedjob_free(j);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
