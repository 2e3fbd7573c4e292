/* The federated job spec that the fed/fedjob unit tests start from: FedAvg
 * on mlp:4-3-2, every site every round (at least one), one epoch of SGD at
 * lr 0.1 in batches of 8, seed 1; each test changes what it studies. */
#ifndef GF_TESTS_FEDJOB_SPEC_H
#define GF_TESTS_FEDJOB_SPEC_H

#include "fed/fedjob.h"

#include <stdio.h>

static inline gf_fedspec fedjob_test_spec(int rounds)
{
    gf_fedspec s = { .rounds = rounds, .fraction = 1.0, .min_sites = 1, .round_deadline_s = 60, .seed = 1 };
    snprintf(s.name, sizeof s.name, "j");
    snprintf(s.model, sizeof s.model, "mlp:4-3-2");
    s.strategy = gf_strategy_defaults(GF_STRAT_FEDAVG);
    s.local.epochs = 1;
    s.local.steps = -1;
    s.local.batch = 8;
    s.local.optim = gf_optim_defaults(GF_OPTIM_SGD, 0.1f);
    return s;
}

#endif
