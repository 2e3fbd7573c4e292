/* Per-site evaluation in the job runtime (fed/fedjob.h, fedjob_eval.c):
 * which rounds' tasks ask the sites to evaluate (eval_every 2 over 4
 * rounds: the models after rounds 2 and 4, the latter in the evaluation
 * round), the evaluation round (no update taken, declines and reports
 * counted once per site, nothing from a site not chosen), and a job
 * without eval_every asking for nothing. */
#include "fed/fedjob.h"
#include "check.h"
#include "fedjob_spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gf_fedjob *start(const char *dir, int every)
{
    gf_fedspec s = fedjob_test_spec(4);
    s.eval_every = every;
    gf_fedjob *j = NULL;
    gf_status st = gf_fedjob_start(dir, 7, &s, 0, 2, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    return j;
}

int main(void)
{
    char dir[] = "/tmp/gf-fedjob-eval-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    const char *sites[] = { "a", "b" };
    gf_fedjob *j = start(dir, 2);
    if (!j) return check_summary();
    int asks[5] = { 0 }, http = 0;
    gf_fed_task t;
    for (int r = 1; r <= 4; r++) {
        CHECK(gf_fedjob_open(j, r, sites, 2, 0.0) == GF_OK);
        gf_fedjob_task(j, "a", 0.0, &t);
        asks[r] = t.evaluate.enabled;
        CHECK(!t.evaluate.only && (!t.evaluate.enabled || !strcmp(t.evaluate.path, r == 3 ? "/v1/jobs/7/rounds/3/eval" : "?")));
        if (r == 3) {                          /* the model after round 2 */
            CHECK(gf_fedjob_add_eval(j, "c", 3, &http) != GF_OK && http == 403);
            CHECK(gf_fedjob_add_eval(j, "a", 2, &http) != GF_OK && http == 409);
            CHECK(gf_fedjob_add_eval(j, "a", 3, &http) == GF_OK && j->evaluated == 1);
            CHECK(gf_fedjob_add_eval(j, "a", 3, &http) != GF_OK && http == 409 &&
                  strstr(gf_last_error(), "already reported"));
            CHECK(gf_fedjob_check_answer(j, "a", 3, &http) == GF_OK);   /* a training round still takes its update */
        } else {
            CHECK(gf_fedjob_add_eval(j, "a", r, &http) != GF_OK && http == 409 && strstr(gf_last_error(), "asks for no"));
        }
        gf_fedjob_end_round(j, 1);
    }
    CHECK(!asks[1] && !asks[2] && asks[3] && !asks[4]);
    CHECK(j->completed == 4);
    /* the evaluation round of the final model */
    CHECK(gf_fedjob_open_eval(j, sites, 2, 10.0) == GF_OK && j->round == 5 && j->eval_round);
    gf_fedjob_task(j, "b", 10.0, &t);
    CHECK(t.evaluate.enabled && t.evaluate.only && !t.secagg.enabled && t.round == 5);
    CHECK(gf_fedjob_check_answer(j, "a", 5, &http) != GF_OK && http == 409 && strstr(gf_last_error(), "no update"));
    CHECK(gf_fedjob_add_eval(j, "a", 5, &http) == GF_OK);
    CHECK(gf_fedjob_decline(j, "a", 5, "x", &http) != GF_OK && http == 409);   /* reported already */
    CHECK(gf_fedjob_decline(j, "z", 5, "x", &http) != GF_OK && http == 403);
    CHECK(gf_fedjob_decline(j, "b", 5, "no test split", &http) == GF_OK && j->declined == 1);
    CHECK(gf_fedjob_add_eval(j, "b", 5, &http) != GF_OK && http == 409);       /* declined already */
    CHECK(j->evaluated + j->declined == j->nparts);
    gf_fedjob_end_eval(j);
    CHECK(j->round == 0 && j->final_evaluated && j->completed == 4 && !j->eval_round);
    CHECK(gf_fedjob_open_eval(j, sites, 2, 10.0) != GF_OK || j->final_evaluated);
    gf_fedjob_free(j);

    /* without eval_every: no round asks, no evaluation round opens */
    j = start(dir, 0);
    if (j) {
        for (int r = 1; r <= 4; r++) {
            CHECK(gf_fedjob_open(j, r, sites, 2, 0.0) == GF_OK);
            gf_fedjob_task(j, "a", 0.0, &t);
            CHECK(!t.evaluate.enabled);
            gf_fedjob_end_round(j, 1);
        }
        CHECK(gf_fedjob_open_eval(j, sites, 2, 0.0) == GF_ERR_ARG);
        gf_fedjob_free(j);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
