/* One running federated job on the coordinator (see fedjob.h). */
#include "fed/fedjob.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/fsutil.h"
#include "fed/fedstats.h"
#include "io/safetensors.h"
#include "privacy/ddg.h"
#include "privacy/dgauss.h"
#include "train/trainer.h"

gf_status gf_fedjob_artifact_path(const char *data_dir, int64_t id, int64_t round, char *out, size_t size)
{
    int n = round > 0 ? snprintf(out, size, "%s/artifacts/job-%lld/round-%06lld.safetensors", data_dir,
                                 (long long)id, (long long)round)
                      : snprintf(out, size, "%s/artifacts/job-%lld", data_dir, (long long)id);
    return n < 0 || (size_t)n >= size ? gf_errorf(GF_ERR_ARG, "data folder path too long") : GF_OK;
}

gf_status gf_fedjob_stats_path(const char *data_dir, int64_t id, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/artifacts/job-%lld/statistics.json", data_dir, (long long)id);
    return n < 0 || (size_t)n >= size ? gf_errorf(GF_ERR_ARG, "data folder path too long") : GF_OK;
}

void gf_fedjob_stats_plan(const gf_fedstats_config *c, gf_stats_plan *out) { gf_fedstats_plan(c, out); }

/* A statistics job's manifest: one tensor "stats" of the plan's length. */
static gf_status stats_manifest(const gf_fedstats_config *c, gf_manifest *m)
{
    gf_stats_plan p;
    gf_fedstats_plan(c, &p);
    return gf_fedstats_manifest(&p, m);
}

static gf_status make_dirs(const char *data_dir, int64_t id)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/artifacts", data_dir);
    if (mkdir(p, 0700) && errno != EEXIST) return gf_errorf(GF_ERR_IO, "cannot create %s: %s", p, strerror(errno));
    gf_status st = gf_fedjob_artifact_path(data_dir, id, 0, p, sizeof p);
    if (st) return st;
    if (mkdir(p, 0700) && errno != EEXIST) return gf_errorf(GF_ERR_IO, "cannot create %s: %s", p, strerror(errno));
    return GF_OK;
}

/* A new global body holding vec; the old one becomes the spare (its
 * readers keep it until they are done), and the spare before it is
 * written over when no reader holds it any more, else dropped. */
static gf_status encode_global(gf_fedjob *j, const float *vec)
{
    gf_st_meta meta[] = { { "gf.spec", j->spec.model } };
    gf_blob *b;
    gf_status st = gf_update_encode_blob(&j->wire, vec, meta, 1, j->spare, &b);
    if (st) return st;
    if (b != j->spare) gf_blob_unref(j->spare);
    j->spare = j->global;
    j->global = b;
    return GF_OK;
}

static float *global_vec(const gf_fedjob *j) { return gf_update_blob_vector(&j->wire, j->global); }

/* Global vector and strategy state from the artifact of round `completed`. */
static gf_status resume(gf_fedjob *j, const char *data_dir, float *vec)
{
    char path[PATH_MAX];
    gf_status st = gf_fedjob_artifact_path(data_dir, j->id, j->completed, path, sizeof path);
    if (st) return st;
    gf_st_file *f;
    if ((st = gf_st_open(path, &f))) return gf_errorf(st, "resuming job %lld: %s", (long long)j->id, gf_last_error());
    for (int k = 0; !st && k < j->model.n; k++) {
        const gf_manifest_entry *e = &j->model.e[k];
        st = gf_st_read_f32(f, e->name, e->ndim, e->shape, vec + e->offset);
    }
    int64_t d = j->model.d;
    for (int i = 0; !st && i < gf_strategy_state_count(j->strategy); i++)
        st = gf_st_read_f32(f, gf_strategy_state_name(j->strategy, i), 1, &d, gf_strategy_state(j->strategy, i));
    const char *clip = j->spec.dp.adaptive ? gf_st_meta_get(f, "gf.dp_clip_next") : NULL;
    if (!st && j->spec.dp.adaptive) {          /* adaptive clipping goes on from where it was */
        char *end = NULL;
        double v = clip ? strtod(clip, &end) : NAN;
        if (!clip || *end || !(v > 0) || !isfinite(v))
            st = gf_errorf(GF_ERR_FORMAT, "metadata gf.dp_clip_next is missing or bad");
        else j->dp_clip = j->dp_clip_used = v;
    }
    gf_st_close(f);
    if (st) return gf_errorf(st, "resuming job %lld from %s: %s", (long long)j->id, path, gf_last_error());
    return GF_OK;
}

