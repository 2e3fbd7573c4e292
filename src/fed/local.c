/* A site's local training for one round (see local.h). */
#include "fed/local.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/timer.h"
#include "train/trainer.h"

gf_status gf_local_train(const gf_local_config *cfg, const gf_dataset *train, const gf_dataset *val,
                         const float *global, int64_t d, const float *c, float *ci, float *delta,
                         float *cdelta, gf_local_result *res)
{
    double t0 = gf_now();
    *res = (gf_local_result){ .samples = train->n, .train_loss = NAN, .val_loss = NAN, .val_accuracy = NAN };
    if (cfg->round < 1 || cfg->epochs < 1)
        return gf_errorf(GF_ERR_ARG, "local training needs round >= 1 and epochs >= 1");
    if (cfg->steps == 0) {                      /* the round only moves the model */
        memset(delta, 0, sizeof(float) * d);
        if (c) memset(cdelta, 0, sizeof(float) * d);
        res->seconds = gf_now() - t0;
        return GF_OK;
    }

    gf_train_config tc = { .batch = cfg->batch, .threads = cfg->threads, .seed = cfg->seed, .optim = cfg->optim,
                           .dpsgd = cfg->dpsgd };
    snprintf(tc.spec, sizeof tc.spec, "%s", cfg->spec);
    gf_trainer *t;
    gf_status st = gf_trainer_create(&tc, &t);
    if (st) return st;
    float *corr = NULL;
    if (t->model->nparams != d) {
        st = gf_errorf(GF_ERR_MISMATCH, "model %s has %lld parameters, the global vector %lld",
                       cfg->spec, (long long)t->model->nparams, (long long)d);
        goto out;
    }
    if ((st = gf_trainer_check_data(t->model, train, "local training data"))) goto out;
    memcpy(t->model->params, global, sizeof(float) * d);
    if (cfg->prox_mu > 0) { t->prox_center = global; t->prox_mu = cfg->prox_mu; }
    if (c) {
        if (!(corr = malloc(sizeof(float) * d))) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto out; }
        for (int64_t i = 0; i < d; i++) corr[i] = c[i] - ci[i];
        t->grad_correction = corr;
    }
    /* distinct shuffles and dropout masks per round, reproducible from (seed, round) */
    t->epoch = (int)((cfg->round - 1) * cfg->epochs);
    t->step = (cfg->round - 1) << 32;
    int64_t first_step = t->step;
    if (cfg->steps > 0) t->stop_at_step = first_step + cfg->steps;
    double loss_sum = 0;
    int64_t images = 0;
    for (int e = 0; e < cfg->epochs && !st; e++) {
        if (t->stop_at_step >= 0 && t->step >= t->stop_at_step) break;
        gf_epoch_stats es;
        st = gf_trainer_epoch(t, train, &es, NULL, NULL);
        if (!st && es.images) { loss_sum += es.loss * es.images; images += es.images; }
    }
    if (st) goto out;
    res->steps = t->step - first_step;
    res->dp_steps = t->dp_steps;
    res->dp_sample_rate = t->dp_sample_rate;
    res->train_loss = images ? loss_sum / images : NAN;

    const float *w = t->model->params;
    for (int64_t i = 0; i < d; i++) delta[i] = w[i] - global[i];
    if (c) {
        /* K steps of SGD with momentum beta move about K lr / (1 - beta) per unit gradient */
        double k_lr = (double)res->steps * cfg->optim.lr;
        if (cfg->optim.type == GF_OPTIM_SGD && cfg->optim.momentum > 0) k_lr /= 1.0 - cfg->optim.momentum;
        for (int64_t i = 0; i < d; i++) {
            float next = k_lr > 0 ? (float)(ci[i] - c[i] - delta[i] / k_lr) : ci[i];
            cdelta[i] = next - ci[i];
            ci[i] = next;
        }
    }
    if (val && val->n > 0) {
        if ((st = gf_trainer_check_data(t->model, val, "local validation data"))) goto out;
        gf_model_evaluate(t->model, val->x, val->y, val->n, &res->val_loss, &res->val_accuracy);
    }
out:
    res->seconds = gf_now() - t0;
    free(corr);
    gf_trainer_free(t);
    return st;
}
