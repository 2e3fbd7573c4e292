/* The sites granted to tenants, at the coordinator (docs/api.md, site-grants):
 * the operator's routes that grant and revoke (each audited), the listing
 * (operators: every grant; members: their tenant's), the copy of the grants
 * the round driver consults when it chooses a round's sites (c->grants,
 * under the coordinator's lock, reloaded after each change), and the check
 * of a job's sites at submission. A tenant's federated job may use only the
 * sites granted to its tenant; the operator's own jobs (no tenant) every
 * site. */
#include "service/coordinator_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "core/grow.h"
#include "net/pki.h"
#include "service/site_grants.h"
#include "service/tenants.h"

/* ---- the copy the driver reads ------------------------------------------------- */

typedef struct { co_grant *g; int n, cap; int nomem; } grant_list;

static int grant_add(const gf_site_grant *g, void *ctx)
{
    grant_list *l = ctx;
    co_grant *p = gf_grow(l->g, l->n, &l->cap, sizeof *p);
    if (!p) { l->nomem = 1; return 1; }
    l->g = p;
    l->g[l->n].tenant_id = g->tenant_id;
    snprintf(l->g[l->n].site, sizeof l->g[l->n].site, "%s", g->site);
    l->n++;
    return 0;
}

gf_status co_grants_load(gf_coordinator *c)
{
    grant_list l = {0};
    gf_status st = gf_store_site_grants(c->store, 0, grant_add, &l);
    if (!st && l.nomem) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (st) { free(l.g); return st; }        /* the old copy stays */
    free(c->grants);
    c->grants = l.g;
    c->ngrants = l.n;
    return GF_OK;
}

int co_site_granted(const gf_coordinator *c, int64_t tenant_id, const char *site)
{
    if (!tenant_id) return 1;
    for (int i = 0; i < c->ngrants; i++)
        if (c->grants[i].tenant_id == tenant_id && !strcmp(c->grants[i].site, site)) return 1;
    return 0;
}

int co_sites_granted(const gf_coordinator *c, int64_t tenant_id)
{
    int n = 0;
    for (int i = 0; i < c->ngrants; i++) n += c->grants[i].tenant_id == tenant_id;
    return n;
}

gf_status co_sites_check_job(gf_coordinator *c, const gf_jobspec *spec, int64_t tenant_id, const char *tenant,
                             gf_http_response *resp)
{
    if (gf_job_kind_scheduled(spec->kind) || !tenant_id) return GF_OK;
    pthread_mutex_lock(&c->lock);
    int bad = -1, granted = co_sites_granted(c, tenant_id);
    for (int i = 0; spec->sites && i < spec->nsites && bad < 0; i++)
        if (!co_site_granted(c, tenant_id, spec->sites[i])) bad = i;
    pthread_mutex_unlock(&c->lock);
    if (bad >= 0)
        return co_refuse(resp, 400, GF_ERR_ARG, "sites[%d]: site \"%s\" is not granted to tenant \"%s\" (the operator "
                         "grants sites to tenants: gf site-grant)", bad, spec->sites[bad], tenant);
    if (!spec->sites && granted < spec->min_sites)
        return co_refuse(resp, 400, GF_ERR_ARG, "min_sites: tenant \"%s\" is granted %d site%s, fewer than min_sites "
                         "%d (\"sites\": \"all\" means the sites granted to the tenant; the operator grants them: "
                         "gf site-grant)", tenant, granted, granted == 1 ? "" : "s", spec->min_sites);
    return GF_OK;
}

/* ---- routes -------------------------------------------------------------------- */

/* Whether this coordinator's CA issued a kit to site `name`. */
static int site_issued(const gf_coordinator *c, const char *name)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/%s", c->tls_dir, GF_PKI_STATE);
    json_t *st = json_load_file(p, 0, NULL);
    int yes = strcmp(name, GF_PKI_COORDINATOR) && strcmp(name, GF_PKI_OPERATOR) &&
              json_object_get(json_object_get(st, "issued"), name) != NULL;
    json_decref(st);
    return yes;
}