/* Removes the checkpoints of rounds after `completed`: written before a
 * crash, their store records never were (the rounds run again). */
static void drop_unrecorded(const char *data_dir, int64_t id, int64_t completed)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (gf_fedjob_artifact_path(data_dir, id, 0, dir, sizeof dir)) return;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long long round;
        char tail[24];
        if (sscanf(e->d_name, "round-%lld.%23s", &round, tail) == 2 && !strcmp(tail, "safetensors") &&
            round > completed && !gf_fedjob_artifact_path(data_dir, id, round, path, sizeof path))
            unlink(path);
    }
    if (d) closedir(d);
}

gf_status gf_fedjob_start(const char *data_dir, int64_t id, const gf_fedspec *spec, int64_t completed,
                          int sites_total, gf_fedjob **out)
{
    *out = NULL;
    gf_fedjob *j = calloc(1, sizeof *j);
    if (!j) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    j->id = id;
    j->completed = completed;
    j->checkpoints[0] = completed > 1 ? completed - 1 : 0;   /* what an earlier run left (two kept) */
    j->checkpoints[1] = completed;
    float *vec = NULL;
    gf_model *init = NULL;
    gf_status st = gf_fedspec_copy(spec, &j->spec);
    j->dp_clip = j->dp_clip_used = j->spec.dp.clip;
    int stats = j->spec.stats.enabled;
    if (!st) st = stats ? stats_manifest(&j->spec.stats, &j->model) : gf_manifest_from_spec(j->spec.model, &j->model);
    if (!st && stats && !(j->stats_acc = calloc((size_t)j->model.d, sizeof *j->stats_acc)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    int scaffold = j->spec.strategy.type == GF_STRAT_SCAFFOLD;
    if (!st) {
        if (scaffold) st = gf_manifest_with_control(&j->model, &j->wire);
        else if (!(j->wire.e = malloc(sizeof *j->wire.e * (size_t)j->model.n)))
            st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        else {
            memcpy(j->wire.e, j->model.e, sizeof *j->wire.e * (size_t)j->model.n);
            j->wire.n = j->model.n;
            j->wire.d = j->model.d;
        }
    }
    if (!st) {
        gf_strategy_config sc = j->spec.strategy;
        sc.scaffold_sites_total = j->spec.sites ? j->spec.nsites : (sites_total > 0 ? sites_total : 1);
        int max_sites = j->spec.sites ? j->spec.nsites : (sites_total > 0 ? sites_total : 1);
        st = gf_strategy_create(&sc, j->model.d, max_sites, &j->strategy);
    }
    if (!st && !(vec = calloc((size_t)j->wire.d, sizeof(float)))) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (!st) st = make_dirs(data_dir, id);
    if (!st && !stats) drop_unrecorded(data_dir, id, completed);
    if (!st && completed > 0 && !stats) st = resume(j, data_dir, vec);
    if (!st && completed == 0 && !stats && !(st = gf_model_create(j->spec.model, 1, 1, &init))) {
        gf_model_init(init, j->spec.seed);
        memcpy(vec, init->params, sizeof(float) * (size_t)j->model.d);
    }
    if (!st && scaffold) memcpy(vec + j->model.d, gf_strategy_control(j->strategy), sizeof(float) * (size_t)j->model.d);
    if (!st) st = encode_global(j, vec);
    gf_model_free(init);
    free(vec);
    if (st) { gf_fedjob_free(j); return st; }
    *out = j;
    return GF_OK;
}

void gf_fedjob_free(gf_fedjob *j)
{
    if (!j) return;
    gf_fedspec_free(&j->spec);
    gf_manifest_free(&j->model);
    gf_manifest_free(&j->wire);
    gf_strategy_free(j->strategy);
    gf_blob_unref(j->global);
    gf_blob_unref(j->spare);
    free(j->parts);
    gf_secround_free(j->sec);
    free(j->stats_acc);
    free(j->stats_json);
    free(j);
}

gf_status gf_fedjob_open(gf_fedjob *j, int64_t round, const char *const *names, int n, double now)
{
    if (round != j->completed + 1 || n < 1)
        return gf_errorf(GF_ERR_ARG, "job %lld: cannot open round %lld with %d sites", (long long)j->id,
                         (long long)round, n);
    double z, sb;
    if (j->spec.dp.enabled && gf_dp_round_noise(&j->spec.dp, n, &z, &sb))
        return GF_ERR_ARG;                    /* adaptive clipping's noise split does not fit n sites */
    gf_secround *sec = NULL;
    if (j->spec.secagg.enabled) {
        gf_status st = gf_secround_new(&j->spec.secagg, &j->spec.dp, j->dp_clip, j->id, round, n, j->model.d, now, &sec);
        if (st) return st;
    }
    gf_fedjob_part *p = calloc((size_t)n, sizeof *p);
    if (!p) { gf_secround_free(sec); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    gf_secround_free(j->sec);
    j->sec = sec;
    for (int i = 0; i < n; i++) snprintf(p[i].name, sizeof p[i].name, "%s", names[i]);
    free(j->parts);
    j->parts = p;
    j->nparts = n;
    j->received = j->declined = 0;
    j->dp_count_sum = 0;
    j->loss_sum = j->weight_sum = 0;
    j->round = round;
    j->closing = 0;
    j->opened_at = now;
    j->deadline = sec ? gf_secround_deadline(sec) : now + j->spec.round_deadline_s;
    gf_strategy_begin_round(j->strategy);
    return GF_OK;
}

int gf_fedjob_part_index(const gf_fedjob *j, const char *site)
{
    for (int i = 0; i < j->nparts; i++)
        if (!strcmp(j->parts[i].name, site)) return i;
    return -1;
}

gf_fedjob_part *gf_fedjob_part_of(gf_fedjob *j, const char *site)
{
    int i = gf_fedjob_part_index(j, site);
    return i < 0 ? NULL : &j->parts[i];
}

static gf_status meta_int(const gf_st_file *f, const char *key, int64_t lo, int64_t *out)
{
    const char *s = gf_st_meta_get(f, key);
    if (!s) return gf_errorf(GF_ERR_FORMAT, "update metadata lacks \"%s\"", key);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo)
        return gf_errorf(GF_ERR_FORMAT, "update metadata \"%s\" must be an integer >= %lld, got \"%.40s\"", key,
                         (long long)lo, s);
    *out = v;
    return GF_OK;
}

/* An optional finite real ("nan" or absent: not reported). */
static gf_status meta_real(const gf_st_file *f, const char *key, double *out)
{
    const char *s = gf_st_meta_get(f, key);
    *out = NAN;
    if (!s || !strcmp(s, "nan")) return GF_OK;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return gf_errorf(GF_ERR_FORMAT, "update metadata \"%s\" must be a finite number, got \"%.40s\"", key, s);
    *out = v;
    return GF_OK;
}

/* An optional epsilon: a number >= 0, "inf" (+infinity: no guarantee, as
 * a site with noise 0 reports it), or absent / "nan" (NaN: not reported). */
static gf_status meta_epsilon(const gf_st_file *f, const char *key, double *out)
{
    const char *s = gf_st_meta_get(f, key);
    *out = NAN;
    if (!s || !strcmp(s, "nan")) return GF_OK;
    if (!strcmp(s, "inf")) { *out = INFINITY; return GF_OK; }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < 0)
        return gf_errorf(GF_ERR_FORMAT, "update metadata \"%s\" must be a number >= 0 or \"inf\", got \"%.40s\"",
                         key, s);
    *out = v;
    return GF_OK;
}

/* The open round, the site chosen, no answer from it yet: else why, and *http. */
gf_status gf_fedjob_check_answer(gf_fedjob *j, const char *site, int64_t round, int *http)
{
    *http = 409;
    if (j->eval_round && round == j->round)
        return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld evaluates the final model: it takes no update",
                         (long long)round, (long long)j->id);
    if (j->round == 0 || round != j->round || j->closing) {
        if (round <= j->completed || (round == j->round && j->closing))
            return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld is closed (late update)", (long long)round,
                             (long long)j->id);
        return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld is not open (open round: %lld)",
                         (long long)round, (long long)j->id, (long long)j->round);
    }
    gf_fedjob_part *p = gf_fedjob_part_of(j, site);
    if (!p) {
        *http = 403;
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" was not chosen for round %lld of job %lld", site,
                         (long long)round, (long long)j->id);
    }
    if (p->sent || p->declined)
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" already %s round %lld of job %lld", site,
                         p->sent ? "sent its update for" : "declined", (long long)round, (long long)j->id);
    return GF_OK;
}

