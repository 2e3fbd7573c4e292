/* Per-job, per-site records (site_records.h): a JSON object file per job
 * and kind, {site: record}, rewritten atomically under one lock (declines,
 * site_dp), and a JSON-lines file of evaluation reports read back into
 * per-round tables (site_eval). */
#include "fed/site_records.h"

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/fsutil.h"
#include "fed/fedjob.h"
#include "train/metrics_file.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* out = DATA/artifacts/job-ID/name; -1 when it does not fit. */
static int file_path(char *out, size_t cap, const char *data_dir, int64_t job, const char *name)
{
    char dir[PATH_MAX];
    if (gf_fedjob_artifact_path(data_dir, job, 0, dir, sizeof dir)) return -1;
    return snprintf(out, cap, "%s/%s", dir, name) >= (int)cap ? -1 : 0;
}

/* The file's object {site: record}, or a new empty one. */
static json_t *load(const char *path)
{
    json_t *o = json_load_file(path, 0, NULL);
    if (o && json_is_object(o) && json_object_size(o) <= GF_SITE_RECORDS_MAX) return o;
    json_decref(o);
    return json_object();
}

/* Sets site's record in job's file `name` to rec (taken), unless `newest`
 * and the kept record is of a later "round". `what` names the kind in
 * errors. */
static gf_status record_put(const char *data_dir, int64_t job, const char *name, const char *what, const char *site,
                            json_t *rec, int newest)
{
    char path[PATH_MAX + 32], *text = NULL;
    if (!rec) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (file_path(path, sizeof path, data_dir, job, name)) {
        json_decref(rec);
        return gf_errorf(GF_ERR_ARG, "job %lld: no place for its %s", (long long)job, what);
    }
    pthread_mutex_lock(&lock);
    json_t *o = load(path), *old = json_object_get(o, site);
    gf_status st = GF_OK;
    if (!old && json_object_size(o) >= GF_SITE_RECORDS_MAX)
        st = gf_errorf(GF_ERR_ARG, "job %lld: the %s of more than %d sites are not kept", (long long)job, what,
                       GF_SITE_RECORDS_MAX);
    else if (newest && old && json_integer_value(json_object_get(old, "round")) >
                              json_integer_value(json_object_get(rec, "round")))
        st = GF_OK;                          /* an earlier round's: the kept one stays */
    else if (json_object_set(o, site, rec) || !(text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)))
        st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    else
        st = gf_fs_write_atomic(path, &(gf_fs_part){ text, strlen(text) }, 1, 0600);
    free(text);
    json_decref(o);
    json_decref(rec);
    pthread_mutex_unlock(&lock);
    return st;
}

/* Job's file `name` as a new array of {site, fields... (null if absent)},
 * sorted by site (the file's keys were written sorted). */
static json_t *records_json(const char *data_dir, int64_t job, const char *name, const char *const *fields)
{
    char path[PATH_MAX + 32];
    json_t *arr = json_array();
    if (!arr || file_path(path, sizeof path, data_dir, job, name)) return arr;
    pthread_mutex_lock(&lock);
    json_t *o = load(path);
    pthread_mutex_unlock(&lock);
    const char *site;
    json_t *r;
    json_object_foreach(o, site, r) {
        json_t *e = json_pack("{s:s}", "site", site);
        for (int i = 0; e && fields[i]; i++) {
            json_t *v = json_object_get(r, fields[i]);
            json_object_set_new(e, fields[i], v ? json_incref(v) : json_null());
        }
        if (e) json_array_append_new(arr, e);
    }
    json_decref(o);
    return arr;
}

/* ---- declines ---- */

/* Length of the valid UTF-8 character at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || len > n || (len == 2 && s[0] < 0xC2)) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

void gf_site_decline_clean(char *dst, size_t cap, const char *s)
{
    size_t o = 0, max = cap - 4 < GF_SITE_DECLINE_REASON_MAX ? cap - 4 : GF_SITE_DECLINE_REASON_MAX;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    while (n) {
        size_t len = utf8_len(p, n);
        if (o + (len ? len : 1) > max) { memcpy(dst + o, "...", 3); o += 3; break; }
        if (len == 1 && (p[0] < 0x20 || p[0] == 0x7F)) dst[o++] = '?';
        else if (len) { memcpy(dst + o, p, len); o += len; }
        else dst[o++] = '?';
        p += len ? len : 1;
        n -= len ? len : 1;
    }
    dst[o] = '\0';
}

gf_status gf_site_declines_record(const char *data_dir, int64_t job, const char *site, int64_t round,
                                  const char *reason, const char *at)
{
    char clean[GF_SITE_DECLINE_REASON_MAX + 4];
    gf_site_decline_clean(clean, sizeof clean, reason);
    return record_put(data_dir, job, "declines.json", "declines", site,
                      json_pack("{s:I,s:s,s:s}", "round", (json_int_t)round, "reason", clean, "at", at), 0);
}

json_t *gf_site_declines_json(const char *data_dir, int64_t job)
{
    static const char *const fields[] = { "round", "reason", "at", NULL };
    return records_json(data_dir, job, "declines.json", fields);
}

/* ---- site_dp ---- */

gf_status gf_site_dp_record(const char *data_dir, int64_t job, const char *site, int64_t round, double epsilon,
                            double delta, const char *at)
{
    if (isnan(epsilon) || epsilon < 0)
        return gf_errorf(GF_ERR_ARG, "job %lld: site \"%s\" reports DP-SGD epsilon %g: not a number >= 0",
                         (long long)job, site, epsilon);
    if (!(delta > 0 && delta < 1))
        return gf_errorf(GF_ERR_ARG, "job %lld: DP-SGD delta %g is not in (0, 1)", (long long)job, delta);
    return record_put(data_dir, job, "site_dp.json", "DP-SGD epsilon", site,
                      json_pack("{s:I,s:o,s:f,s:s}", "round", (json_int_t)round, "epsilon",
                                isfinite(epsilon) ? json_real(epsilon) : json_null(), "delta", delta, "at", at), 1);
}

json_t *gf_site_dp_json(const char *data_dir, int64_t job)
{
    static const char *const fields[] = { "round", "epsilon", "delta", "at", NULL };
    return records_json(data_dir, job, "site_dp.json", fields);
}

/* ---- site_eval ---- */

static const char *const METRICS[] = { "loss", "accuracy", "auc", "sensitivity", "specificity" };
#define NMETRICS 5

static json_t *num_or_null(double x) { return isnan(x) ? json_null() : json_real(x); }

gf_status gf_site_evals_add(const char *data_dir, int64_t job, int64_t model_round, const char *site,
                            const gf_eval_report *r)
{
    char path[PATH_MAX + 32];
    if (file_path(path, sizeof path, data_dir, job, "site_eval.jsonl"))
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

/* Keeps e as the last report of its round and site, if after lc->after. */
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
    if (!out || file_path(path, sizeof path, data_dir, job, "site_eval.jsonl")) return out;
    json_t *last = json_object();            /* "ROUND/SITE" -> its last entry */
    pthread_mutex_lock(&lock);
    int fd = last ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd >= 0) {                           /* a torn last line (a crash) is left unread */
        gf_metrics_cursor cur = { 0, GF_SITE_EVALS_MAX_BYTES, INT64_MAX };
        gf_metrics_file_read(fd, &cur, last_one, &(last_ctx){ last, after });
        close(fd);
    }
    pthread_mutex_unlock(&lock);
    size_t n = json_object_size(last), k = 0;
    json_t **e = malloc(sizeof *e * (n ? n : 1));
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
