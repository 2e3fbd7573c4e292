/* The facility's HTTP routes (docs/api.md): who am I, tenants and tokens
 * (operators), the queue and the fair-share tree (operators), the usage
 * ledger (operators: all; members: their tenant), a central job's logs, and
 * the dashboard's files (served to anyone: they hold no data; the page asks
 * for a token and sends it with every API call). */
#include "service/coordinator_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <jansson.h>
#include "service/datasets.h"
#include "service/ledger.h"
#include "service/scheduler.h"
#include "service/tenants.h"
#include "service/web_assets.h"

#define CHART_JS "/usr/share/javascript/chart.js/chart.min.js"   /* Debian's libjs-chart.js */
#define LOG_MAX_BYTES ((long)8 << 20)                              /* one logs response at most */

void co_job_dir(const gf_coordinator *c, int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%.*s/jobs/%lld", PATH_MAX - 1, c->data_dir, (long long)id);
}

gf_status co_send_file(const char *path, long offset, long max, int missing_empty, const char *type,
                       gf_http_response *resp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && missing_empty) {     /* not written yet: empty */
            resp->status = 200;
            resp->content_type = type;
            return GF_OK;
        }
        return gf_errorf(GF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return gf_errorf(GF_ERR_IO, "cannot read %s", path);
    }
    long n = (long)sb.st_size;
    if (offset > n) offset = n;
    if (n - offset > max) offset = n - max;          /* the tail */
    /* streamed from disk by the server (which closes fd), never read into memory */
    resp->status = 200;
    resp->content_type = type;
    resp->has_fd = 1;
    resp->fd = fd;
    resp->fd_offset = (uint64_t)offset;
    resp->len = (size_t)(n - offset);
    return GF_OK;
}

static json_t *body_json(const gf_http_request *req, gf_http_response *resp, gf_status *st)
{
    json_error_t err;
    json_t *b = req->body_len <= 65536 ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &err)
                                       : NULL;
    if (!json_is_object(b)) {
        json_decref(b);
        *st = co_refuse(resp, 400, GF_ERR_FORMAT, "the body must be a JSON object%s%s",
                        req->body_len > 65536 ? " of at most 64 KiB" : ": ", req->body_len > 65536 ? "" : err.text);
        return NULL;
    }
    return b;
}

/* Refuses keys outside `allowed` (NULL-terminated), naming the first. */
static gf_status check_keys(json_t *b, const char *const *allowed, const char *where, gf_http_response *resp)
{
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(k, allowed[i]);
        if (!ok) return co_refuse(resp, 400, GF_ERR_ARG, "%s%s: unknown key", where, k);
    }
    return GF_OK;
}

/* A quota in hours from the JSON (null/absent: none) into seconds. */
static gf_status quota_of(json_t *q, const char *key, double *out, gf_http_response *resp)
{
    json_t *v = json_object_get(q, key);
    *out = NAN;
    if (!v || json_is_null(v)) return GF_OK;
    if (!json_is_number(v) || !(json_number_value(v) >= 0) || !isfinite(json_number_value(v)) ||
        json_number_value(v) > 1e9)
        return co_refuse(resp, 400, GF_ERR_ARG, "quota.%s: must be a number of hours in [0, 1e9] or null", key);
    *out = json_number_value(v) * 3600.0;
    return GF_OK;
}

static json_t *hours_or_null(double s) { return isnan(s) ? json_null() : json_real(s / 3600.0); }

/* ---- tenants and tokens ------------------------------------------------------- */

typedef struct { json_t *list; double *used_cpu; } tenants_ctx;