gf_status gf_fedjob_decline(gf_fedjob *j, const char *site, int64_t round, const char *reason, int *http)
{
    gf_fedjob_part *p = gf_fedjob_part_of(j, site);
    gf_status st;
    if (j->eval_round && round == j->round && !j->closing) {     /* a site that cannot evaluate */
        *http = p ? 409 : 403;
        if (!p) return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" was not chosen for round %lld of job %lld", site,
                                 (long long)round, (long long)j->id);
        if (p->declined || p->evaluated)
            return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" already %s round %lld of job %lld", site,
                             p->declined ? "declined" : "reported its evaluation for", (long long)round, (long long)j->id);
    } else if ((st = gf_fedjob_check_answer(j, site, round, http))) {
        return st;
    }
    p->declined = 1;
    snprintf(p->decline_reason, sizeof p->decline_reason, "%s", reason && *reason ? reason : "(no reason given)");
    if (j->sec) gf_secround_leave(j->sec, gf_fedjob_part_index(j, site));
    j->declined++;
    return GF_OK;
}

void gf_fedjob_task(const gf_fedjob *j, const char *site, double now, gf_fed_task *out)
{
    const gf_fedspec *s = &j->spec;
    memset(out, 0, sizeof *out);
    out->job = j->id;
    out->round = j->round;
    snprintf(out->name, sizeof out->name, "%s", s->name);
    snprintf(out->tenant, sizeof out->tenant, "%s", s->tenant);
    snprintf(out->site, sizeof out->site, "%s", site);
    snprintf(out->model, sizeof out->model, "%s", s->model);
    out->strategy = s->strategy.type;
    out->mu = s->strategy.type == GF_STRAT_FEDPROX ? s->strategy.mu : 0.0;
    out->local.epochs = s->local.epochs;
    out->local.steps = s->local.steps < 0 ? -1 : s->local.steps;
    out->local.batch = s->local.batch;
    out->local.optim = s->local.optim;
    if (s->local.lr_decay > 0 && s->local.lr_decay < 1 && j->round > 1)   /* the schedule across rounds */
        out->local.optim.lr = (float)fmax(s->local.optim.lr * pow(s->local.lr_decay, (double)(j->round - 1)), 1e-30);
    out->local.dpsgd = s->local.dpsgd;
    out->seed = s->seed;
    out->deadline_in_s = j->deadline - now;
    gf_fed_task_set_paths(out);
    out->evaluate.enabled = gf_fedjob_round_evaluates(j);
    out->evaluate.only = j->eval_round;
    if (s->stats.enabled) out->stats = s->stats;   /* borrowed */
    out->preprocess = s->preprocess;               /* borrowed */
    if (j->sec) {
        out->secagg.enabled = 1;
        out->secagg.index = gf_fedjob_part_index(j, site);
        out->secagg.pub = *gf_secround_public_params(j->sec);
        memset(out->secagg.pub.p.seed, 0, sizeof out->secagg.pub.p.seed);
        snprintf(out->secagg.attempt, sizeof out->secagg.attempt, "%s", gf_secround_attempt(j->sec));
    }
}

