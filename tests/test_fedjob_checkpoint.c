/* Which checkpoints of a federated job stay on disk (fed/fedjob.c): the
 * last two written, also when rounds were written together (round 3 and 4
 * in one record leave no round-3 file) and across a restart; a checkpoint
 * of a round after the store's last completed one (written before a crash,
 * never recorded) is removed when the job is brought up again, and the job
 * resumes from the completed one. */
#include "fed/fedjob.h"
#include "check.h"
#include "fedjob_spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/gf-fedjob-ckpt-XXXXXX";

static gf_fedjob *start(int64_t completed)
{
    gf_fedspec s = fedjob_test_spec(10);
    gf_fedjob *j = NULL;
    CHECK_MSG(gf_fedjob_start(dir, 1, &s, completed, 1, &j) == GF_OK, "%s", gf_last_error());
    return j;
}

/* which of rounds 1..9 have a checkpoint, as "1 2 ..." */
static const char *present(void)
{
    static char out[64];
    out[0] = 0;
    for (int r = 1; r <= 9; r++) {
        char p[256];
        gf_fedjob_artifact_path(dir, 1, r, p, sizeof p);
        if (!access(p, F_OK)) snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d", out[0] ? " " : "", r);
    }
    return out;
}

static void write_round(gf_fedjob *j, int r)
{
    CHECK_MSG(gf_fedjob_checkpoint(j, dir, r, NAN, NULL) == GF_OK, "round %d: %s", r, gf_last_error());
}

int main(void)
{
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    gf_fedjob *j = start(0);
    if (!j) return check_summary();
    write_round(j, 1);
    write_round(j, 2);
    CHECK_MSG(!strcmp(present(), "1 2"), "after 1, 2: %s", present());
    write_round(j, 4);                         /* rounds 3 and 4 written together */
    CHECK_MSG(!strcmp(present(), "2 4"), "after 1, 2, 4: %s", present());
    write_round(j, 5);
    CHECK_MSG(!strcmp(present(), "4 5"), "after 5: %s", present());
    write_round(j, 7);                         /* written, then a crash before the store recorded it */
    gf_fedjob_free(j);

    CHECK_MSG(!strcmp(present(), "5 7"), "after 7: %s", present());
    j = start(5);                              /* the store says 5: round 7's file goes, 5 stays */
    CHECK_MSG(!strcmp(present(), "5"), "restart at 5: %s", present());
    if (j) {
        write_round(j, 6);
        CHECK_MSG(!strcmp(present(), "5 6"), "after 6: %s", present());
        gf_fedjob_free(j);
    }
    j = start(6);
    if (j) {
        write_round(j, 9);
        CHECK_MSG(!strcmp(present(), "6 9"), "restart at 6, then 9: %s", present());
        gf_fedjob_free(j);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
    return check_summary();
}