static int usage_sum(const gf_store_usage *u, void *ctx)
{
    json_t *totals = ctx;
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)u->tenant_id);
    json_t *t = json_object_get(totals, key);
    if (!t) {
        t = json_pack("{s:s,s:f,s:f,s:f,s:f,s:I,s:I,s:i}", "tenant", u->tenant, "core_s", 0.0, "cpu_s", 0.0,
                      "gpu_s", 0.0, "wall_s", 0.0, "bytes_up", (json_int_t)0, "bytes_down", (json_int_t)0, "jobs", 0);
        json_object_set_new(totals, key, t);
    }
    json_object_set_new(t, "core_s", json_real(json_real_value(json_object_get(t, "core_s")) + u->core_s));
    json_object_set_new(t, "cpu_s", json_real(json_real_value(json_object_get(t, "cpu_s")) + u->cpu_s));
    json_object_set_new(t, "gpu_s", json_real(json_real_value(json_object_get(t, "gpu_s")) + u->gpu_s));
    json_object_set_new(t, "wall_s", json_real(json_real_value(json_object_get(t, "wall_s")) + (u->site[0] ? 0 : u->wall_s)));
    json_object_set_new(t, "bytes_up", json_integer(json_integer_value(json_object_get(t, "bytes_up")) + u->bytes_up));
    json_object_set_new(t, "bytes_down", json_integer(json_integer_value(json_object_get(t, "bytes_down")) + u->bytes_down));
    if (!u->site[0]) json_object_set_new(t, "jobs", json_integer(json_integer_value(json_object_get(t, "jobs")) + 1));
    return 0;
}

static int tenant_one(const gf_store_tenant *t, void *ctx)
{
    json_t **io = ctx;      /* [0] list, [1] totals by tenant id */
    char key[32];
    snprintf(key, sizeof key, "%lld", (long long)t->id);
    json_t *tot = json_object_get(io[1], key);
    json_array_append_new(io[0], json_pack("{s:s,s:I,s:{s:o,s:o},s:{s:f,s:f},s:s}", "name", t->name,
        "shares", (json_int_t)t->shares, "quota", "cpu_hours", hours_or_null(t->quota_cpu_s),
        "gpu_hours", hours_or_null(t->quota_gpu_s), "used", "cpu_hours",
        json_real_value(json_object_get(tot, "core_s")) / 3600.0, "gpu_hours",
        json_real_value(json_object_get(tot, "gpu_s")) / 3600.0, "created_at", t->created_at));
    return 0;
}

static gf_status tenants_list(gf_coordinator *c, gf_http_response *resp)
{
    json_t *io[2] = { json_array(), json_object() };
    gf_status st = gf_store_ledger(c->store, 0, NULL, usage_sum, io[1]);
    if (!st) st = gf_store_tenants(c->store, tenant_one, io);
    json_decref(io[1]);
    if (st) { json_decref(io[0]); return st; }
    return co_reply(resp, 200, json_pack("{s:o}", "tenants", io[0]));
}

/* POST /v1/tenants {"name", "shares", "quota": {"cpu_hours", "gpu_hours"}}: adds, or with
 * PUT-like semantics on /v1/tenants/NAME changes one. */
