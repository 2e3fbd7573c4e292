/* Per-site evaluation results: a JSON-lines file per job, appended under
 * one lock, read back into per-round tables (see site_evals.h). */
#include "service/site_evals.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fed/fedjob.h"
#include "train/metrics_file.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const METRICS[] = { "loss", "accuracy", "auc", "sensitivity", "specificity" };
#define NMETRICS 5

static int file_path(char *out, size_t cap, const char *data_dir, int64_t job)
{
    char dir[PATH_MAX];
    if (gf_fedjob_artifact_path(data_dir, job, 0, dir, sizeof dir)) return -1;
    return snprintf(out, cap, "%s/site_eval.jsonl", dir) >= (int)cap ? -1 : 0;
}

static json_t *num_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

gf_status gf_site_evals_add(const char *data_dir, int64_t job, int64_t model_round, const char *site,
                            const gf_eval_report *r)
{
    char path[PATH_MAX + 32];
    if (file_path(path, sizeof path, data_dir, job))
        return gf_errorf(GF_ERR_ARG, "job %lld: no place for its evaluation results", (long long)job);
    json_t *o = json_pack("{s:I,s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "round", (json_int_t)model_round, "site", site,
                          "samples", (json_int_t)r->samples, "loss", num_or_null(r->loss),
                          "accuracy", num_or_null(r->accuracy), "auc", num_or_null(r->auc),
                          "sensitivity", num_or_null(r->sensitivity), "specificity", num_or_null(r->specificity));
    if (!o) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    pthread_mutex_lock(&lock);
    gf_status st = gf_metrics_file_append(path, o, 0600, 1);
    pthread_mutex_unlock(&lock);
    json_decref(o);
    return st;
}

/* by round, then site */
static int cmp_entry(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_int_t rx = json_integer_value(json_object_get(x, "round")), ry = json_integer_value(json_object_get(y, "round"));
    if (rx != ry) return rx < ry ? -1 : 1;
    return strcmp(json_string_value(json_object_get(x, "site")), json_string_value(json_object_get(y, "site")));
}

/* One round's weighted means over its entries e[0..n). */
static json_t *weighted(json_t *const *e, int n)
{
    double sum[NMETRICS] = { 0 }, w[NMETRICS] = { 0 };
    json_int_t samples = 0;
    for (int i = 0; i < n; i++) {
        double s = (double)json_integer_value(json_object_get(e[i], "samples"));
        samples += json_integer_value(json_object_get(e[i], "samples"));
        for (int k = 0; k < NMETRICS; k++) {
            json_t *v = json_object_get(e[i], METRICS[k]);
            if (json_is_number(v)) { sum[k] += s * json_number_value(v); w[k] += s; }
        }
    }
    json_t *o = json_pack("{s:i,s:I}", "sites", n, "samples", samples);
    for (int k = 0; o && k < NMETRICS; k++)
        json_object_set_new(o, METRICS[k], w[k] > 0 ? json_real(sum[k] / w[k]) : json_null());
    return o;
}

typedef struct { json_t *last; int64_t after; } last_ctx;

static int last_one(json_t *e, int64_t end, void *ctx)
{
    last_ctx *lc = ctx;
    json_t *r = json_object_get(e, "round"), *s = json_object_get(e, "site");
    if (json_is_integer(r) && json_is_string(s) && json_integer_value(r) > lc->after) {
        char key[128];
        snprintf(key, sizeof key, "%lld/%s", (long long)json_integer_value(r), json_string_value(s));
        json_object_set(lc->last, key, e);
    }
    return 0;
}

json_t *gf_site_evals_json(const char *data_dir, int64_t job, int64_t after, int64_t limit)
{
    char path[PATH_MAX + 32];
    json_t *out = json_array();
    if (!out || file_path(path, sizeof path, data_dir, job)) return out;
    pthread_mutex_lock(&lock);
    json_t *last = json_object();            /* "ROUND/SITE" -> its last entry */
    int fd = last ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {                           /* a torn last line (a crash) is left unread */
        last_ctx lc = { last, after };
        gf_metrics_cursor cur = { 0, GF_SITE_EVALS_MAX_BYTES, INT64_MAX };
        gf_metrics_file_read(fd, &cur, last_one, &lc);
        close(fd);
    }
    pthread_mutex_unlock(&lock);
    size_t n = json_object_size(last);
    json_t **e = malloc(sizeof *e * (n ? n : 1));
    size_t k = 0;
    const char *key;
    json_t *v;
    if (e) json_object_foreach(last, key, v) e[k++] = v;
    if (e) qsort(e, k, sizeof *e, cmp_entry);
    /* rounds in order; keep the last `limit` of them */
    int64_t nrounds = 0;
    for (size_t i = 0; i < k; i++)
        nrounds += i == 0 || json_integer_value(json_object_get(e[i], "round")) !=
                             json_integer_value(json_object_get(e[i - 1], "round"));
    int64_t skip = nrounds > limit ? nrounds - limit : 0, seen = 0;
    for (size_t i = 0; i < k; ) {
        json_int_t round = json_integer_value(json_object_get(e[i], "round"));
        size_t j = i;
        while (j < k && json_integer_value(json_object_get(e[j], "round")) == round) j++;
        if (seen++ >= skip) {
            json_t *sites = json_array();
            for (size_t m = i; m < j; m++) {
                json_t *c = json_deep_copy(e[m]);
                json_object_del(c, "round");
                json_array_append_new(sites, c);
            }
            json_array_append_new(out, json_pack("{s:I,s:o,s:o}", "round", round, "sites", sites,
                                                 "weighted", weighted(e + i, (int)(j - i))));
        }
        i = j;
    }
    free(e);
    json_decref(last);
    return out;
}
