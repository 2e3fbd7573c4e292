/* Sites' own DP-SGD epsilon per job: a small JSON file per job, rewritten
 * atomically under one lock on each report (site_dp.h). */
#include "service/site_dp.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fsutil.h"
#include "fed/fedjob.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void file_path(char *out, size_t cap, const char *data_dir, int64_t job)
{
    char dir[PATH_MAX];
    if (gf_fedjob_artifact_path(data_dir, job, 0, dir, sizeof dir)) { out[0] = '\0'; return; }
    snprintf(out, cap, "%s/site_dp.json", dir);
}

/* The file's object {site: {round, epsilon, delta, at}}, or a new empty one. */
static json_t *load(const char *path)
{
    json_t *o = path[0] ? json_load_file(path, 0, NULL) : NULL;
    if (o && json_is_object(o) && json_object_size(o) <= GF_SITE_DP_MAX) return o;
    json_decref(o);
    return json_object();
}

gf_status gf_site_dp_record(const char *data_dir, int64_t job, const char *site, int64_t round, double epsilon,
                            double delta, const char *at)
{
    if (isnan(epsilon) || epsilon < 0)
        return gf_errorf(GF_ERR_ARG, "job %lld: site \"%s\" reports DP-SGD epsilon %g: not a number >= 0",
                         (long long)job, site, epsilon);
    if (!(delta > 0 && delta < 1))
        return gf_errorf(GF_ERR_ARG, "job %lld: DP-SGD delta %g is not in (0, 1)", (long long)job, delta);
    char path[PATH_MAX + 32];
    file_path(path, sizeof path, data_dir, job);
    if (!path[0]) return gf_errorf(GF_ERR_ARG, "job %lld: no place for its sites' DP-SGD epsilon", (long long)job);
    pthread_mutex_lock(&lock);
    json_t *o = load(path);
    json_t *old = json_object_get(o, site);
    gf_status st = GF_OK;
    if (!old && json_object_size(o) >= GF_SITE_DP_MAX) {
        st = gf_errorf(GF_ERR_ARG, "job %lld: the DP-SGD epsilon of more than %d sites is not kept", (long long)job,
                       GF_SITE_DP_MAX);
    } else if (!old || json_integer_value(json_object_get(old, "round")) <= round) {
        json_t *r = json_pack("{s:I,s:o,s:f,s:s}", "round", (json_int_t)round, "epsilon",
                              isfinite(epsilon) ? json_real(epsilon) : json_null(), "delta", delta, "at", at);
        char *text = NULL;
        if (!r || json_object_set_new(o, site, r) || !(text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS))) {
            st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        } else {
            gf_fs_part part = { text, strlen(text) };
            st = gf_fs_write_atomic(path, &part, 1, 0600);
        }
        free(text);
    }
    json_decref(o);
    pthread_mutex_unlock(&lock);
    return st;
}

json_t *gf_site_dp_json(const char *data_dir, int64_t job)
{
    char path[PATH_MAX + 32];
    file_path(path, sizeof path, data_dir, job);
    json_t *arr = json_array();
    pthread_mutex_lock(&lock);
    json_t *o = load(path);
    pthread_mutex_unlock(&lock);
    const char *site;
    json_t *r;
    json_object_foreach(o, site, r) {       /* keys were written sorted */
        json_t *eps = json_object_get(r, "epsilon");
        json_t *e = json_pack("{s:s,s:O,s:O,s:O,s:O}", "site", site, "round", json_object_get(r, "round"),
                              "epsilon", json_is_number(eps) ? eps : json_null(), "delta",
                              json_object_get(r, "delta"), "at", json_object_get(r, "at"));
        if (e) json_array_append_new(arr, e);
    }
    json_decref(o);
    return arr;
}