gf_blob *gf_fedjob_task_model(gf_fedjob *j)
{
    return j->spec.stats.enabled || !j->global ? NULL : gf_blob_ref(j->global);
}

gf_status gf_fedjob_check_secagg(gf_fedjob *j, const char *site, int64_t round, const char *attempt, int *http)
{
    *http = 409;
    if (j->round == 0 || round != j->round || j->closing)
        return gf_errorf(GF_ERR_MISMATCH, "round %lld of job %lld is not open", (long long)round, (long long)j->id);
    gf_fedjob_part *p = gf_fedjob_part_of(j, site);
    if (!p) {
        *http = 403;
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" was not chosen for round %lld of job %lld", site,
                         (long long)round, (long long)j->id);
    }
    if (!j->sec) {
        *http = 400;
        return gf_errorf(GF_ERR_ARG, "job %lld does not use secure aggregation", (long long)j->id);
    }
    if (p->declined)
        return gf_errorf(GF_ERR_MISMATCH, "site \"%s\" declined round %lld of job %lld", site, (long long)round,
                         (long long)j->id);
    if (!attempt || strcmp(attempt, gf_secround_attempt(j->sec)))
        return gf_errorf(GF_ERR_MISMATCH, "attempt \"%.20s\" of round %lld of job %lld is not the open one (it was "
                         "aborted and the round reopened)", attempt ? attempt : "", (long long)round, (long long)j->id);
    return GF_OK;
}

