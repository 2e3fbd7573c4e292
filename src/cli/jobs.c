/* gf submit / status / cancel / download: the jobs API over HTTPS, with the
 * operator's kit (client certificate) or an API token; and the connection
 * options every API command shares (cli_api_*). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include <limits.h>
#include "cli/cli.h"
#include "cli/fed.h"
#include "cli/program.h"
#include "core/fsutil.h"
#include "core/timer.h"
#include "net/https_client.h"

typedef cli_api job_args;

static const char *API_USAGE =
    "connection (every API command):\n"
    "  --coordinator URL  https://HOST:PORT/ (default: $GF_COORDINATOR, or the kit's)\n"
    "  --token TOKEN      an API token (default: $GF_TOKEN); needs --ca or a kit\n"
    "  --ca FILE          the federation CA certificate (default: $GF_CA, or the kit's)\n"
    "  --kit DIR          the operator kit (client certificate; default: $GF_KIT)\n";

int cli_api_parse(const char *cmd, int argc, char **argv, cli_api *a, const char *usage, int npos,
                  const struct option *extra, int (*on_extra)(int opt, const char *arg, void *ctx), void *ctx)
{
    struct option opts[32] = {
        {"coordinator", 1, 0, 'c'}, {"kit", 1, 0, 'k'}, {"json", 0, 0, 'j'}, {"out", 1, 0, 'o'},
        {"token", 1, 0, 'T'}, {"ca", 1, 0, 'A'}, {"help", 0, 0, 'h'}};
    int n = 7;
    for (int i = 0; extra && extra[i].name && n < 31; i++) opts[n++] = extra[i];
    opts[n] = (struct option){0, 0, 0, 0};
    *a = (cli_api){ .kit = getenv("GF_KIT"), .url = getenv("GF_COORDINATOR"), .token = getenv("GF_TOKEN"),
                    .ca = getenv("GF_CA") };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->url = optarg; break;
        case 'k': a->kit = optarg; break;
        case 'j': a->json = 1; break;
        case 'o': a->out = optarg; break;
        case 'T': a->token = optarg; break;
        case 'A': a->ca = optarg; break;
        case 'h': printf("%s\n%s", usage, API_USAGE); exit(0);
        default:
            if (c != '?' && c != ':' && on_extra && !on_extra(c, optarg, ctx)) break;
            if (c == '?' || c == ':')
                fprintf(stderr, "gf %s: unknown or incomplete option \"%s\" (see gf %s --help)\n", cmd,
                        argv[optind - 1], cmd);
            return -1;
        }
    }
    if (a->token && !*a->token) a->token = NULL;
    if (!a->kit && !a->token) {
        fprintf(stderr, "gf %s: give --token TOKEN (or set GF_TOKEN), or --kit DIR (the operator kit, "
                "PKI/operator from gf provision; or set GF_KIT)\n", cmd);
        return -1;
    }
    if (a->token && !a->kit && (!a->ca || !a->url)) {
        fprintf(stderr, "gf %s: with a token, give --coordinator URL and --ca FILE (or GF_COORDINATOR and GF_CA)\n", cmd);
        return -1;
    }
    if (argc - optind != npos) {
        fprintf(stderr, "gf %s: expected %d argument%s (see gf %s --help)\n", cmd, npos, npos == 1 ? "" : "s", cmd);
        return -1;
    }
    return optind;
}

static int parse_args(const char *cmd, int argc, char **argv, job_args *a, const char *usage)
{
    return cli_api_parse(cmd, argc, argv, a, usage, 1, NULL, NULL, NULL);
}

int cli_api_call(const char *cmd, const cli_api *a, const char *method, const char *path, const void *body,
                 size_t len, char **resp, size_t *resp_len)
{
    gf_https_client *h;
    int status = 0;
    char ca[PATH_MAX];
    gf_status st;
    if (a->token) {
        snprintf(ca, sizeof ca, "%s%s", a->ca ? a->ca : a->kit, a->ca ? "" : "/ca.crt");
        char url[1024] = "";
        if (!a->url) {                      /* the kit's URL */
            char p[PATH_MAX];
            snprintf(p, sizeof p, "%s/coordinator.url", a->kit);
            FILE *f = fopen(p, "r");
            if (f) { if (fgets(url, sizeof url, f)) url[strcspn(url, " \r\n")] = 0; fclose(f); }
        }
        st = gf_https_client_open_token(ca, a->url ? a->url : url, a->token, &h);
    } else {
        st = gf_https_client_open(a->kit, a->url, &h);
    }
    if (st) { fprintf(stderr, "gf %s: %s\n", cmd, gf_last_error()); return -1; }
    st = gf_https_request(h, method, path, body, len, &status, resp, resp_len);
    gf_https_client_close(h);
    if (st) { fprintf(stderr, "gf %s: %s\n", cmd, gf_last_error()); return -1; }
    if (status < 200 || status > 299) {
        json_t *e = json_loads(*resp, 0, NULL);
        const char *msg = json_string_value(json_object_get(e, "error"));
        fprintf(stderr, "gf %s: HTTP %d: %s\n", cmd, status, msg ? msg : *resp);
        json_decref(e);
        free(*resp);
        *resp = NULL;
        return -1;
    }
    return 0;
}

