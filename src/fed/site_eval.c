/* A global model scored on a site's test split (see site_eval.h). */
#include "fed/site_eval.h"

#include <math.h>
#include <string.h>
#include "engine/model.h"
#include "train/binary_eval.h"
#include "train/trainer.h"

gf_status gf_site_evaluate(const char *model, const float *vec, int64_t d, const gf_dataset *test, int threads,
                           gf_eval_report *out)
{
    *out = (gf_eval_report){ .loss = NAN, .accuracy = NAN, .auc = NAN, .sensitivity = NAN, .specificity = NAN };
    if (!test || test->n < 1) return gf_errorf(GF_ERR_ARG, "this site has no test split to evaluate on");
    gf_model *m = NULL;
    gf_status st = gf_model_create(model, GF_SITE_EVAL_BATCH, threads, &m);
    if (st) return st;
    if (m->nparams != d)
        st = gf_errorf(GF_ERR_MISMATCH, "model %s has %lld parameters, the global vector %lld", model,
                       (long long)m->nparams, (long long)d);
    if (!st) st = gf_trainer_check_data(m, test, "test split");
    if (!st) {
        memcpy(m->params, vec, sizeof(float) * (size_t)d);
        gf_model_evaluate(m, test->x, test->y, test->n, &out->loss, &out->accuracy);
        out->samples = test->n;
        if (!isfinite(out->loss)) st = gf_errorf(GF_ERR_NUMERIC, "the global model's test loss is not finite");
    }
    if (!st && m->num_classes == 2 && m->positions == 1) {
        gf_binary_metrics b;
        st = gf_model_evaluate_binary(m, test, &b);
        out->auc = b.auc;
        out->sensitivity = b.sensitivity;
        out->specificity = b.specificity;
    }
    gf_model_free(m);
    return st;
}
