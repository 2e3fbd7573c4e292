/* gf dataset: the operator registers the data jobs may read (add) and
 * anyone lists what they may read (list), over the coordinator's API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/fed.h"

typedef struct {
    const char *path, *format, *label, *test, *options;
    const char *tenants[64];
    int ntenants, public_;
} ds_opts;

enum { O_PATH = 1100, O_LABEL, O_TEST, O_TENANT, O_PUBLIC, O_FORMAT, O_OPTIONS };

static int on_opt(int opt, const char *arg, void *ctx)
{
    ds_opts *o = ctx;
    switch (opt) {
    case O_PATH: o->path = arg; return 0;
    case O_LABEL: o->label = arg; return 0;
    case O_TEST: o->test = arg; return 0;
    case O_FORMAT: o->format = arg; return 0;
    case O_OPTIONS: o->options = arg; return 0;
    case O_PUBLIC: o->public_ = 1; return 0;
    case O_TENANT:
        if (o->ntenants == (int)(sizeof o->tenants / sizeof o->tenants[0])) {
            fprintf(stderr, "gf dataset: at most %d --tenant options\n", o->ntenants);
            return -1;
        }
        o->tenants[o->ntenants++] = arg;
        return 0;
    }
    return -1;
}

static const struct option DS_OPTS[] = {
    {"path", 1, 0, O_PATH}, {"label", 1, 0, O_LABEL}, {"test", 1, 0, O_TEST}, {"tenant", 1, 0, O_TENANT},
    {"public", 0, 0, O_PUBLIC}, {"format", 1, 0, O_FORMAT}, {"options", 1, 0, O_OPTIONS}, {0, 0, 0, 0}};

static int list(const cli_api *a)
{
    char *resp;
    size_t len;
    if (cli_api_call("dataset", a, "GET", "/v1/datasets", NULL, 0, &resp, &len)) return 1;
    if (a->json) { printf("%s\n", resp); free(resp); return 0; }
    json_t *j = json_loads(resp, 0, NULL), *d;
    size_t k;
    printf("%-24s %-8s %-24s %s\n", "dataset", "format", "access", "path");
    json_array_foreach(json_object_get(j, "datasets"), k, d) {
        const char *path = json_string_value(json_object_get(d, "path"));
        json_t *t = json_object_get(d, "tenants");
        char access[256] = "public";
        if (!json_is_true(json_object_get(d, "public"))) {
            size_t n = 0, i;
            json_t *x;
            access[0] = 0;
            json_array_foreach(t, i, x) {
                int w = snprintf(access + n, sizeof access - n, "%s%s", n ? "," : "", json_string_value(x));
                if (w < 0 || (size_t)w >= sizeof access - n) break;
                n += (size_t)w;
            }
            if (!n) snprintf(access, sizeof access, "operator only");
        }
        printf("%-24s %-8s %-24s %s\n", json_string_value(json_object_get(d, "name")),
               json_string_value(json_object_get(d, "format")), access, path ? path : "-");
    }
    json_decref(j);
    free(resp);
    return 0;
}

int cmd_dataset(int argc, char **argv)
{
    static const char *usage =
        "usage: gf dataset add NAME --path P [--format F] [--label COL] [--test P2] [--options OPTS]\n"
        "                          (--tenant T ... | --public) [connection]\n"
        "       gf dataset list [connection] [--json]\n"
        "Jobs name datasets, never files: the operator registers data under a name and\n"
        "grants it to tenants (or to all with --public). F: idx, csv, npz, plink, vcf,\n"
        "nifti, dicom, imagedir, inferred from P where that is unambiguous (a folder of\n"
        "IDX files or of class folders of images, *.csv, *.npz, *.vcf[.gz], *.bcf,\n"
        "*.nii[.gz], a PLINK prefix). csv takes --label and --test; plink..imagedir take\n"
        "the reader's options (gf train --help), e.g. --options labels=L.csv for nifti,\n"
        "pheno=P.csv,pheno_col=C for vcf; the data is opened once to check it. Members\n"
        "see what they may read; paths are shown to operators only. fashion-mnist is\n"
        "built in.\n";
    if (argc < 2 || (strcmp(argv[1], "add") && strcmp(argv[1], "list"))) {
        fprintf(stderr, "%s", usage);
        return 2;
    }
    int add = !strcmp(argv[1], "add");
    cli_api a;
    ds_opts o = {0};
    int i = cli_api_parse("dataset", argc - 1, argv + 1, &a, usage, add ? 1 : 0, DS_OPTS, on_opt, &o);
    if (i < 0) return 2;
    if (!add) return list(&a);
    if (!o.path) { fprintf(stderr, "gf dataset: --path P is required\n"); return 2; }
    if (o.public_ && o.ntenants) { fprintf(stderr, "gf dataset: --public and --tenant exclude each other\n"); return 2; }
    const char *name = argv[1 + i];
    json_t *tenants = json_array();
    for (int k = 0; k < o.ntenants; k++) json_array_append_new(tenants, json_string(o.tenants[k]));
    json_t *body = json_pack("{s:s,s:s,s:o,s:b}", "name", name, "path", o.path, "tenants", tenants, "public", o.public_);
    if (o.label) json_object_set_new(body, "label", json_string(o.label));
    if (o.test) json_object_set_new(body, "test", json_string(o.test));
    if (o.format) json_object_set_new(body, "format", json_string(o.format));
    if (o.options) json_object_set_new(body, "options", json_string(o.options));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    char *resp;
    size_t len;
    int rc = text ? cli_api_call("dataset", &a, "POST", "/v1/datasets", text, strlen(text), &resp, &len) : -1;
    free(text);
    if (rc) return 1;
    if (a.json) printf("%s\n", resp);
    else printf("dataset %s registered\n", name);
    free(resp);
    return 0;
}