static int call(const char *cmd, const job_args *a, const char *method, const char *path, const void *body,
                size_t len, char **resp, size_t *resp_len)
{
    return cli_api_call(cmd, a, method, path, body, len, resp, resp_len);
}

/* --wait and --timeout S: follow a job until it ends. */
typedef struct { int wait; double timeout_s; } wait_opts;
static const struct option WAIT_OPTS[] = { {"wait", 0, 0, 'W'}, {"timeout", 1, 0, 'S'}, {0, 0, 0, 0} };
static const char *WAIT_USAGE =
    "  --wait             follow the job until it ends; exit 0 if it succeeded, 1 if it\n"
    "                     failed, was cancelled or timed out (its reason on stderr)\n"
    "  --timeout S        with --wait: give up after S seconds, exit 124 (default: no limit)\n";
#define WAIT_EXIT_TIMEOUT 124      /* as timeout(1) */

static int on_wait_opt(int opt, const char *arg, void *ctx)
{
    wait_opts *w = ctx;
    if (opt == 'W') { w->wait = 1; return 0; }
    if (opt == 'S') return cli_parse_float("--timeout", arg, 0.0, 1e9, &w->timeout_s);
    return 1;
}

static int wait_args(const char *cmd, int argc, char **argv, job_args *a, const char *usage, int npos, wait_opts *w)
{
    char full[2048];
    snprintf(full, sizeof full, "%s%s", usage, WAIT_USAGE);
    *w = (wait_opts){ 0, -1.0 };
    int i = cli_api_parse(cmd, argc, argv, a, full, npos, WAIT_OPTS, on_wait_opt, w);
    if (i >= 0 && w->timeout_s >= 0 && !w->wait) {
        fprintf(stderr, "gf %s: --timeout applies with --wait only\n", cmd);
        return -1;
    }
    return i;
}

static int final_state(const char *s)
{
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled") ||
                 !strcmp(s, "timed-out"));
}

/* Polls job id until it ends (or w->timeout_s passes). Returns 0 when it
 * succeeded, 1 when it ended otherwise or a request failed, and
 * WAIT_EXIT_TIMEOUT when it is still going; says why on stderr. */
static int wait_job(const char *cmd, const job_args *a, long id, const wait_opts *w)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/jobs/%ld?rounds_limit=1", id);
    double start = gf_now(), pause = 0.1;
    for (;;) {
        char *resp;
        size_t len;
        if (call(cmd, a, "GET", path, NULL, 0, &resp, &len)) return 1;
        json_t *j = json_loads(resp, 0, NULL);
        free(resp);
        const char *state = json_string_value(json_object_get(j, "state"));
        if (!state) {
            fprintf(stderr, "gf %s: the coordinator's answer for job %ld has no state\n", cmd, id);
            json_decref(j);
            return 1;
        }
        if (final_state(state)) {
            int ok = !strcmp(state, "succeeded");
            if (!ok) {
                const char *why = json_string_value(json_object_get(j, "reason"));
                fprintf(stderr, "gf %s: job %ld %s: %s\n", cmd, id, state, why ? why : "(no reason recorded)");
            }
            json_decref(j);
            return ok ? 0 : 1;
        }
        double left = w->timeout_s < 0 ? 1e300 : start + w->timeout_s - gf_now();
        if (left <= 0) {
            fprintf(stderr, "gf %s: job %ld is still %s after %g s (--timeout)\n", cmd, id, state, w->timeout_s);
            json_decref(j);
            return WAIT_EXIT_TIMEOUT;
        }
        json_decref(j);
        double s = pause < left ? pause : left;
        struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
        nanosleep(&ts, NULL);
        if (pause < 1.0) pause *= 1.5;    /* 0.1 s, then up to 1 s between looks */
    }
}