/* {"site": S, "tenant": T}, both strings and nothing else: 0, else a 400. */
static gf_status grant_body(const gf_http_request *req, json_t **out, const char **site, const char **tenant,
                            gf_http_response *resp)
{
    json_error_t err;
    json_t *b = req->body_len <= 4096 ? json_loadb((const char *)req->body, req->body_len, JSON_REJECT_DUPLICATES, &err)
                                      : NULL;
    *out = b;
    if (!json_is_object(b))
        return co_refuse(resp, 400, GF_ERR_FORMAT, "the body must be a JSON object {\"site\": S, \"tenant\": T}");
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
        if (strcmp(k, "site") && strcmp(k, "tenant")) return co_refuse(resp, 400, GF_ERR_ARG, "%s: unknown key", k);
    *site = json_string_value(json_object_get(b, "site"));
    *tenant = json_string_value(json_object_get(b, "tenant"));
    if (!*site) return co_refuse(resp, 400, GF_ERR_ARG, "site: required, a site's name");
    if (!*tenant) return co_refuse(resp, 400, GF_ERR_ARG, "tenant: required, a tenant's name");
    return GF_OK;
}

static gf_status grant_write(gf_coordinator *c, const gf_http_request *req, const co_principal *who, int revoke,
                             gf_http_response *resp)
{
    json_t *b = NULL;
    const char *site = NULL, *tenant = NULL;
    int added = 0;
    gf_status st = grant_body(req, &b, &site, &tenant, resp);
    if (st) { json_decref(b); return st; }
    if (!revoke && gf_pki_check_name(site)) st = co_refuse(resp, 400, GF_ERR_ARG, "site: %s", gf_last_error());
    else if (!revoke && !site_issued(c, site))
        st = co_refuse(resp, 400, GF_ERR_ARG, "site: no site \"%s\" was provisioned by this coordinator's CA "
                       "(gf provision --add-site)", site);
    else if ((st = revoke ? gf_store_site_revoke(c->store, site, tenant)
                          : gf_store_site_grant(c->store, site, tenant, &added)))
        st = co_refuse(resp, revoke && st == GF_ERR_ARG ? 404 : 400, st, "%s", gf_last_error());
    if (!st) {
        pthread_mutex_lock(&c->lock);
        st = co_grants_load(c);
        co_wake(c);                     /* a waiting job may now find its sites */
        pthread_mutex_unlock(&c->lock);
        if (st) co_log(c, "site grants: %s (the change is in the store; the rounds use it after a restart)",
                       gf_last_error());
        st = GF_OK;
        if (revoke || added)
            co_audit(c, who->actor, revoke ? "site.revoked" : "site.granted",
                     json_pack("{s:s,s:s}", "site", site, "tenant", tenant));
        st = co_reply(resp, !revoke && added ? 201 : 200,
                      json_pack("{s:s,s:s,s:b}", "site", site, "tenant", tenant, "granted", !revoke));
    }
    json_decref(b);
    return st;
}

static int grant_json(const gf_site_grant *g, void *ctx)
{
    json_array_append_new(ctx, json_pack("{s:s,s:s,s:s}", "site", g->site, "tenant", g->tenant,
                                         "granted_at", g->granted_at));
    return 0;
}

static gf_status grants_list(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                             gf_http_response *resp)
{
    const char *tname = gf_https_query(req, "tenant");
    int64_t tid = 0;
    gf_status st = co_tenant_filter(c, who, tname, &tid, resp);
    if (st) return st;
    json_t *list = json_array();
    st = gf_store_site_grants(c->store, tid, grant_json, list);
    if (st) { json_decref(list); return st; }
    return co_reply(resp, 200, json_pack("{s:o}", "grants", list));
}

gf_status co_sites_route(gf_coordinator *c, const gf_http_request *req, const co_principal *who,
                         gf_http_response *resp, int *handled)
{
    const char *m = req->method, *path = req->path;
    int get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), op = who->role == CO_OPERATOR;
    int list = !strcmp(path, "/v1/site-grants"), revoke = !strcmp(path, "/v1/site-grants/revoke");
    *handled = list || revoke;
    if (!*handled) return GF_OK;
    if (list && get) return grants_list(c, req, who, resp);
    if (!post) return co_refuse(resp, 405, GF_ERR_ARG, "%s %s: use %s", m, path, list ? "GET or POST" : "POST");
    if (!op) return co_refuse(resp, 403, GF_ERR_ARG, "granting sites to tenants is for operators");
    return grant_write(c, req, who, revoke, resp);
}
