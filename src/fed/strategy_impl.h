/* The strategy object shared by strategy.c (config, lifecycle, adds, state),
 * strategy_sum.c (the streaming strategies' finish) and strategy_robust.c
 * (the robust strategies' finish). Not part of the public API. */
#ifndef GF_FED_STRATEGY_IMPL_H
#define GF_FED_STRATEGY_IMPL_H

#include "fed/strategy.h"

struct gf_strategy {
    gf_strategy_config cfg;
    int64_t d;            /* parameters */
    int     max_sites;    /* robust: rows of `updates` */
    int     n;            /* updates added this round */

    /* streaming: this round's accumulators */
    double  wsum;         /* sum_i w_i */
    double *sum;          /* (d) sum_i w_i * update_i (SCAFFOLD: sum_i update_i); stale while n is 0 */
    double *csum;         /* (d) SCAFFOLD: sum_i control_delta_i; stale while n is 0 */
    float   maxabs;       /* max_i max_j |update_ij| (FedAvg's and FedProx's bound); infinity
                             once noise went into the sum (the bound then proves nothing) */

    /* robust: this round's updates and work buffers */
    float  *updates;      /* (max_sites, d), row i = i-th add */
    double *agg;          /* (d) the aggregate step before it is applied */
    double *dist;         /* (max_sites, max_sites) Krum: squared L2 distances */
    double *row;          /* (2, max_sites) Krum: one site's distances to the others; scores */
    float  *scratch;      /* (nthreads, max_sites) median/trimmed mean: one coordinate's values */
    int     nthreads;     /* OpenMP threads the scratch is sized for */

    /* server state that survives rounds: (nstate, d) */
    int     nstate;
    float  *state;
};

/* Apply the round to global (d) and the state; n >= 1 is checked by the
 * caller. On error nothing is modified. */
gf_status gf_strategy_finish_sum(gf_strategy *s, const float *from, float *to);
gf_status gf_strategy_finish_robust(gf_strategy *s, const float *from, float *to);

#endif