/* parse_args plus the JOB argument; 0 or the exit status (2). */
static int job_command(const char *cmd, int argc, char **argv, job_args *a, const char *usage, long *id)
{
    int i = parse_args(cmd, argc, argv, a, usage);
    return i < 0 || cli_parse_int("JOB", argv[i], 1, 1L << 62, id) ? 2 : 0;
}

/* job_command with --wait / --timeout. */
static int wait_job_command(const char *cmd, int argc, char **argv, job_args *a, const char *usage, long *id,
                            wait_opts *w)
{
    int i = wait_args(cmd, argc, argv, a, usage, 1, w);
    return i < 0 || cli_parse_int("JOB", argv[i], 1, 1L << 62, id) ? 2 : 0;
}

/* --files DIR / --bundle TAR (program jobs) and --file NAME (their outputs). */
typedef struct { const char *files, *bundle, *file; } program_opts;

static int on_program_opt(int opt, const char *arg, void *ctx)
{
    program_opts *p = ctx;
    if (opt == 'F') p->files = arg;
    else if (opt == 'B') p->bundle = arg;
    else if (opt == 'N') p->file = arg;
    else return 1;
    return 0;
}

/* --wait/--timeout and the program options together (submit, download). */
typedef struct { wait_opts w; program_opts p; } job_opts;

static int on_job_opt(int opt, const char *arg, void *ctx)
{
    job_opts *o = ctx;
    return opt == 'W' || opt == 'S' ? on_wait_opt(opt, arg, &o->w) : on_program_opt(opt, arg, &o->p);
}

static int job_opts_parse(const char *cmd, int argc, char **argv, job_args *a, const char *usage, int npos,
                          const struct option *extra, job_opts *o)
{
    char full[2048];
    snprintf(full, sizeof full, "%s%s", usage, WAIT_USAGE);
    *o = (job_opts){ .w = { 0, -1.0 } };
    int i = cli_api_parse(cmd, argc, argv, a, full, npos, extra, on_job_opt, o);
    if (i >= 0 && o->w.timeout_s >= 0 && !o->w.wait) {
        fprintf(stderr, "gf %s: --timeout applies with --wait only\n", cmd);
        return -1;
    }
    return i;
}

int cmd_submit(int argc, char **argv)
{
    job_args a;
    job_opts o;
    static const struct option extra[] = { {"wait", 0, 0, 'W'}, {"timeout", 1, 0, 'S'}, {"files", 1, 0, 'F'},
                                           {"bundle", 1, 0, 'B'}, {0, 0, 0, 0} };
    int bundle_only = 0;
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--bundle") || !strncmp(argv[k], "--bundle=", 9)) bundle_only = 1;
    int i = job_opts_parse("submit", argc, argv, &a,
                           "usage: gf submit SPEC.json [--files DIR] [connection] [--json] [--wait [--timeout S]]\n"
                           "       gf submit --bundle BUNDLE.tar [connection] [--json] [--wait [--timeout S]]\n"
                           "Submits a job (federated, central, statistics or program); prints its id (the\n"
                           "spec's keys: docs/jobspec.md). --files DIR sends the folder DIR with a program job\n"
                           "(its /job); --bundle sends a tar of job.json then files/...\n",
                           bundle_only ? 0 : 1, extra, &o);
    wait_opts w = o.w;
    program_opts po = o.p;
    if (i < 0) return 2;
    if (po.files || po.bundle) {
        long pid = 0;
        int prc = cli_program_submit(&a, po.bundle ? NULL : argv[i], po.files, po.bundle, &pid);
        return prc || !w.wait ? prc : wait_job("submit", &a, pid, &w);
    }
    FILE *f = fopen(argv[i], "rb");
    if (!f) { fprintf(stderr, "gf submit: cannot open %s: %s\n", argv[i], strerror(errno)); return 1; }
    char *spec = malloc((1 << 20) + 1);
    size_t n = spec ? fread(spec, 1, (1 << 20) + 1, f) : 0;
    fclose(f);
    if (!spec || n > (1 << 20)) { fprintf(stderr, "gf submit: %s is larger than 1 MiB\n", argv[i]); free(spec); return 1; }
    char *resp;
    size_t len;
    int rc = call("submit", &a, "POST", "/v1/jobs", spec, n, &resp, &len);
    free(spec);
    if (rc) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    long id = (long)json_integer_value(json_object_get(j, "id"));
    if (a.json) printf("%s\n", resp);
    else printf("%ld\n", id);
    fflush(stdout);
    json_decref(j);
    free(resp);
    return w.wait ? wait_job("submit", &a, id, &w) : 0;
}