gf_status gf_fedjob_add_masked(gf_fedjob *j, const char *site, int64_t round, const char *attempt,
                               const uint8_t *body, size_t len, int *http)
{
    gf_status st = gf_fedjob_check_answer(j, site, round, http);
    if (!st) st = gf_fedjob_check_secagg(j, site, round, attempt, http);
    if (st) return st;
    int i = gf_fedjob_part_index(j, site);
    if ((st = gf_secround_add_masked(j->sec, i, body, len, http))) return st;
    j->parts[i].sent = 1;
    j->parts[i].bytes_up = (int64_t)len;
    j->received++;
    return GF_OK;
}

size_t gf_fedjob_upload_max(const gf_fedjob *j)
{
    return sizeof(float) * (size_t)j->wire.d + ((size_t)1 << 20);
}

int64_t gf_fedjob_norm_d(const gf_fedjob *j) { return j->spec.dp.enabled ? j->model.d : 0; }

gf_status gf_fedjob_decode_upload(const gf_manifest *wire, int64_t norm_d, const uint8_t *body, size_t len,
                                  size_t max_len, gf_fedjob_upload *up, int *http)
{
    *up = (gf_fedjob_upload){ 0 };
    *http = len > max_len ? 413 : 400;
    gf_status st = gf_update_view_open(wire, body, len, max_len, &up->view);
    if (st) return st;
    up->d = wire->d;
    const gf_st_file *f = up->view.file;
    if (!(st = meta_int(f, "gf.samples", 1, &up->samples)) && up->samples > (int64_t)1 << 53)
        st = gf_errorf(GF_ERR_FORMAT, "update metadata \"gf.samples\" is absurd");
    if (!st) st = meta_int(f, "gf.steps", 0, &up->steps);
    if (!st) st = meta_real(f, "gf.train_loss", &up->train_loss);
    if (!st) st = meta_real(f, "gf.val_loss", &up->val_loss);
    if (!st) st = meta_real(f, "gf.val_accuracy", &up->val_accuracy);
    if (!st && !isnan(up->val_accuracy) && (up->val_accuracy < 0 || up->val_accuracy > 1))
        st = gf_errorf(GF_ERR_FORMAT, "update metadata \"gf.val_accuracy\" must lie in [0, 1]");
    if (!st) st = meta_epsilon(f, "gf.dpsgd_epsilon", &up->dpsgd_epsilon);
    up->norm = !st && norm_d > 0 ? gf_dp_norm(up->view.vec, norm_d < wire->d ? norm_d : wire->d) : NAN;
    if (st) gf_update_view_close(&up->view);
    return st;
}