static gf_status tenant_write(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                              const char *name_in_path, gf_http_response *resp)
{
    static const char *const keys[] = {"name", "shares", "quota", NULL};
    static const char *const qkeys[] = {"cpu_hours", "gpu_hours", NULL};
    gf_status st = GF_OK;
    json_t *b = body_json(req, resp, &st);
    if (!b) return st;
    json_t *q = json_object_get(b, "quota"), *sh = json_object_get(b, "shares");
    const char *name = name_in_path ? name_in_path : json_string_value(json_object_get(b, "name"));
    double qc = NAN, qg = NAN;
    if ((st = check_keys(b, keys, "", resp))) goto out;
    if (q && !json_is_null(q) && (!json_is_object(q) || (st = check_keys(q, qkeys, "quota.", resp)))) {
        if (!st) st = co_refuse(resp, 400, GF_ERR_ARG, "quota: must be an object {cpu_hours, gpu_hours}");
        goto out;
    }
    if (!name) { st = co_refuse(resp, 400, GF_ERR_ARG, "name: required, a string"); goto out; }
    if (gf_tenant_name_check(name)) { st = co_refuse(resp, 400, GF_ERR_ARG, "name: %s", gf_last_error()); goto out; }
    if (!json_is_integer(sh) || json_integer_value(sh) < 1 || json_integer_value(sh) > 1000000000) {
        st = co_refuse(resp, 400, GF_ERR_ARG, "shares: required, an integer in 1..1e9");
        goto out;
    }
    if ((st = quota_of(q, "cpu_hours", &qc, resp)) || (st = quota_of(q, "gpu_hours", &qg, resp))) goto out;
    if (name_in_path) {
        if ((st = gf_store_tenant_update(c->store, name, json_integer_value(sh), qc, qg))) {
            st = co_refuse(resp, 404, st, "%s", gf_last_error());
            goto out;
        }
    } else if ((st = gf_store_tenant_add(c->store, name, json_integer_value(sh), qc, qg, NULL))) {
        st = co_refuse(resp, st == GF_ERR_MISMATCH ? 409 : 400, st, "%s", gf_last_error());
        goto out;
    }
    co_audit(c, who->actor, name_in_path ? "tenant.updated" : "tenant.added",
             json_pack("{s:s,s:I}", "tenant", name, "shares", (json_int_t)json_integer_value(sh)));
    st = co_reply(resp, name_in_path ? 200 : 201,
                  json_pack("{s:s,s:I,s:{s:o,s:o}}", "name", name, "shares", (json_int_t)json_integer_value(sh),
                            "quota", "cpu_hours", hours_or_null(qc), "gpu_hours", hours_or_null(qg)));
out:
    json_decref(b);
    return st;
}

/* POST /v1/tokens {"tenant", "role", "expires_in_s"}: the token, shown once. */
static gf_status token_create(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                              gf_http_response *resp)
{
    static const char *const keys[] = {"tenant", "role", "expires_in_s", NULL};
    gf_status st = GF_OK;
    json_t *b = body_json(req, resp, &st);
    if (!b) return st;
    const char *tname = json_string_value(json_object_get(b, "tenant"));
    json_t *rv = json_object_get(b, "role"), *ev = json_object_get(b, "expires_in_s");
    gf_role role = GF_ROLE_MEMBER;
    gf_store_tenant t = {0};
    double exp = 0;
    char token[GF_TOKEN_LEN + 1];
    int64_t id = 0;
    if ((st = check_keys(b, keys, "", resp))) goto out;
    if (rv && gf_role_parse(json_string_value(rv), &role)) { st = co_refuse(resp, 400, GF_ERR_ARG, "role: %s", gf_last_error()); goto out; }
    if (json_object_get(b, "tenant") && !tname) { st = co_refuse(resp, 400, GF_ERR_ARG, "tenant: must be a string"); goto out; }
    if (tname && gf_store_tenant_get(c->store, tname, &t)) { st = co_refuse(resp, 400, GF_ERR_ARG, "tenant: no tenant \"%s\"", tname); goto out; }
    if (role == GF_ROLE_MEMBER && !t.id) { st = co_refuse(resp, 400, GF_ERR_ARG, "tenant: a member token needs a tenant"); goto out; }
    if (ev && (!json_is_number(ev) || !(json_number_value(ev) > 0) || json_number_value(ev) > 10 * 365.25 * 86400)) {
        st = co_refuse(resp, 400, GF_ERR_ARG, "expires_in_s: must be a number of seconds in (0, 10 years]");
        goto out;
    }
    if (ev) exp = json_number_value(ev);
    if ((st = gf_store_token_create(c->store, t.id, role, exp, token, &id))) goto out;
    co_audit(c, who->actor, "token.created", json_pack("{s:I,s:s,s:s}", "token", (json_int_t)id,
                                                        "role", gf_role_name(role), "tenant", t.name));
    st = co_reply(resp, 201, json_pack("{s:I,s:s,s:o,s:s,s:o}", "id", (json_int_t)id, "token", token,
                                       "tenant", t.id ? json_string(t.name) : json_null(), "role", gf_role_name(role),
                                       "expires_in_s", exp > 0 ? json_real(exp) : json_null()));
    memset(token, 0, sizeof token);
out:
    json_decref(b);
    return st;
}

