/* gf tenant / token / usage / logs / queue: the facility's commands, over
 * the coordinator's API (operators: a kit or an operator token; members:
 * their token, for usage and logs). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/fed.h"

typedef struct {
    long shares;
    double cpu_h, gpu_h;
    int has_shares, has_quota;
    const char *tenant, *role, *since, *stream;
    double expires;
    int csv, follow;
} fac_opts;

enum { O_SHARES = 1000, O_QUOTA, O_TENANT, O_ROLE, O_EXPIRES, O_SINCE, O_CSV, O_STDERR, O_FOLLOW };

/* "cpu-hours=X,gpu-hours=Y" (either may be left out; "none" lifts it). */
static int parse_quota(const char *s, fac_opts *o)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq) goto bad;
        *eq = 0;
        double v = NAN;
        if (strcmp(eq + 1, "none")) {
            char *end;
            errno = 0;
            v = strtod(eq + 1, &end);
            if (errno || end == eq + 1 || *end || !(v >= 0) || !isfinite(v)) goto bad;
        }
        if (!strcmp(tok, "cpu-hours")) o->cpu_h = v;
        else if (!strcmp(tok, "gpu-hours")) o->gpu_h = v;
        else goto bad;
    }
    o->has_quota = 1;
    return 0;
bad:
    fprintf(stderr, "gf tenant: --quota must be cpu-hours=X,gpu-hours=Y (hours >= 0, or none), got \"%s\"\n", s);
    return -1;
}

static int on_opt(int opt, const char *arg, void *ctx)
{
    fac_opts *o = ctx;
    switch (opt) {
    case O_SHARES: o->has_shares = 1; return cli_parse_int("--shares", arg, 1, 1000000000L, &o->shares) ? -1 : 0;
    case O_QUOTA: return parse_quota(arg, o);
    case O_TENANT: o->tenant = arg; return 0;
    case O_ROLE: o->role = arg; return 0;
    case O_EXPIRES: return cli_parse_float("--expires-in", arg, 1, 3.2e8, &o->expires) ? -1 : 0;
    case O_SINCE: o->since = arg; return 0;
    case O_CSV: o->csv = 1; return 0;
    case O_STDERR: o->stream = "stderr"; return 0;
    case O_FOLLOW: o->follow = 1; return 0;
    }
    return -1;
}

static const struct option FAC_OPTS[] = {
    {"shares", 1, 0, O_SHARES}, {"quota", 1, 0, O_QUOTA}, {"tenant", 1, 0, O_TENANT}, {"role", 1, 0, O_ROLE},
    {"expires-in", 1, 0, O_EXPIRES}, {"since", 1, 0, O_SINCE}, {"csv", 0, 0, O_CSV}, {"stderr", 0, 0, O_STDERR},
    {"follow", 0, 0, O_FOLLOW}, {0, 0, 0, 0}};

static int print_reply(const cli_api *a, char *resp)
{
    if (a->json) printf("%s\n", resp);
    free(resp);
    return 0;
}

static json_t *quota_json(const fac_opts *o)
{
    return json_pack("{s:o,s:o}", "cpu_hours", isnan(o->cpu_h) ? json_null() : json_real(o->cpu_h),
                     "gpu_hours", isnan(o->gpu_h) ? json_null() : json_real(o->gpu_h));
}

