/* gf site-grant: the operator grants a tenant the use of a site (or takes
 * it back) and anyone lists the grants they may see, over the
 * coordinator's API (/v1/site-grants). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "cli/cli.h"
#include "cli/fed.h"

typedef struct { const char *tenant; int revoke; } sg_opts;

enum { O_TENANT = 1200, O_REVOKE };

static int on_opt(int opt, const char *arg, void *ctx)
{
    sg_opts *o = ctx;
    if (opt == O_TENANT) { o->tenant = arg; return 0; }
    if (opt == O_REVOKE) { o->revoke = 1; return 0; }
    return -1;
}

static const struct option SG_OPTS[] = { {"tenant", 1, 0, O_TENANT}, {"revoke", 0, 0, O_REVOKE}, {0, 0, 0, 0} };

static int list(const cli_api *a, const sg_opts *o)
{
    char path[160] = "/v1/site-grants", *resp;
    size_t len;
    if (o->tenant) {
        if (strpbrk(o->tenant, " #%+&?/")) { fprintf(stderr, "gf site-grant: --tenant: not a tenant name\n"); return 2; }
        snprintf(path, sizeof path, "/v1/site-grants?tenant=%.64s", o->tenant);
    }
    if (cli_api_call("site-grant", a, "GET", path, NULL, 0, &resp, &len)) return 1;
    if (a->json) { printf("%s\n", resp); free(resp); return 0; }
    json_t *j = json_loads(resp, 0, NULL), *g;
    size_t k;
    printf("%-24s %-24s %s\n", "tenant", "site", "granted at");
    json_array_foreach(json_object_get(j, "grants"), k, g)
        printf("%-24s %-24s %s\n", json_string_value(json_object_get(g, "tenant")),
               json_string_value(json_object_get(g, "site")), json_string_value(json_object_get(g, "granted_at")));
    json_decref(j);
    free(resp);
    return 0;
}

int cmd_site_grant(int argc, char **argv)
{
    static const char *usage =
        "usage: gf site-grant SITE --tenant T [--revoke] [connection]\n"
        "       gf site-grant list [--tenant T] [connection] [--json]\n"
        "A tenant's federated jobs may use only the sites granted to it (\"sites\": \"all\"\n"
        "means those); the operator's own jobs every site. Granting and revoking need an\n"
        "operator; members list their tenant's grants. A revoked grant applies from the\n"
        "next round on. A site's own gf site --allow-tenant comes on top.\n";
    if (argc < 2) { fprintf(stderr, "%s", usage); return 2; }
    cli_api a;
    sg_opts o = {0};
    int is_list = !strcmp(argv[1], "list");
    int i = cli_api_parse("site-grant", is_list ? argc - 1 : argc, is_list ? argv + 1 : argv, &a, usage,
                          is_list ? 0 : 1, SG_OPTS, on_opt, &o);
    if (i < 0) return 2;
    if (is_list) {
        if (o.revoke) { fprintf(stderr, "gf site-grant: list takes no --revoke\n"); return 2; }
        return list(&a, &o);
    }
    const char *site = argv[i];
    if (!o.tenant) { fprintf(stderr, "gf site-grant: --tenant T is required\n"); return 2; }
    json_t *body = json_pack("{s:s,s:s}", "site", site, "tenant", o.tenant);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    char *resp;
    size_t len;
    int rc = text ? cli_api_call("site-grant", &a, "POST", o.revoke ? "/v1/site-grants/revoke" : "/v1/site-grants",
                                 text, strlen(text), &resp, &len) : -1;
    free(text);
    if (rc) return 1;
    if (a.json) printf("%s\n", resp);
    else if (o.revoke) printf("site %s no longer granted to tenant %s\n", site, o.tenant);
    else printf("site %s granted to tenant %s\n", site, o.tenant);
    free(resp);
    return 0;
}
