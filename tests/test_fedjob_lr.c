/* The learning-rate schedule across rounds (local.lr_decay, fed/fedjob.c):
 * the task of round r carries lr * lr_decay^(r-1), recomputed here in double
 * from the spec; without a schedule (lr_decay 1, or 0 in a spec built in
 * code) every round carries the spec's lr; a schedule far past a float's
 * range stays a positive lr (the sites refuse lr <= 0). */
#include "fed/fedjob.h"
#include "check.h"
#include "fedjob_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gf_fedjob *start(const char *dir, int64_t id, double decay, int rounds)
{
    gf_fedspec s = fedjob_test_spec(rounds);
    s.local.lr_decay = decay;
    s.local.optim = gf_optim_defaults(GF_OPTIM_ADAMW, 0.003f);
    gf_fedjob *j = NULL;
    gf_status st = gf_fedjob_start(dir, id, &s, 0, 2, &j);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    return j;
}

/* the lr of round r's task for site "a" */
static float task_lr(gf_fedjob *j, int r)
{
    static const char *sites[] = { "a", "b" };
    gf_fed_task t;
    CHECK(gf_fedjob_open(j, r, sites, 2, 0.0) == GF_OK);
    gf_fedjob_task(j, "a", 0.0, &t);
    gf_fedjob_end_round(j, 1);
    CHECK(t.round == r && t.local.optim.type == GF_OPTIM_ADAMW && t.local.optim.weight_decay == j->spec.local.optim.weight_decay);
    return t.local.optim.lr;
}

int main(void)
{
    char dir[] = "/tmp/gf-fedjob-lr-XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    gf_fedjob *j = start(dir, 1, 0.8, 6);
    if (j) {
        for (int r = 1; r <= 6; r++) {
            float want = (float)(0.003f * pow(0.8, r - 1)), got = task_lr(j, r);
            CHECK_MSG(got == want, "round %d: lr %.9g, expected %.9g", r, got, want);
        }
        CHECK(j->spec.local.optim.lr == 0.003f);     /* the spec itself is not changed */
        gf_fedjob_free(j);
    }
    double none[] = { 1.0, 0.0 };
    for (int k = 0; k < 2; k++) {
        j = start(dir, 2 + k, none[k], 3);
        if (!j) continue;
        for (int r = 1; r <= 3; r++) CHECK(task_lr(j, r) == 0.003f);
        gf_fedjob_free(j);
    }
    j = start(dir, 4, 1e-10, 20);                    /* 0.003 * 1e-190 is no float */
    if (j) {
        float lr = task_lr(j, 1);
        CHECK(lr == 0.003f);
        for (int r = 2; r <= 20; r++) lr = task_lr(j, r);
        CHECK_MSG(lr > 0 && lr <= 1e-30f, "round 20: lr %g", lr);
        gf_fedjob_free(j);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    return check_summary();
}
