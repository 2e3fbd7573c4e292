/* Client-level DP with many sites, simulated in one process: N sites, each
 * an IID shard of a dataset, run DP-FedAvg (McMahan et al. 2018) through
 * the coordinator's own functions:
 *   sampling   gf_dp_poisson_sample: each site independently with
 *              probability q from the CSPRNG;
 *   local      gf_local_train: each sampled site trains one round from the
 *              global model (the site's code path);
 *   clipping   gf_dp_norm + gf_dp_clip_scale_norm + gf_strategy_add_scaled
 *              with weight 1 (as gf_fedjob_add_upload does under DP);
 *   noise      gf_dp_round_noise, gf_ddg_plan_central, gf_dgauss_sample and
 *              gf_strategy_snap_noise_sum in chunks of 4096 (as
 *              gf_fedjob_aggregate adds central noise);
 *   average    FedAvg over the fixed denominator qN: the strategy divides
 *              the noised sum by the m updates, so its server step is
 *              m / (qN) (a fresh FedAvg strategy each round: it has no
 *              state);
 *   epsilon    gf_dp_epsilon (accountant.c) at q (amplified: holds only
 *              while the sampling is secret from the aggregator) and at
 *              q = 1 (holds against an aggregator that sees who took part).
 * With --noise 0 and --clip 0: the same run without DP (plain FedAvg
 * weighted by samples over the sampled sites).
 *   build/bench/client_dp [--dataset fashion-mnist] [--model mlp:784-64-10]
 *       [--sites 3000] [--q 0.4] [--rounds 60] [--noise 1] [--clip 1]
 *       [--delta 1e-5] [--lr 0.2] [--batch 5] [--epochs 1] [--seed 1]
 * Prints one line per round: sites taken, test accuracy and loss, epsilon. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/timer.h"
#include "data/dataset.h"
#include "engine/model.h"
#include "fed/local.h"
#include "fed/strategy.h"
#include "privacy/accountant.h"
#include "privacy/ddg.h"
#include "privacy/dgauss.h"
#include "privacy/dp.h"
#include "train/trainer.h"

typedef struct {
    const char *dataset, *model;
    int         sites, rounds, batch, epochs;
    double      q, noise, clip, delta, lr;
    uint64_t    seed;
} bench_args;

static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){ .dataset = "fashion-mnist", .model = "mlp:784-64-10", .sites = 3000, .rounds = 60,
                       .batch = 5, .epochs = 1, .q = 0.4, .noise = 1.0, .clip = 1.0, .delta = 1e-5, .lr = 0.2,
                       .seed = 1 };
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) { fprintf(stderr, "client_dp: %s needs a value\n", k); return 1; }
        i++;
        if (!strcmp(k, "--dataset")) a->dataset = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--sites")) a->sites = atoi(v);
        else if (!strcmp(k, "--rounds")) a->rounds = atoi(v);
        else if (!strcmp(k, "--batch")) a->batch = atoi(v);
        else if (!strcmp(k, "--epochs")) a->epochs = atoi(v);
        else if (!strcmp(k, "--q")) a->q = atof(v);
        else if (!strcmp(k, "--noise")) a->noise = atof(v);
        else if (!strcmp(k, "--clip")) a->clip = atof(v);
        else if (!strcmp(k, "--delta")) a->delta = atof(v);
        else if (!strcmp(k, "--lr")) a->lr = atof(v);
        else if (!strcmp(k, "--seed")) a->seed = strtoull(v, NULL, 10);
        else { fprintf(stderr, "client_dp: unknown option %s\n", k); return 1; }
    }
    if (a->sites < 1 || a->rounds < 1 || a->batch < 1 || a->epochs < 1 || !(a->q > 0 && a->q <= 1) ||
        !(a->noise >= 0) || !(a->clip >= 0) || (a->noise > 0 && !(a->clip > 0)) || !(a->delta > 0 && a->delta < 1)) {
        fprintf(stderr, "client_dp: bad arguments (sites, rounds, batch, epochs >= 1; q in (0, 1]; "
                        "noise >= 0; clip > 0 with noise; delta in (0, 1))\n");
        return 1;
    }
    return 0;
}

/* Central noise on the round's sum, exactly as gf_fedjob_aggregate adds it. */
static gf_status add_central_noise(gf_strategy *s, const gf_dp_config *dp, int m, int64_t d)
{
    double z, sb, unit;
    uint64_t s2;
    int64_t chunk[4096];
    gf_status st = gf_dp_round_noise(dp, m, &z, &sb);
    if (!st) st = gf_ddg_plan_central(dp->clip, d, z, &unit, &s2);
    for (int64_t at = 0; !st && at < d; at += 4096) {
        int64_t len = d - at < 4096 ? d - at : 4096;
        st = gf_dgauss_sample(chunk, len, s2);
        if (!st) st = gf_strategy_snap_noise_sum(s, at, chunk, len, unit);
    }
    return st;
}