/* ---- usage, queue, logs ---------------------------------------------------------- */

static int usage_row(const gf_store_usage *u, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:I,s:I,s:o,s:s,s:o,s:s,s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:o,s:s}",
        "seq", (json_int_t)u->seq, "job", (json_int_t)u->job_id,
        "tenant", u->tenant[0] ? json_string(u->tenant) : json_null(), "kind", u->kind,
        "site", u->site[0] ? json_string(u->site) : json_null(), "executor", u->executor, "core_s", u->core_s,
        "cpu_s", u->cpu_s, "gpu_s", u->gpu_s, "peak_mem_mb", (double)u->peak_mem_kb / 1024.0, "wall_s", u->wall_s,
        "bytes_up", (json_int_t)u->bytes_up, "bytes_down", (json_int_t)u->bytes_down,
        "started_at", u->started_at[0] ? json_string(u->started_at) : json_null(), "ended_at", u->ended_at));
    return 0;
}

static gf_status usage(gf_coordinator *c, const gf_http_request *req, const co_principal *who, gf_http_response *resp)
{
    const char *tname = gf_https_query(req, "tenant"), *since = gf_https_query(req, "since");
    int64_t tid = 0;
    gf_status st = co_tenant_filter(c, who, tname, &tid, resp);
    if (st) return st;
    if (since && (strlen(since) < 4 || strlen(since) > GF_STORE_TIME_LEN || since[0] < '0' || since[0] > '9'))
        return co_refuse(resp, 400, GF_ERR_ARG, "since: must be a date or time such as 2026-11-27 or 2026-11-27T10:00:00Z");
    json_t *rows = json_array(), *totals = json_object();
    st = gf_store_ledger(c->store, tid, since, usage_row, rows);
    if (!st) st = gf_store_ledger(c->store, tid, since, usage_sum, totals);
    json_t *tl = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(totals, k, v) json_array_append(tl, v);
    json_decref(totals);
    if (st) { json_decref(rows); json_decref(tl); return st; }
    return co_reply(resp, 200, json_pack("{s:o,s:o}", "entries", rows, "totals", tl));
}

static gf_status logs(gf_coordinator *c, const gf_http_request *req, const co_principal *who, int64_t id,
                      gf_http_response *resp)
{
    gf_store_job job;
    gf_status st = co_job_for(c, who, id, &job, resp);
    if (st) return st;
    int central = co_kind_scheduled(job.kind);
    gf_store_job_free(&job);
    if (!central) return co_refuse(resp, 404, GF_ERR_ARG, "job %lld is federated: its record is the audit log and "
                                   "the rounds (GET /v1/jobs/%lld)", (long long)id, (long long)id);
    const char *stream = gf_https_query(req, "stream"), *off = gf_https_query(req, "offset");
    if (!stream) stream = "stdout";
    if (strcmp(stream, "stdout") && strcmp(stream, "stderr"))
        return co_refuse(resp, 400, GF_ERR_ARG, "stream: must be stdout or stderr");
    long offset = 0;
    if (off) {
        char *end;
        errno = 0;
        offset = strtol(off, &end, 10);
        if (errno || end == off || *end || offset < 0) return co_refuse(resp, 400, GF_ERR_ARG, "offset: must be an integer >= 0");
    }
    char path[PATH_MAX + 128];
    co_job_dir(c, id, path, sizeof path);
    strcat(path, !strcmp(stream, "stdout") ? "/stdout.log" : "/stderr.log");
    return co_send_file(path, offset, LOG_MAX_BYTES, 1, "text/plain; charset=utf-8", resp);
}

/* ---- datasets ------------------------------------------------------------------- */

typedef struct { json_t *list; int op; } ds_list;