gf_status gf_fedjob_add_upload(gf_fedjob *j, const char *site, int64_t round, gf_fedjob_upload *up, int64_t bytes,
                               int *http)
{
    gf_status st = gf_fedjob_check_answer(j, site, round, http);   /* again: it may have changed unlocked */
    if (!st && up->d != j->wire.d) {
        *http = 409;
        st = gf_errorf(GF_ERR_MISMATCH, "job %lld changed while its update was checked", (long long)j->id);
    }
    if (st) { gf_update_view_close(&up->view); return st; }
    *http = 500;
    gf_fedjob_part *p = gf_fedjob_part_of(j, site);
    int scaffold = j->spec.strategy.type == GF_STRAT_SCAFFOLD;
    if (j->stats_acc) {         /* statistics: summed (min/max folded), not averaged */
        gf_stats_plan plan;
        gf_fedjob_stats_plan(&j->spec.stats, &plan);
        gf_stats_merge(&plan, j->stats_acc, up->view.vec);
    }
    else if (j->spec.dp.enabled) {   /* DP-FedAvg: clipped to S, weight 1 */
        double scale = gf_dp_clip_scale_norm(up->norm, j->dp_clip);
        st = scale > 0 ? gf_strategy_add_scaled(j->strategy, up->view.vec, scale, 1.0, NULL)
                       : gf_errorf(GF_ERR_NUMERIC, "update of site \"%s\": its norm is not finite", site);
        if (!st) j->dp_count_sum += gf_dp_count_report(scale);
    }
    else
        st = gf_strategy_add(j->strategy, up->view.vec, (double)up->samples,
                             scaffold ? up->view.vec + j->model.d : NULL);
    gf_update_view_close(&up->view);
    if (st) return st;
    p->sent = 1;
    p->samples = up->samples;
    p->bytes_up = bytes;
    /* Under DP (client-level, or the sites' DP-SGD) a site's loss and
     * accuracy, computed from its raw data and not noised, are neither kept
     * nor released: the job's epsilon covers only the noised model. */
    if (j->spec.dp.enabled || j->spec.local.dpsgd.enabled) up->train_loss = up->val_accuracy = NAN;
    p->train_loss = up->train_loss;
    p->val_accuracy = up->val_accuracy;
    j->received++;
    if (!isnan(up->train_loss)) {
        j->loss_sum += up->train_loss * (double)up->samples;
        j->weight_sum += (double)up->samples;
    }
    return GF_OK;
}

/* The unmasked sum as one update: the weighted mean with the round's
 * weight sum, or (DP) the sum of the clipped, noised updates over their
 * number, as the central DP path divides it. */
static gf_status add_unmasked(gf_fedjob *j, double *count, int *m)
{
    int64_t d = j->model.d;
    float *sum = malloc(sizeof(float) * (size_t)d);   /* (d) */
    if (!sum) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    double w;
    gf_status st = gf_secround_result(j->sec, sum, &w, m, count);
    double div = j->spec.dp.enabled ? (double)*m : w;
    if (!st && !(div > 0))
        st = gf_errorf(GF_ERR_NUMERIC, "secure aggregation: the unmasked weight sum is %g", div);
    if (!st && j->stats_acc) {         /* statistics: the sum itself (every weight 1) */
        for (int64_t i = 0; i < d; i++) j->stats_acc[i] = sum[i];
    } else if (!st) {
        for (int64_t i = 0; i < d; i++) sum[i] = (float)((double)sum[i] / div);
        st = gf_strategy_add(j->strategy, sum, div, NULL);
    }
    free(sum);
    return st;
}

/* The round's aggregate applied to the global model. In place when nobody
 * else holds the global body (the spare's memory then goes: no copy waits
 * for it). While a download or the recorder holds it, the new global is
 * written into another body in the same pass that reads the old one: the
 * spare when nobody holds it any more (encoded for this job's model, so its
 * header is the global's), else a fresh copy. SCAFFOLD's control, after
 * the model in the vector, is the caller's to write. On failure the global
 * is unchanged. */
