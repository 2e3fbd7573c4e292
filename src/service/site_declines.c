/* Sites' last declines per job: a small JSON file per job, rewritten
 * atomically under one lock on each decline (site_declines.h). */
#include "service/site_declines.h"

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/fsutil.h"
#include "fed/fedjob.h"


static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

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

static void file_path(char *out, size_t cap, const char *data_dir, int64_t job)
{
    char dir[PATH_MAX];
    if (gf_fedjob_artifact_path(data_dir, job, 0, dir, sizeof dir)) { out[0] = '\0'; return; }
    snprintf(out, cap, "%s/declines.json", dir);
}

/* The file's object {site: {round, reason, at}}, or a new empty one. */
static json_t *load(const char *path)
{
    json_t *o = path[0] ? json_load_file(path, 0, NULL) : NULL;
    if (o && json_is_object(o) && json_object_size(o) <= GF_SITE_DECLINES_MAX) return o;
    json_decref(o);
    return json_object();
}

gf_status gf_site_declines_record(const char *data_dir, int64_t job, const char *site, int64_t round,
                                  const char *reason, const char *at)
{
    char path[PATH_MAX + 32], clean[GF_SITE_DECLINE_REASON_MAX + 4];
    file_path(path, sizeof path, data_dir, job);
    if (!path[0]) return gf_errorf(GF_ERR_ARG, "job %lld: no place for its declines", (long long)job);
    gf_site_decline_clean(clean, sizeof clean, reason);
    pthread_mutex_lock(&lock);
    json_t *o = load(path);
    gf_status st = GF_OK;
    if (!json_object_get(o, site) && json_object_size(o) >= GF_SITE_DECLINES_MAX) {
        st = gf_errorf(GF_ERR_ARG, "job %lld: declines of more than %d sites are not kept", (long long)job,
                       GF_SITE_DECLINES_MAX);
    } else {
        json_t *r = json_pack("{s:I,s:s,s:s}", "round", (json_int_t)round, "reason", clean, "at", at);
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

json_t *gf_site_declines_json(const char *data_dir, int64_t job)
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
        json_t *e = json_pack("{s:s,s:O,s:O,s:O}", "site", site, "round", json_object_get(r, "round"),
                              "reason", json_object_get(r, "reason"), "at", json_object_get(r, "at"));
        if (e) json_array_append_new(arr, e);
    }
    json_decref(o);
    return arr;
}