static int dataset_one(const gf_dataset_entry *e, void *ctx)
{
    ds_list *l = ctx;
    json_t *tenants = json_array();
    char buf[sizeof e->tenants];
    snprintf(buf, sizeof buf, "%s", e->tenants);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) json_array_append_new(tenants, json_string(t));
    json_t *o = json_pack("{s:s,s:s,s:b,s:o}", "name", e->name, "format", gf_dataset_format_name(e->format),
                          "public", e->public_, "tenants", tenants);
    if (l->op) {                              /* where the data lies is the operator's business */
        json_object_set_new(o, "path", json_string(e->path));
        if (e->label[0]) json_object_set_new(o, "label", json_string(e->label));
        if (e->test_path[0]) json_object_set_new(o, "test", json_string(e->test_path));
        if (e->options[0]) json_object_set_new(o, "options", json_string(e->options));
    } else {
        json_object_del(o, "tenants");
    }
    json_array_append_new(l->list, o);
    return 0;
}

static gf_status datasets_list(gf_coordinator *c, const co_principal *who, gf_http_response *resp)
{
    int op = who->role == CO_OPERATOR;
    ds_list l = { json_array(), op };
    gf_status st = gf_store_datasets(c->store, op ? 0 : who->tenant_id, dataset_one, &l);
    if (st) { json_decref(l.list); return st; }
    return co_reply(resp, 200, json_pack("{s:o}", "datasets", l.list));
}

/* POST /v1/datasets {"name", "path", "format", "label", "test", "options", "tenants": [...], "public"} (operators) */
static gf_status dataset_add(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                             gf_http_response *resp)
{
    static const char *const keys[] = {"name", "path", "format", "label", "test", "options", "tenants", "public", NULL};
    gf_status st = GF_OK;
    json_t *b = body_json(req, resp, &st);
    if (!b) return st;
    const char *names[64];
    int n = 0;
    json_t *name = json_object_get(b, "name"), *path = json_object_get(b, "path"), *label = json_object_get(b, "label"),
           *test = json_object_get(b, "test"), *ten = json_object_get(b, "tenants"), *pub = json_object_get(b, "public"),
           *fmt = json_object_get(b, "format"), *opts = json_object_get(b, "options");
    if ((st = check_keys(b, keys, "", resp))) goto out;
    if (!json_is_string(name) || !json_is_string(path) || (label && !json_is_string(label)) ||
        (test && !json_is_string(test)) || (pub && !json_is_boolean(pub)) || (fmt && !json_is_string(fmt)) ||
        (opts && !json_is_string(opts)) ||
        (ten && (!json_is_array(ten) || json_array_size(ten) > 64))) {
        st = co_refuse(resp, 400, GF_ERR_ARG, "datasets: name and path are strings, format, label, test and options optional "
                       "strings, "
                       "tenants an array of at most 64 tenant names, public a boolean");
        goto out;
    }
    for (size_t i = 0; ten && i < json_array_size(ten); i++) {
        if (!json_is_string(json_array_get(ten, i))) {
            st = co_refuse(resp, 400, GF_ERR_ARG, "tenants[%zu]: must be a tenant name", i);
            goto out;
        }
        names[n++] = json_string_value(json_array_get(ten, i));
    }
    if ((st = gf_store_dataset_add(c->store, json_string_value(name), json_string_value(path),
                                   fmt ? json_string_value(fmt) : NULL, label ? json_string_value(label) : NULL,
                                   test ? json_string_value(test) : NULL, opts ? json_string_value(opts) : NULL,
                                   json_is_true(pub), names, n))) {
        st = co_refuse(resp, st == GF_ERR_MISMATCH ? 409 : 400, st, "%s", gf_last_error());
        goto out;
    }
    co_audit(c, who->actor, "dataset.added", json_pack("{s:s,s:b,s:i}", "dataset", json_string_value(name),
                                                        "public", json_is_true(pub), "tenants", n));
    st = co_reply(resp, 201, json_pack("{s:s}", "name", json_string_value(name)));
out:
    json_decref(b);
    return st;
}