static gf_status finish_global(gf_fedjob *j)
{
    float *from = global_vec(j);
    if (gf_blob_exclusive(j->global)) {
        gf_blob_unref(j->spare);
        j->spare = NULL;
        return gf_strategy_finish_round_into(j->strategy, from, from);
    }
    gf_blob *b = j->spare;
    if (!b || !gf_blob_exclusive(b) || gf_blob_len(b) != gf_blob_len(j->global)) {
        gf_st_meta meta[] = { { "gf.spec", j->spec.model } };
        gf_status st = gf_update_encode_blob(&j->wire, from, meta, 1, NULL, &b);
        if (st) return st;
        gf_blob_unref(j->spare);
        j->spare = NULL;
    }
    gf_status st = gf_strategy_finish_round_into(j->strategy, from, gf_update_blob_vector(&j->wire, b));
    if (st) {
        if (b != j->spare) gf_blob_unref(b);
        return st;
    }
    j->spare = j->global;
    j->global = b;
    return GF_OK;
}

gf_status gf_fedjob_aggregate(gf_fedjob *j, double *train_loss)
{
    gf_status st = GF_OK;
    double count = j->dp_count_sum, next_clip = j->dp_clip;
    int summed = j->received;
    if (j->sec) {
        st = add_unmasked(j, &count, &summed);      /* noised by the sites */
    } else if (j->spec.dp.enabled && j->spec.dp.noise > 0) {   /* N_Z on the snapped sum, in chunks (ddg.h) */
        double z, sb, unit;
        uint64_t s2;
        int64_t chunk[4096];
        if (!(st = gf_dp_round_noise(&j->spec.dp, j->nparts, &z, &sb)) && j->spec.dp.adaptive &&
            !(st = gf_ddg_plan_central(0.5, 1, 2 * sb, &unit, &s2)) && !(st = gf_dgauss_sample(chunk, 1, s2)))
            count = (nearbyint(count / unit) + (double)chunk[0]) * unit;   /* +-1/2 reports: sensitivity 1/2 */
        if (!st) st = gf_ddg_plan_central(j->dp_clip, j->model.d, z, &unit, &s2);
        for (int64_t at = 0; !st && at < j->model.d; at += 4096) {
            int64_t len = j->model.d - at < 4096 ? j->model.d - at : 4096;
            st = gf_dgauss_sample(chunk, len, s2);
            if (!st) st = gf_strategy_snap_noise_sum(j->strategy, at, chunk, len, unit);
        }
    }
    if (!st && j->stats_acc) {                  /* statistics: rendered now, while the round knows its sites */
        gf_stats_plan plan;
        gf_fedjob_stats_plan(&j->spec.stats, &plan);
        char *json = NULL;
        if ((st = gf_fedstats_render(&plan, j->stats_acc, j->id, summed, j->sec != NULL, j->spec.stats.min_count,
                                     &json)))
            return st;
        free(j->stats_json);
        j->stats_json = json;
        j->closing = 1;
        *train_loss = NAN;
        return GF_OK;
    }
    if (!st && j->spec.dp.enabled) next_clip = gf_dp_clip_next(&j->spec.dp, j->dp_clip, count, summed);
    if (!st) st = finish_global(j);
    if (st) return st;
    j->dp_clip_used = j->dp_clip;
    j->dp_clip = next_clip;
    if (j->spec.strategy.type == GF_STRAT_SCAFFOLD)
        memcpy(global_vec(j) + j->model.d, gf_strategy_control(j->strategy), sizeof(float) * (size_t)j->model.d);
    j->closing = 1;
    *train_loss = j->weight_sum > 0 ? j->loss_sum / j->weight_sum : NAN;
    return GF_OK;
}