int cmd_tenant(int argc, char **argv)
{
    static const char *usage =
        "usage: gf tenant add NAME --shares N [--quota cpu-hours=X,gpu-hours=Y] [connection]\n"
        "       gf tenant set NAME --shares N [--quota ...]   (changes shares and quotas)\n"
        "       gf tenant list [connection] [--json]\n"
        "Tenants share the facility by their fair-share shares; a job that would pass\n"
        "its tenant's quota (core-hours, GPU-hours) is held. Needs an operator.\n";
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "set") && strcmp(argv[1], "list"))) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    const char *sub = argv[1];
    cli_api a;
    fac_opts o = { .cpu_h = NAN, .gpu_h = NAN };
    int list = !strcmp(sub, "list");
    int i = cli_api_parse("tenant", argc - 1, argv + 1, &a, usage, list ? 0 : 1, FAC_OPTS, on_opt, &o);
    if (i < 0) return 2;
    char *resp;
    size_t len;
    if (list) {
        if (cli_api_call("tenant", &a, "GET", "/v1/tenants", NULL, 0, &resp, &len)) return 1;
        if (a.json) return print_reply(&a, resp);
        json_t *j = json_loads(resp, 0, NULL), *t;
        size_t k;
        printf("%-20s %8s %14s %14s %12s %12s\n", "tenant", "shares", "cpu-h quota", "gpu-h quota", "cpu-h used",
               "gpu-h used");
        json_array_foreach(json_object_get(j, "tenants"), k, t) {
            json_t *q = json_object_get(t, "quota"), *u = json_object_get(t, "used");
            char qc[32] = "-", qg[32] = "-";
            if (json_is_number(json_object_get(q, "cpu_hours"))) snprintf(qc, sizeof qc, "%.2f", json_number_value(json_object_get(q, "cpu_hours")));
            if (json_is_number(json_object_get(q, "gpu_hours"))) snprintf(qg, sizeof qg, "%.2f", json_number_value(json_object_get(q, "gpu_hours")));
            printf("%-20s %8lld %14s %14s %12.4f %12.4f\n", json_string_value(json_object_get(t, "name")),
                   (long long)json_integer_value(json_object_get(t, "shares")), qc, qg,
                   json_number_value(json_object_get(u, "cpu_hours")), json_number_value(json_object_get(u, "gpu_hours")));
        }
        json_decref(j);
        free(resp);
        return 0;
    }
    if (!o.has_shares) { fprintf(stderr, "gf tenant: --shares N is required\n"); return 2; }
    const char *name = argv[1 + i];
    json_t *body = json_pack("{s:I,s:o}", "shares", (json_int_t)o.shares, "quota", quota_json(&o));
    char path[160] = "/v1/tenants";
    if (!strcmp(sub, "add")) json_object_set_new(body, "name", json_string(name));
    else snprintf(path, sizeof path, "/v1/tenants/%s", name);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = text ? cli_api_call("tenant", &a, "POST", path, text, strlen(text), &resp, &len) : -1;
    free(text);
    if (rc) return 1;
    if (!a.json) printf("tenant %s %s with %ld shares\n", name, !strcmp(sub, "add") ? "added" : "changed", o.shares);
    return print_reply(&a, resp);
}

int cmd_token(int argc, char **argv)
{
    static const char *usage =
        "usage: gf token create --tenant NAME [--role member|operator] [--expires-in SECONDS] [connection]\n"
        "       gf token revoke ID [connection]\n"
        "Prints a new API token once (only its hash is kept). Members see and change only\n"
        "their tenant's jobs; operators everything. Needs an operator.\n";
    if (argc < 2 || (strcmp(argv[1], "create") && strcmp(argv[1], "revoke"))) { fprintf(stderr, "%s", usage); return 2; }
    int create = !strcmp(argv[1], "create");
    cli_api a;
    fac_opts o = { .cpu_h = NAN, .gpu_h = NAN };
    int i = cli_api_parse("token", argc - 1, argv + 1, &a, usage, create ? 0 : 1, FAC_OPTS, on_opt, &o);
    if (i < 0) return 2;
    char *resp;
    size_t len;
    if (!create) {
        long id;
        if (cli_parse_int("ID", argv[1 + i], 1, 1L << 62, &id)) return 2;
        char path[64];
        snprintf(path, sizeof path, "/v1/tokens/%ld/revoke", id);
        if (cli_api_call("token", &a, "POST", path, "", 0, &resp, &len)) return 1;
        if (!a.json) printf("token %ld revoked\n", id);
        return print_reply(&a, resp);
    }
    const char *role = o.role ? o.role : "member";
    if (strcmp(role, "member") && strcmp(role, "operator")) {
        fprintf(stderr, "gf token: --role must be member or operator, got \"%s\"\n", role);
        return 2;
    }
    if (!o.tenant && !strcmp(role, "member")) { fprintf(stderr, "gf token: --tenant NAME is required for a member\n"); return 2; }
    json_t *body = json_pack("{s:s}", "role", role);
    if (o.tenant) json_object_set_new(body, "tenant", json_string(o.tenant));
    if (o.expires > 0) json_object_set_new(body, "expires_in_s", json_real(o.expires));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = text ? cli_api_call("token", &a, "POST", "/v1/tokens", text, strlen(text), &resp, &len) : -1;
    free(text);
    if (rc) return 1;
    if (a.json) return print_reply(&a, resp);
    json_t *j = json_loads(resp, 0, NULL);
    printf("%s\n", json_string_value(json_object_get(j, "token")));
    fprintf(stderr, "gf token: token %lld (%s%s%s); it is shown only now\n",
            (long long)json_integer_value(json_object_get(j, "id")), role, o.tenant ? " of " : "", o.tenant ? o.tenant : "");
    json_decref(j);
    free(resp);
    return 0;
}

static void csv_field(const char *s)
{
    if (!strpbrk(s, ",\"\n")) { fputs(s, stdout); return; }
    putchar('"');
    for (; *s; s++) { if (*s == '"') putchar('"'); putchar(*s); }
    putchar('"');
}

