/* gf submit / status / cancel / download: the operator's side of the jobs
 * API, over HTTPS with the operator's kit. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/fed.h"
#include "core/fsutil.h"
#include "net/https_client.h"

typedef struct {
    const char *kit, *url;
    int json;
    const char *out;
} job_args;

/* Common flags; returns the index of the first positional argument or -1. */
static int parse_args(const char *cmd, int argc, char **argv, job_args *a, const char *usage)
{
    static const struct option opts[] = {
        {"coordinator", 1, 0, 'c'}, {"kit", 1, 0, 'k'}, {"json", 0, 0, 'j'}, {"out", 1, 0, 'o'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *a = (job_args){ .kit = getenv("GF_KIT") };
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': a->url = optarg; break;
        case 'k': a->kit = optarg; break;
        case 'j': a->json = 1; break;
        case 'o': a->out = optarg; break;
        case 'h': printf("%s", usage); exit(0);
        default:
            fprintf(stderr, "gf %s: unknown or incomplete option \"%s\" (see gf %s --help)\n", cmd, argv[optind - 1], cmd);
            return -1;
        }
    }
    if (!a->kit) {
        fprintf(stderr, "gf %s: give --kit DIR (the operator kit, PKI/operator from gf provision) or set GF_KIT\n", cmd);
        return -1;
    }
    if (optind != argc - 1) { fprintf(stderr, "gf %s: expected one argument (see gf %s --help)\n", cmd, cmd); return -1; }
    return optind;
}

/* One request; prints the coordinator's error and returns -1 unless 2xx. */
static int call(const char *cmd, const job_args *a, const char *method, const char *path, const void *body,
                size_t len, char **resp, size_t *resp_len)
{
    gf_https_client *h;
    int status = 0;
    if (gf_https_client_open(a->kit, a->url, &h)) { fprintf(stderr, "gf %s: %s\n", cmd, gf_last_error()); return -1; }
    gf_status st = gf_https_request(h, method, path, body, len, &status, resp, resp_len);
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

/* parse_args plus the JOB argument; 0 or the exit status (2). */
static int job_command(const char *cmd, int argc, char **argv, job_args *a, const char *usage, long *id)
{
    int i = parse_args(cmd, argc, argv, a, usage);
    return i < 0 || cli_parse_int("JOB", argv[i], 1, 1L << 62, id) ? 2 : 0;
}

int cmd_submit(int argc, char **argv)
{
    job_args a;
    int i = parse_args("submit", argc, argv, &a,
                       "usage: gf submit SPEC.json [--coordinator URL] [--kit DIR] [--json]\n"
                       "Submits a federated job; prints its id.\n");
    if (i < 0) return 2;
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
                    "usage: gf status JOB [--coordinator URL] [--kit DIR] [--json]\n"
                    "State, rounds and per-round metrics of a job.\n", &id))
        return 2;
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld", id);
    if (call("status", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    json_t *j = json_loads(resp, 0, NULL);
    if (a.json || !j) {
        printf("%s\n", resp);
    } else {
        printf("job %ld \"%s\": %s (%s), round %lld of %lld\n", id, json_string_value(json_object_get(j, "name")),
               json_string_value(json_object_get(j, "state")), json_string_value(json_object_get(j, "reason")),
               (long long)json_integer_value(json_object_get(j, "round")),
               (long long)json_integer_value(json_object_get(j, "rounds_total")));
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
    if (job_command("cancel", argc, argv, &a, "usage: gf cancel JOB [--coordinator URL] [--kit DIR]\n", &id))
        return 2;
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld/cancel", id);
    if (call("cancel", &a, "POST", path, NULL, 0, &resp, &len)) return 1;
    printf("job %ld cancelled\n", id);
    free(resp);
    return 0;
}

int cmd_download(int argc, char **argv)
{
    job_args a;
    long id;
    if (job_command("download", argc, argv, &a,
                    "usage: gf download JOB --out FILE [--coordinator URL] [--kit DIR]\n"
                    "Saves the job's latest global model (final once it succeeded) as safetensors,\n"
                    "loadable by gf eval --model-file FILE.\n", &id))
        return 2;
    if (!a.out) { fprintf(stderr, "gf download: --out FILE is required\n"); return 2; }
    char path[64], *resp;
    size_t len;
    snprintf(path, sizeof path, "/v1/jobs/%ld/model", id);
    if (call("download", &a, "GET", path, NULL, 0, &resp, &len)) return 1;
    gf_fs_part part = { resp, len };
    gf_status st = gf_fs_write_atomic(a.out, &part, 1, 0644);
    free(resp);
    if (st) { fprintf(stderr, "gf download: %s\n", gf_last_error()); return 1; }
    printf("saved %zu bytes to %s\n", len, a.out);
    return 0;
}