gf_status gf_fedjob_checkpoint(gf_fedjob *j, const char *data_dir, int64_t round, double accuracy, gf_blob *model)
{
    if (j->stats_acc) {
        char path[PATH_MAX];
        if (!j->stats_json) return gf_errorf(GF_ERR_ARG, "job %lld: no statistics aggregated", (long long)j->id);
        gf_status st = gf_fedjob_stats_path(data_dir, j->id, path, sizeof path);
        gf_fs_part part = { j->stats_json, strlen(j->stats_json) };
        return st ? st : gf_fs_write_atomic(path, &part, 1, 0600);
    }
    int ns = gf_strategy_state_count(j->strategy);
    gf_st_tensor *t = calloc((size_t)(j->model.n + ns), sizeof *t);
    if (!t) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    const float *vec = model ? gf_update_blob_vector(&j->wire, model) : global_vec(j);
    for (int k = 0; k < j->model.n; k++) {
        t[k].name = j->model.e[k].name;
        t[k].ndim = j->model.e[k].ndim;
        memcpy(t[k].shape, j->model.e[k].shape, sizeof j->model.e[k].shape);
        t[k].data = vec + j->model.e[k].offset;
    }
    for (int i = 0; i < ns; i++) {
        gf_st_tensor *x = &t[j->model.n + i];
        x->name = gf_strategy_state_name(j->strategy, i);
        x->ndim = 1;
        x->shape[0] = j->model.d;
        x->data = gf_strategy_state(j->strategy, i);
    }
    char sround[24], sjob[24], sacc[32], path[PATH_MAX], seps[32], sdelta[32], snoise[32], sclip[32], sq[32],
         snext[32];
    snprintf(sround, sizeof sround, "%lld", (long long)round);
    snprintf(sjob, sizeof sjob, "%lld", (long long)j->id);
    snprintf(sacc, sizeof sacc, "%.17g", accuracy);
    gf_st_meta meta[14] = {
        { "gf.format", "gf-checkpoint-1" }, { "gf.spec", j->spec.model }, { "gf.job", sjob },
        { "gf.job_name", j->spec.name }, { "gf.round", sround },
        { "gf.strategy", gf_strategy_type_name(j->spec.strategy.type) },
        { "gf.test_accuracy", isnan(accuracy) ? "nan" : sacc },
        { "gf.dp_epsilon", seps }, { "gf.dp_delta", sdelta }, { "gf.dp_noise", snoise },
        { "gf.dp_clip", sclip }, { "gf.dp_sample_rate", sq }, { "gf.dp_clip_next", snext },
    };
    int nmeta = 13;
    if (j->spec.dp.enabled) {
        double eps;
        gf_dp_spent(&j->spec.dp, round, &eps, NULL);
        snprintf(seps, sizeof seps, "%.17g", eps);
        snprintf(sdelta, sizeof sdelta, "%.17g", j->spec.dp.delta);
        snprintf(snoise, sizeof snoise, "%.17g", j->spec.dp.noise);
        snprintf(sclip, sizeof sclip, "%.17g", j->dp_clip_used);
        snprintf(sq, sizeof sq, "%.17g", GF_DP_CLIENT_SAMPLE_RATE);
        snprintf(snext, sizeof snext, "%.17g", j->dp_clip);
        if (!j->spec.dp.adaptive) nmeta -= 1;
    } else {
        nmeta -= 6;
    }
    if (j->spec.preprocess) meta[nmeta++] = (gf_st_meta){ "gf.preprocess", j->spec.preprocess };   /* for gf eval */
    gf_status st = gf_fedjob_artifact_path(data_dir, j->id, round, path, sizeof path);
    if (!st) st = gf_st_write(path, t, j->model.n + ns, meta, nmeta);
    free(t);
    if (st) return st;
    if (j->checkpoints[0] > 0 && j->checkpoints[0] < round &&
        !gf_fedjob_artifact_path(data_dir, j->id, j->checkpoints[0], path, sizeof path))
        unlink(path);                          /* two kept: the store may lag one behind */
    if (j->checkpoints[1] != round) j->checkpoints[0] = j->checkpoints[1];
    j->checkpoints[1] = round;
    return GF_OK;
}

void gf_fedjob_end_round(gf_fedjob *j, int done)
{
    if (done) j->completed = j->round;
    else gf_strategy_begin_round(j->strategy);
    if (j->stats_acc && !done) memset(j->stats_acc, 0, sizeof *j->stats_acc * (size_t)j->model.d);
    j->round = 0;
    j->closing = 0;
    j->eval_round = j->evaluated = 0;
    j->nparts = j->received = j->declined = 0;
    free(j->parts);
    j->parts = NULL;
    gf_secround_free(j->sec);
    j->sec = NULL;
}