int cmd_usage(int argc, char **argv)
{
    static const char *usage =
        "usage: gf usage [--tenant T] [--since DATE] [--csv] [connection] [--json]\n"
        "The usage ledger: one row per finished job (and per site of a federated job):\n"
        "core-seconds (allocated cores x wall time), CPU seconds, GPU-seconds, peak\n"
        "memory, wall time, bytes up and down; then totals per tenant. Members see\n"
        "their tenant only. DATE: 2026-11-27 or 2026-11-27T10:00:00Z.\n";
    cli_api a;
    fac_opts o = { .cpu_h = NAN, .gpu_h = NAN };
    if (cli_api_parse("usage", argc, argv, &a, usage, 0, FAC_OPTS, on_opt, &o) < 0) return 2;
    char path[512] = "/v1/usage", *resp;
    size_t len;
    if (o.tenant || o.since)
        snprintf(path, sizeof path, "/v1/usage?%s%s%s%s%s", o.tenant ? "tenant=" : "", o.tenant ? o.tenant : "",
                 o.tenant && o.since ? "&" : "", o.since ? "since=" : "", o.since ? o.since : "");
    if (strpbrk(path + 9, " #%+")) { fprintf(stderr, "gf usage: --tenant and --since cannot hold spaces, #, %% or +\n"); return 2; }
    if (cli_api_call("usage", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    if (a.json) return print_reply(&a, resp);
    json_t *j = json_loads(resp, 0, NULL), *r;
    size_t k;
    if (o.csv) {
        printf("seq,job,tenant,kind,site,executor,core_s,cpu_s,gpu_s,peak_mem_mb,wall_s,bytes_up,bytes_down,started_at,ended_at\n");
        json_array_foreach(json_object_get(j, "entries"), k, r) {
            printf("%lld,%lld,", (long long)json_integer_value(json_object_get(r, "seq")),
                   (long long)json_integer_value(json_object_get(r, "job")));
            const char *t = json_string_value(json_object_get(r, "tenant")), *site = json_string_value(json_object_get(r, "site"));
            csv_field(t ? t : "");
            printf(",%s,", json_string_value(json_object_get(r, "kind")));
            csv_field(site ? site : "");
            printf(",%s,%.3f,%.3f,%.3f,%.1f,%.3f,%lld,%lld,%s,%s\n", json_string_value(json_object_get(r, "executor")),
                   json_number_value(json_object_get(r, "core_s")), json_number_value(json_object_get(r, "cpu_s")),
                   json_number_value(json_object_get(r, "gpu_s")), json_number_value(json_object_get(r, "peak_mem_mb")),
                   json_number_value(json_object_get(r, "wall_s")),
                   (long long)json_integer_value(json_object_get(r, "bytes_up")),
                   (long long)json_integer_value(json_object_get(r, "bytes_down")),
                   json_is_string(json_object_get(r, "started_at")) ? json_string_value(json_object_get(r, "started_at")) : "",
                   json_string_value(json_object_get(r, "ended_at")));
        }
    } else {
        printf("%-6s %-16s %-10s %-12s %10s %10s %10s %9s %10s %12s %12s\n", "job", "tenant", "kind", "site", "core-s",
               "cpu-s", "gpu-s", "peak-MiB", "wall-s", "bytes-up", "bytes-down");
        json_array_foreach(json_object_get(j, "entries"), k, r) {
            const char *t = json_string_value(json_object_get(r, "tenant")), *site = json_string_value(json_object_get(r, "site"));
            printf("%-6lld %-16s %-10s %-12s %10.1f %10.1f %10.1f %9.1f %10.1f %12lld %12lld\n",
                   (long long)json_integer_value(json_object_get(r, "job")), t ? t : "-",
                   json_string_value(json_object_get(r, "kind")), site ? site : "-",
                   json_number_value(json_object_get(r, "core_s")), json_number_value(json_object_get(r, "cpu_s")),
                   json_number_value(json_object_get(r, "gpu_s")), json_number_value(json_object_get(r, "peak_mem_mb")),
                   json_number_value(json_object_get(r, "wall_s")),
                   (long long)json_integer_value(json_object_get(r, "bytes_up")),
                   (long long)json_integer_value(json_object_get(r, "bytes_down")));
        }
        printf("\ntotals\n");
        json_array_foreach(json_object_get(j, "totals"), k, r) {
            const char *t = json_string_value(json_object_get(r, "tenant"));
            printf("  %-16s %lld jobs  %.1f core-s (%.4f core-h)  %.1f gpu-s  %lld bytes up  %lld bytes down\n",
                   t && *t ? t : "-", (long long)json_integer_value(json_object_get(r, "jobs")),
                   json_number_value(json_object_get(r, "core_s")), json_number_value(json_object_get(r, "core_s")) / 3600,
                   json_number_value(json_object_get(r, "gpu_s")),
                   (long long)json_integer_value(json_object_get(r, "bytes_up")),
                   (long long)json_integer_value(json_object_get(r, "bytes_down")));
        }
    }
    json_decref(j);
    free(resp);
    return 0;
}

static int job_state_final(const cli_api *a, long id)
{
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    if (cli_api_call("logs", a, "GET", path, NULL, 0, &resp, &len)) return -1;
    json_t *j = json_loads(resp, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "state"));
    int fin = st && strcmp(st, "queued") && strcmp(st, "running");
    json_decref(j);
    free(resp);
    return fin;
}

int cmd_logs(int argc, char **argv)
{
    static const char *usage =
        "usage: gf logs JOB [--stderr] [--follow] [connection]\n"
        "A central job's stdout (or stderr); --follow keeps printing until the job ends.\n";
    cli_api a;
    fac_opts o = { .cpu_h = NAN, .gpu_h = NAN, .stream = "stdout" };
    int i = cli_api_parse("logs", argc, argv, &a, usage, 1, FAC_OPTS, on_opt, &o);
    if (i < 0) return 2;
    long id;
    if (cli_parse_int("JOB", argv[i], 1, 1L << 62, &id)) return 2;
    long offset = 0;
    for (;;) {
        int fin = o.follow ? job_state_final(&a, id) : 1;   /* read the state first: no line is lost at the end */
        if (fin < 0) return 1;
        char path[128], *resp;
        size_t len;
        snprintf(path, sizeof path, "/v1/jobs/%ld/logs?stream=%s&offset=%ld", id, o.stream, offset);
        if (cli_api_call("logs", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
        fwrite(resp, 1, len, stdout);
        fflush(stdout);
        offset += (long)len;
        free(resp);
        if (fin) return 0;
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
    }
}

int cmd_queue(int argc, char **argv)
{
    static const char *usage =
        "usage: gf queue [connection] [--json]\n"
        "Queued central jobs in the order they will start (Slurm's multifactor priority:\n"
        "fair share from Fair Tree over the tenants, plus age), each factor, and why each\n"
        "waits; then the fair-share tree. Needs an operator.\n";
    cli_api a;
    if (cli_api_parse("queue", argc, argv, &a, usage, 0, NULL, NULL, NULL) < 0) return 2;
    char *resp, *fs;
    size_t len;
    if (cli_api_call("queue", &a, "GET", "/v1/queue", NULL, 0, &resp, &len)) return 1;
    if (cli_api_call("queue", &a, "GET", "/v1/fairshare", NULL, 0, &fs, &len)) { free(resp); return 1; }
    if (a.json) { printf("{\"queue\":%s,\"fairshare\":%s}\n", resp, fs); free(resp); free(fs); return 0; }
    json_t *q = json_loads(resp, 0, NULL), *f = json_loads(fs, 0, NULL), *r;
    size_t k;
    printf("%-6s %-16s %-20s %10s %8s %9s  %s\n", "job", "tenant", "name", "priority", "age", "fairshare", "reason");
    json_array_foreach(json_object_get(q, "jobs"), k, r)
        printf("%-6lld %-16s %-20s %10.1f %8.4f %9.4f  %s\n", (long long)json_integer_value(json_object_get(r, "id")),
               json_string_value(json_object_get(r, "tenant")), json_string_value(json_object_get(r, "name")),
               json_number_value(json_object_get(r, "priority")),
               json_number_value(json_object_get(json_object_get(r, "factors"), "age")),
               json_number_value(json_object_get(json_object_get(r, "factors"), "fairshare")),
               json_string_value(json_object_get(r, "reason")));
    printf("\n%-16s %8s %11s %14s %10s %10s %9s %5s\n", "tenant", "shares", "norm-shares", "usage-core-s", "norm-usage",
           "level-fs", "fairshare", "rank");
    json_array_foreach(json_object_get(f, "tenants"), k, r) {
        json_t *lf = json_object_get(r, "level_fs");
        char lfs[32] = "inf";
        if (json_is_number(lf)) snprintf(lfs, sizeof lfs, "%.4f", json_number_value(lf));
        printf("%-16s %8lld %11.4f %14.1f %10.4f %10s %9.4f %5lld\n", json_string_value(json_object_get(r, "tenant")),
               (long long)json_integer_value(json_object_get(r, "shares")),
               json_number_value(json_object_get(r, "norm_shares")), json_number_value(json_object_get(r, "usage_core_s")),
               json_number_value(json_object_get(r, "norm_usage")), lfs,
               json_number_value(json_object_get(r, "fairshare")), (long long)json_integer_value(json_object_get(r, "rank")));
    }
    json_decref(q);
    json_decref(f);
    free(resp);
    free(fs);
    return 0;
}
