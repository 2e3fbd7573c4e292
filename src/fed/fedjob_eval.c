/* Per-site evaluation in a federated job's runtime (see fedjob.h): which
 * rounds ask the sites to score the model they download, the evaluation
 * round of the final model, and the counting of the sites' reports. */
#include "fed/fedjob.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gf_fedjob_round_evaluates(const gf_fedjob *j)
{
    int every = j->spec.eval_every;
    if (every <= 0 || j->round < 1) return 0;
    if (j->eval_round) return 1;
    int64_t model = j->round - 1;            /* the global model the round's sites download */
    return model >= 1 && model % every == 0;
}

gf_status gf_fedjob_open_eval(gf_fedjob *j, const char *const *names, int n, double now)
{
    if (j->round || j->completed < j->spec.rounds || j->spec.eval_every <= 0 || n < 1)
        return gf_errorf(GF_ERR_ARG, "job %lld: no evaluation round to open (completed %lld of %d, %d sites)",
                         (long long)j->id, (long long)j->completed, j->spec.rounds, n);
    gf_fedjob_part *p = calloc((size_t)n, sizeof *p);
    if (!p) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) snprintf(p[i].name, sizeof p[i].name, "%s", names[i]);
    free(j->parts);
    j->parts = p;
    j->nparts = n;
    j->received = j->declined = j->evaluated = 0;
    j->round = j->completed + 1;
    j->eval_round = 1;
    j->closing = 0;
    j->opened_at = now;
    j->deadline = now + j->spec.round_deadline_s;
    return GF_OK;
}

void gf_fedjob_end_eval(gf_fedjob *j)
{
    j->round = 0;
    j->eval_round = j->evaluated = 0;
    j->nparts = j->received = j->declined = 0;
    free(j->parts);
    j->parts = NULL;
    j->final_evaluated = 1;
}

gf_status gf_fedjob_check_eval(const gf_fedjob *j, const char *site, int64_t round, int *http)
{
    *http = 409;
    if (j->round == 0 || round != j->round || j->closing)
        return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld is not open (late evaluation report)",
                         (long long)round, (long long)j->id);
    if (!gf_fedjob_round_evaluates(j))
        return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld asks for no evaluation", (long long)round,
                         (long long)j->id);
    int i = gf_fedjob_part_index(j, site);
    const gf_fedjob_part *p = i < 0 ? NULL : &j->parts[i];
    if (!p) {
        *http = 403;
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" was not chosen for round %lld of job %lld", site,
                         (long long)round, (long long)j->id);
    }
    if (p->evaluated || p->declined)
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" already %s round %lld of job %lld", site,
                         p->evaluated ? "reported its evaluation for" : "declined", (long long)round, (long long)j->id);
    return GF_OK;
}

gf_status gf_fedjob_add_eval(gf_fedjob *j, const char *site, int64_t round, int *http)
{
    gf_status st = gf_fedjob_check_eval(j, site, round, http);
    if (st) return st;
    gf_fedjob_part_of(j, site)->evaluated = 1;
    j->evaluated++;
    return GF_OK;
}