/* One line of a site's (or the weighted) evaluation: "-" for a metric not reported. */
static void print_site_eval(long long round, const char *who, const json_t *e)
{
    static const char *const keys[] = { "loss", "accuracy", "auc", "sensitivity", "specificity" };
    static const char *const labels[] = { "loss", "acc", "auc", "sens", "spec" };
    char line[400];
    int n = snprintf(line, sizeof line, "    round %4lld  %-16s %6lld samples", round, who ? who : "?",
                     (long long)json_integer_value(json_object_get(e, "samples")));
    for (int i = 0; i < 5 && n > 0 && (size_t)n < sizeof line; i++) {
        json_t *v = json_object_get(e, keys[i]);
        if (json_is_number(v)) n += snprintf(line + n, sizeof line - (size_t)n, "  %s %.4f", labels[i], json_number_value(v));
        else if (i < 2) n += snprintf(line + n, sizeof line - (size_t)n, "  %s -", labels[i]);
    }
    printf("%s\n", line);
}

/* "-" for null (suppressed, omitted or unknown), else %.6g. */
static const char *num_or_dash(const json_t *v, char *buf, size_t cap)
{
    if (!json_is_number(v)) return "-";
    snprintf(buf, cap, "%.6g", json_number_value(v));
    return buf;
}

/* A statistics job's result (fed/fedstats.h), one line per column. */
static void print_statistics(const json_t *st)
{
    const json_t *sup = json_object_get(st, "suppressed");
    printf("  statistics: %lld rows from %lld sites%s, min_count %lld; suppressed: %lld columns, %lld bins, "
           "%lld labels\n", (long long)json_integer_value(json_object_get(st, "rows")),
           (long long)json_integer_value(json_object_get(st, "sites")),
           json_is_true(json_object_get(st, "secure_aggregation")) ? " (secure aggregation: min/max omitted)" : "",
           (long long)json_integer_value(json_object_get(st, "min_count")),
           (long long)json_integer_value(json_object_get(sup, "columns")),
           (long long)json_integer_value(json_object_get(sup, "bins")),
           (long long)json_integer_value(json_object_get(sup, "labels")));
    printf("  %6s %9s %8s %12s %12s %12s %12s %12s %12s %12s\n", "column", "count", "missing", "mean", "std", "min",
           "max", "q25", "median", "q75");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(st, "columns"), i, c) {
        char b[9][32];
        const json_t *q = json_object_get(c, "quantiles");
        printf("  %6lld %9lld %8lld %12s %12s %12s %12s %12s %12s %12s\n",
               (long long)json_integer_value(json_object_get(c, "index")),
               (long long)json_integer_value(json_object_get(c, "count")),
               (long long)json_integer_value(json_object_get(c, "missing")),
               num_or_dash(json_object_get(c, "mean"), b[0], 32), num_or_dash(json_object_get(c, "std"), b[1], 32),
               num_or_dash(json_object_get(c, "min"), b[2], 32), num_or_dash(json_object_get(c, "max"), b[3], 32),
               num_or_dash(json_object_get(q, "0.25"), b[4], 32), num_or_dash(json_object_get(q, "0.5"), b[5], 32),
               num_or_dash(json_object_get(q, "0.75"), b[6], 32));
    }
    printf("  labels:");
    const json_t *lab = json_object_get(st, "labels"), *v;
    json_array_foreach(json_object_get(lab, "counts"), i, v) {
        char b[32];
        printf(" %zu: %s", i, num_or_dash(v, b, sizeof b));
    }
    char b[32];
    printf("  other: %s\n", num_or_dash(json_object_get(lab, "other"), b, sizeof b));
}