static int fail(gf_status st, const char *what)
{
    fprintf(stderr, "client_dp: %s: %s (%s)\n", what, gf_last_error(), gf_status_name(st));
    return 1;
}

int main(int argc, char **argv)
{
    bench_args a;
    if (parse_args(argc, argv, &a)) return 2;
    const int dp_on = a.clip > 0;
    gf_dataset train = {0}, test = {0};
    gf_status st = gf_dataset_open(a.dataset, &train, &test);
    if (st) return fail(st, a.dataset);
    if (train.n < a.sites) { fprintf(stderr, "client_dp: %lld examples for %d sites\n", (long long)train.n, a.sites); return 1; }
    gf_partition part;
    if ((st = gf_partition_iid(&train, a.sites, a.seed, &part))) return fail(st, "partition");
    gf_dataset *shard = calloc((size_t)a.sites, sizeof *shard);   /* (sites) */
    for (int i = 0; i < a.sites && !st; i++)
        st = gf_dataset_subset(&train, part.index + part.offset[i], part.offset[i + 1] - part.offset[i], &shard[i]);
    if (st) return fail(st, "shards");

    gf_train_config ec = { .batch = 256, .threads = 2, .seed = a.seed, .optim = gf_optim_defaults(GF_OPTIM_SGD, (float)a.lr) };
    snprintf(ec.spec, sizeof ec.spec, "%s", a.model);
    gf_trainer *eval;
    if ((st = gf_trainer_create(&ec, &eval))) return fail(st, "model");
    gf_model_init(eval->model, a.seed);
    const int64_t d = eval->model->nparams;
    float *global = malloc(sizeof(float) * (size_t)d), *delta = malloc(sizeof(float) * (size_t)d);   /* (d), (d) */
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)a.sites);                                         /* (sites) */
    memcpy(global, eval->model->params, sizeof(float) * (size_t)d);

    gf_dp_config dp = { .enabled = dp_on, .clip = a.clip, .noise = a.noise, .delta = a.delta };
    const double qn = a.q * a.sites;
    printf("# client_dp: %s, %s (d %lld), %d sites of %lld-%lld examples, q %g (expected %.0f per round), "
           "%d rounds, local: %d epoch(s), batch %d, SGD lr %g; %s\n",
           a.dataset, a.model, (long long)d, a.sites, (long long)(train.n / a.sites),
           (long long)((train.n + a.sites - 1) / a.sites), a.q, qn, a.rounds, a.epochs, a.batch, a.lr,
           dp_on ? "DP-FedAvg" : "FedAvg (no DP)");
    if (dp_on)
        printf("# clip S %g, noise multiplier %g (std %g on the sum, %g on the mean over qN), delta %g\n",
               a.clip, a.noise, a.noise * a.clip, a.noise * a.clip / qn, a.delta);
    printf("round  sites  mean_norm  clipped  test_acc  test_loss  eps(q=%g)  eps(q=1)  seconds\n", a.q);

    double t0 = gf_now(), acc = NAN, loss = NAN;
    int64_t taken_total = 0;
    for (int r = 1; r <= a.rounds; r++) {
        int64_t m;
        if ((st = gf_dp_poisson_sample(a.sites, a.q, idx, &m))) return fail(st, "sampling");
        if (m == 0) { printf("%5d  %5d  (no site taken)\n", r, 0); continue; }
        gf_strategy_config sc = gf_strategy_defaults(GF_STRAT_FEDAVG);
        if (dp_on) sc.server_lr = (double)m / qn;       /* sum / m * (m / qN) = sum / qN */
        gf_strategy *s;
        double norm_sum = 0;
        int64_t clipped = 0;
        if ((st = gf_strategy_create(&sc, d, 1, &s))) return fail(st, "strategy");
        for (int64_t k = 0; k < m && !st; k++) {
            const int i = (int)idx[k];
            gf_local_config lc = { .spec = a.model, .epochs = a.epochs, .steps = -1, .batch = a.batch, .threads = 1,
                                   .seed = a.seed * 1000003u + (uint64_t)i, .round = r,
                                   .optim = gf_optim_defaults(GF_OPTIM_SGD, (float)a.lr) };
            gf_local_result res;
            st = gf_local_train(&lc, &shard[i], NULL, global, d, NULL, NULL, delta, NULL, &res);
            if (st) break;
            double norm = gf_dp_norm(delta, d);
            norm_sum += norm;
            clipped += dp_on && norm > a.clip;
            if (dp_on) {                                 /* DP-FedAvg: clipped to S, weight 1 */
                double scale = gf_dp_clip_scale_norm(norm, a.clip);
                st = scale > 0 ? gf_strategy_add_scaled(s, delta, scale, 1.0, NULL)
                               : gf_errorf(GF_ERR_NUMERIC, "site %d: update norm not finite", i);
            } else
                st = gf_strategy_add(s, delta, (double)res.samples, NULL);
        }
        if (!st && dp_on && a.noise > 0) st = add_central_noise(s, &dp, (int)m, d);
        if (!st) st = gf_strategy_finish_round(s, global);
        gf_strategy_free(s);
        if (st) return fail(st, "round");
        taken_total += m;
        memcpy(eval->model->params, global, sizeof(float) * (size_t)d);
        if ((st = gf_trainer_evaluate(eval, &test, &loss, &acc))) return fail(st, "evaluation");
        double eq = 0, e1 = 0;
        if (dp_on && a.noise > 0) {
            if ((st = gf_dp_epsilon(a.noise, a.q, r, a.delta, &eq, NULL)) ||
                (st = gf_dp_epsilon(a.noise, 1.0, r, a.delta, &e1, NULL)))
                return fail(st, "accountant");
        } else if (dp_on) eq = e1 = INFINITY;
        printf("%5d  %5lld  %9.4f  %6.1f%%  %8.4f  %9.4f", r, (long long)m, norm_sum / (double)m,
               100.0 * (double)clipped / (double)m, acc, loss);
        if (dp_on) printf("  %9.3f  %8.2f  %7.1f\n", eq, e1, gf_now() - t0);
        else       printf("  %9s  %8s  %7.1f\n", "-", "-", gf_now() - t0);
        fflush(stdout);
    }
    printf("# final: test accuracy %.4f after %d rounds, %.0f sites per round on average, %.1f s\n", acc, a.rounds,
           (double)taken_total / a.rounds, gf_now() - t0);
    if (dp_on && a.noise > 0) {
        double eq, e1;
        gf_dp_epsilon(a.noise, a.q, a.rounds, a.delta, &eq, NULL);
        gf_dp_epsilon(a.noise, 1.0, a.rounds, a.delta, &e1, NULL);
        if (a.q < 1)
            printf("# final: epsilon %.3f at q = %g (amplified by sampling: valid only while the sampling is secret "
                   "from the aggregator), %.2f at q = 1 (against an aggregator that sees who took part), delta %g\n",
                   eq, a.q, e1, a.delta);
        else
            printf("# final: epsilon %.3f at q = 1 (no amplification: holds against an aggregator that sees who "
                   "took part), delta %g\n", e1, a.delta);
    }
    for (int i = 0; i < a.sites; i++) gf_dataset_free(&shard[i]);
    free(shard); free(global); free(delta); free(idx);
    gf_partition_free(&part);
    gf_trainer_free(eval);
    gf_dataset_free(&train); gf_dataset_free(&test);
    return 0;
}
