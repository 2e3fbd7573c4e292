/* gf submit / status / cancel / download: the jobs API over HTTPS, with the
 * operator's kit (client certificate) or an API token; and the connection
 * options every API command shares (cli_api_*). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <limits.h>
#include "cli/cli.h"
#include "cli/fed.h"
#include "cli/program.h"
#include "core/fsutil.h"
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

/* parse_args plus the JOB argument; 0 or the exit status (2). */
static int job_command(const char *cmd, int argc, char **argv, job_args *a, const char *usage, long *id)
{
    int i = parse_args(cmd, argc, argv, a, usage);
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

int cmd_submit(int argc, char **argv)
{
    job_args a;
    program_opts po = {0};
    static const struct option extra[] = { {"files", 1, 0, 'F'}, {"bundle", 1, 0, 'B'}, {0, 0, 0, 0} };
    int bundle_only = 0;
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--bundle") || !strncmp(argv[k], "--bundle=", 9)) bundle_only = 1;
    int i = cli_api_parse("submit", argc, argv, &a,
                          "usage: gf submit SPEC.json [--files DIR] [connection] [--json]\n"
                          "       gf submit --bundle BUNDLE.tar [connection] [--json]\n"
                          "Submits a job (federated, central or program); prints its id. --files DIR sends the\n"
                          "folder DIR with a program job (its /job); --bundle sends a tar of job.json then files/...\n",
                          bundle_only ? 0 : 1, extra, on_program_opt, &po);
    if (i < 0) return 2;
    if (po.files || po.bundle) return cli_program_submit(&a, po.bundle ? NULL : argv[i], po.files, po.bundle);
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
    if (a.json) printf("%s\n", resp);
    else printf("%lld\n", (long long)json_integer_value(json_object_get(j, "id")));
    json_decref(j);
    free(resp);
    return 0;
}

int cmd_status(int argc, char **argv)
{
    job_args a;
    long id;
    if (job_command("status", argc, argv, &a,
                    "usage: gf status JOB [connection] [--json]\n"
                    "State, rounds (federated) or epochs (central) and their metrics.\n", &id))
        return 2;
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
               json_string_value(json_object_get(j, "name")), central ? "central" : "federated",
               json_is_string(json_object_get(j, "tenant")) ? json_string_value(json_object_get(j, "tenant")) : "-",
               json_string_value(json_object_get(j, "state")), json_string_value(json_object_get(j, "reason")),
               central ? "epoch" : "round", (long long)json_integer_value(json_object_get(j, central ? "epoch" : "round")),
               (long long)json_integer_value(json_object_get(j, central ? "epochs_total" : "rounds_total")));
        if (json_is_string(json_object_get(j, "waiting")))
            printf("  %s\n", json_string_value(json_object_get(j, "waiting")));
        size_t e;
        json_t *ep;
        json_array_foreach(json_object_get(j, "epochs"), e, ep)
            printf("  epoch %4lld  loss %.4f  test_loss %.4f  test_acc %.4f  %.1f s\n",
                   (long long)json_integer_value(json_object_get(ep, "epoch")),
                   json_number_value(json_object_get(ep, "train_loss")), json_number_value(json_object_get(ep, "test_loss")),
                   json_number_value(json_object_get(ep, "test_accuracy")), json_number_value(json_object_get(ep, "seconds")));
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
    }
    json_decref(j);
    free(resp);
    return 0;
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
    program_opts po = {0};
    static const struct option extra[] = { {"file", 1, 0, 'N'}, {0, 0, 0, 0} };
    int i = cli_api_parse("download", argc, argv, &a,
                          "usage: gf download JOB --out FILE [connection]\n"
                          "       gf download JOB --out DIR [--file NAME] [connection]   (a program job)\n"
                          "Saves the job's latest global model (final once it succeeded) as safetensors,\n"
                          "loadable by gf eval --model-file FILE; for a program job, the files it wrote under\n"
                          "$GF_OUTPUT (or the one named NAME) into DIR.\n", 1, extra, on_program_opt, &po);
    if (i < 0 || cli_parse_int("JOB", argv[i], 1, 1L << 62, &id)) return 2;
    if (!a.out) { fprintf(stderr, "gf download: --out FILE is required\n"); return 2; }
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