int cmd_status(int argc, char **argv)
{
    job_args a;
    long id;
    wait_opts w;
    if (wait_job_command("status", argc, argv, &a,
                         "usage: gf status JOB [connection] [--json] [--wait [--timeout S]]\n"
                         "State, rounds (federated) or epochs (central) and their metrics; with\n"
                         "--wait, once the job has ended.\n", &id, &w))
        return 2;
    int waited = w.wait ? wait_job("status", &a, id, &w) : 0;
    if (waited == WAIT_EXIT_TIMEOUT) return waited;
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    if (call("status", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    if (a.json || !j) {
        printf("%s\n", resp);
    } else {
        int central = !strcmp(json_string_value(json_object_get(j, "kind")), "central");
        if (!strcmp(json_string_value(json_object_get(j, "kind")), "program")) {
            cli_program_status_print(id, j);
            json_decref(j);
            free(resp);
            return 0;
        }
        printf("job %ld \"%s\" (%s, tenant %s): %s (%s), %s %lld of %lld\n", id,
               json_string_value(json_object_get(j, "name")), json_string_value(json_object_get(j, "kind")),
               json_is_string(json_object_get(j, "tenant")) ? json_string_value(json_object_get(j, "tenant")) : "-",
               json_string_value(json_object_get(j, "state")), json_string_value(json_object_get(j, "reason")),
               central ? "epoch" : "round", (long long)json_integer_value(json_object_get(j, central ? "epoch" : "round")),
               (long long)json_integer_value(json_object_get(j, central ? "epochs_total" : "rounds_total")));
        json_t *dp = json_object_get(j, "dp");
        if (json_is_object(dp)) {     /* client-level DP: what the completed rounds spent */
            json_t *eps = json_object_get(dp, "epsilon"), *budget = json_object_get(dp, "budget");
            char seps[32] = "infinite", sbud[40] = "";
            if (json_is_number(eps)) snprintf(seps, sizeof seps, "%.6g", json_number_value(eps));
            if (json_is_number(budget)) snprintf(sbud, sizeof sbud, " of a budget of %.6g", json_number_value(budget));
            printf("  dp: epsilon %s%s at delta %g (clip %g, noise %g; against the %s)\n", seps, sbud,
                   json_number_value(json_object_get(dp, "delta")), json_number_value(json_object_get(dp, "clip")),
                   json_number_value(json_object_get(dp, "noise")),
                   json_is_string(json_object_get(dp, "against")) ? json_string_value(json_object_get(dp, "against"))
                                                                  : "coordinator");
        }
        if (json_is_string(json_object_get(j, "waiting")))
            printf("  %s\n", json_string_value(json_object_get(j, "waiting")));
        size_t e;
        json_t *ep;
        json_array_foreach(json_object_get(j, "epochs"), e, ep)
            printf("  epoch %4lld  loss %.4f  test_loss %.4f  test_acc %.4f  %.1f s\n",
                   (long long)json_integer_value(json_object_get(ep, "epoch")),
                   json_number_value(json_object_get(ep, "train_loss")), json_number_value(json_object_get(ep, "test_loss")),
                   json_number_value(json_object_get(ep, "test_accuracy")), json_number_value(json_object_get(ep, "seconds")));
        if (json_is_object(json_object_get(j, "statistics"))) print_statistics(json_object_get(j, "statistics"));
        json_t *u = json_object_get(j, "usage");
        if (json_is_object(u))
            printf("  usage: %.1f core-s, %.1f cpu-s, %.1f gpu-s, peak %.0f MiB, wall %.1f s\n",
                   json_number_value(json_object_get(u, "core_s")), json_number_value(json_object_get(u, "cpu_s")),
                   json_number_value(json_object_get(u, "gpu_s")), json_number_value(json_object_get(u, "peak_mem_mb")),
                   json_number_value(json_object_get(u, "wall_s")));
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(j, "rounds"), k, r) {
            json_t *loss = json_object_get(r, "train_loss"), *acc = json_object_get(r, "accuracy");
            char sloss[24] = "-", sacc[24] = "-";     /* "-": not known (e.g. under secure aggregation) */
            if (json_is_number(loss)) snprintf(sloss, sizeof sloss, "%.4f", json_number_value(loss));
            if (json_is_number(acc)) snprintf(sacc, sizeof sacc, "%.4f", json_number_value(acc));
            printf("  round %4lld  sites %3lld  %8.3f s  loss %s  accuracy %s\n",
                   (long long)json_integer_value(json_object_get(r, "round")),
                   (long long)json_integer_value(json_object_get(r, "sites")),
                   json_number_value(json_object_get(r, "duration_s")), sloss, sacc);
        }
        json_t *sdp = json_object_get(j, "site_dp");   /* each site's own DP-SGD accountant */
        if (json_array_size(sdp)) printf("  DP-SGD at the sites (each site's epsilon on its records, its latest report):\n");
        json_array_foreach(sdp, k, r) {
            json_t *eps = json_object_get(r, "epsilon");
            char seps[32] = "infinite";
            if (json_is_number(eps)) snprintf(seps, sizeof seps, "%.6g", json_number_value(eps));
            printf("    %-20s epsilon %s at delta %g after round %lld\n", json_string_value(json_object_get(r, "site")),
                   seps, json_number_value(json_object_get(r, "delta")),
                   (long long)json_integer_value(json_object_get(r, "round")));
        }
        json_t *sev = json_object_get(j, "site_eval");
        if (json_array_size(sev)) printf("  evaluation at the sites (global model after round R, on each site's test split):\n");
        json_array_foreach(sev, k, r) {
            size_t m;
            json_t *se;
            json_array_foreach(json_object_get(r, "sites"), m, se)
                print_site_eval(json_integer_value(json_object_get(r, "round")), json_string_value(json_object_get(se, "site")), se);
            print_site_eval(json_integer_value(json_object_get(r, "round")), "weighted", json_object_get(r, "weighted"));
        }
        json_t *dec = json_object_get(j, "declines");
        if (json_array_size(dec)) printf("  declined (each site's last):\n");
        json_array_foreach(dec, k, r)
            printf("    %s, round %lld: %s\n", json_string_value(json_object_get(r, "site")),
                   (long long)json_integer_value(json_object_get(r, "round")),
                   json_string_value(json_object_get(r, "reason")));
    }
    json_decref(j);
    free(resp);
    return waited;
}

int cmd_cancel(int argc, char **argv)
{
    job_args a;
    long id;
    if (job_command("cancel", argc, argv, &a, "usage: gf cancel JOB [connection]\nStops the job (a central job's whole process tree).\n", &id))
        return 2;
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld/cancel", id);
    if (call("cancel", &a, "POST", path, NULL, 0, &resp, &len)) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    if (!strcmp(json_string_value(json_object_get(j, "state")) ? json_string_value(json_object_get(j, "state")) : "",
                "cancelled"))
        printf("job %ld cancelled\n", id);
    else
        printf("job %ld: cancel requested; its processes are being stopped (see gf status %ld)\n", id, id);
    json_decref(j);
    free(resp);
    return 0;
}

int cmd_download(int argc, char **argv)
{
    job_args a;
    long id;
    job_opts o;
    static const struct option extra[] = { {"wait", 0, 0, 'W'}, {"timeout", 1, 0, 'S'}, {"file", 1, 0, 'N'},
                                           {0, 0, 0, 0} };
    int i = job_opts_parse("download", argc, argv, &a,
                           "usage: gf download JOB --out FILE [connection] [--wait [--timeout S]]\n"
                           "       gf download JOB --out DIR [--file NAME] [connection] [--wait ...]  (a program job)\n"
                           "Saves the job's latest global model (final once it succeeded) as safetensors,\n"
                           "loadable by gf eval --model-file FILE (a statistics job: its result JSON); for a\n"
                           "program job, the files it wrote under $GF_OUTPUT (or the one named NAME) into DIR.\n"
                           "With --wait, once the job has succeeded (nothing is saved if it ended otherwise).\n",
                           1, extra, &o);
    if (i < 0 || cli_parse_int("JOB", argv[i], 1, 1L << 62, &id)) return 2;
    wait_opts w = o.w;
    program_opts po = o.p;
    if (!a.out) { fprintf(stderr, "gf download: --out FILE is required\n"); return 2; }
    int waited = w.wait ? wait_job("download", &a, id, &w) : 0;
    if (waited) return waited;
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    if (call("download", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    json_t *sj = json_loads(resp, 0, NULL);
    int program = !strcmp(json_string_value(json_object_get(sj, "kind")) ? json_string_value(json_object_get(sj, "kind")) : "",
                          "program");
    json_decref(sj);
    free(resp);
    if (program) return cli_program_download(&a, id, po.file);
    if (po.file) { fprintf(stderr, "gf download: --file is for program jobs\n"); return 2; }
    snprintf(path, sizeof path, "/v1/jobs/%ld/model", id);
    if (call("download", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    gf_fs_part part = { resp, len };
    gf_status st = gf_fs_write_atomic(a.out, &part, 1, 0644);
    free(resp);
    if (st) { fprintf(stderr, "gf download: %s\n", gf_last_error()); return 1; }
    printf("saved %zu bytes to %s\n", len, a.out);
    return 0;
}