/* ---- routing -------------------------------------------------------------------- */

gf_status co_facility_route(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                            gf_http_response *resp, int *handled)
{
    const char *m = req->method, *path = req->path;
    int get = !strcmp(m, "GET"), post = !strcmp(m, "POST");
    int op = who->role == CO_OPERATOR;
    *handled = 1;
    if (get && !strcmp(path, "/static/chart.min.js"))
        return co_send_file(CHART_JS, 0, LOG_MAX_BYTES, 0, "text/javascript", resp);
    if (get && (!strcmp(path, "/") || !strncmp(path, "/static/", 8))) {
        const gf_web_asset *a = gf_web_asset_find(path);
        if (!a) return co_refuse(resp, 404, GF_ERR_ARG, "no file %s", path);
        resp->status = 200;
        resp->content_type = a->content_type;
        resp->body = a->data;
        resp->len = a->len;
        return GF_OK;
    }
    if (!strcmp(path, "/v1/whoami") && get)
        return co_reply(resp, 200, json_pack("{s:s,s:o,s:s}", "role", op ? "operator" : "member",
                                             "tenant", who->tenant[0] ? json_string(who->tenant) : json_null(),
                                             "actor", who->actor));
    if (!strcmp(path, "/v1/usage") && get) return usage(c, req, who, resp);
    if (!strncmp(path, "/v1/jobs/", 9) && get) {
        char *end;
        long long id = strtoll(path + 9, &end, 10);
        if (id > 0 && !strcmp(end, "/logs")) return logs(c, req, who, id, resp);
    }
    if (!strcmp(path, "/v1/datasets") && get) return datasets_list(c, who, resp);
    if (!strcmp(path, "/v1/datasets") && post) {
        if (!op) return co_refuse(resp, 403, GF_ERR_ARG, "registering a dataset is for operators");
        return dataset_add(c, req, who, resp);
    }
    int facility = !strcmp(path, "/v1/tenants") || !strncmp(path, "/v1/tenants/", 12) || !strcmp(path, "/v1/tokens") ||
                   !strncmp(path, "/v1/tokens/", 11) || !strcmp(path, "/v1/queue") || !strcmp(path, "/v1/fairshare");
    if (!facility) { *handled = 0; return GF_OK; }
    if (!op) return co_refuse(resp, 403, GF_ERR_ARG, "%s is for operators", path);
    if (!strcmp(path, "/v1/queue") && get) {
        int n = 0;
        json_t *q = co_sched_queue(c, &n);
        return co_reply(resp, 200, json_pack("{s:o,s:i}", "jobs", q, "running", co_sched_running(c)));
    }
    if (!strcmp(path, "/v1/fairshare") && get) return co_reply(resp, 200, co_sched_fairshare(c));
    if (!strcmp(path, "/v1/tenants") && get) return tenants_list(c, resp);
    if (!strcmp(path, "/v1/tenants") && post) return tenant_write(c, req, who, NULL, resp);
    if (!strncmp(path, "/v1/tenants/", 12) && post) return tenant_write(c, req, who, path + 12, resp);
    if (!strcmp(path, "/v1/tokens") && post) return token_create(c, req, who, resp);
    if (!strncmp(path, "/v1/tokens/", 11) && post) {
        char *end;
        long long id = strtoll(path + 11, &end, 10);
        if (id <= 0 || strcmp(end, "/revoke")) return co_refuse(resp, 404, GF_ERR_ARG, "no route %s %s", m, path);
        if (gf_store_token_revoke(c->store, id)) return co_refuse(resp, 404, GF_ERR_ARG, "%s", gf_last_error());
        co_audit(c, who->actor, "token.revoked", json_pack("{s:I}", "token", (json_int_t)id));
        return co_reply(resp, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "revoked", 1));
    }
    return co_refuse(resp, 405, GF_ERR_ARG, "%s %s: no such operation", m, path);
}
