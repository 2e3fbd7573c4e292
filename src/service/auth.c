/* Who is calling (coordinator_internal.h): a certificate (a site, or the
 * operator's) from the TLS layer, else an API token from the Authorization
 * header, checked against the hashes in the store. */
#include "service/coordinator_internal.h"
#include "facility/bundle.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "net/pki.h"
#include "service/tenants.h"

#define NO_CREDENTIALS "authentication required: send \"Authorization: Bearer TOKEN\" (or use a client certificate)"

static void what_of(const gf_http_request *req, char *out, size_t cap)
{
    snprintf(out, cap, "%s %.*s", req->method, CO_PATH_AUDIT_MAX, req->path);
}

/* A refused credential: counted for the audit log's summary (anyone can
 * send these, so no line each), then answered 401. */
static gf_status refuse(gf_coordinator *c, const gf_http_request *req, gf_http_response *resp, co_refusal_kind kind,
                        const char *why)
{
    char what[CO_PATH_AUDIT_MAX + 16];
    what_of(req, what, sizeof what);
    co_refused(c, kind, what);
    return co_refuse(resp, 401, GF_ERR_ARG, "%s", why);
}

/* Checks "Bearer TOKEN": GF_OK with *sp, else why (for a 401) in why[cap]. */
static gf_status bearer(gf_coordinator *c, const char *h, gf_store_principal *sp, co_refusal_kind *kind,
                        char *why, size_t cap)
{
    *kind = CO_REFUSED_NO_CREDENTIALS;
    if (!h) return snprintf(why, cap, "%s", NO_CREDENTIALS), GF_ERR_ARG;
    *kind = CO_REFUSED_BAD_TOKEN;
    if (strncmp(h, "Bearer ", 7))
        return snprintf(why, cap, "the Authorization header must be \"Bearer TOKEN\""), GF_ERR_ARG;
    h += 7;
    while (*h == ' ') h++;
    if (gf_store_token_check(c->store, h, sp))   /* its reasons name no token id */
        return snprintf(why, cap, "token refused: %s", gf_last_error()), GF_ERR_ARG;
    return GF_OK;
}

/* "/v1/jobs/N/rounds/R/update": a site's model-sized upload. */
static int is_upload(const char *path)
{
    size_t n = strlen(path);
    return !strncmp(path, "/v1/jobs/", 9) && strstr(path, "/rounds/") && n > 7 && !strcmp(path + n - 7, "/update");
}

/* A bundle's body: its files' limit (they may come uncompressed) plus the
 * spec and tar's headers. */
static size_t bundle_body_max(const gf_coordinator *c)
{
    int64_t files = c->cfg.max_bundle_bytes > 0 ? c->cfg.max_bundle_bytes : GF_BUNDLE_MAX_BYTES;
    return (size_t)files + CO_JSON_BODY_MAX + ((size_t)16 << 20);
}

void co_admit(void *ctx, const gf_http_request *req, gf_http_admission *a)
{
    gf_coordinator *c = ctx;
    const char *path = req->path;
    if (!strcmp(req->method, "GET") &&
        (!strcmp(path, "/v1/health") || !strcmp(path, "/") || !strncmp(path, "/static/", 8)))
        return;                              /* public and bodiless: max_body 0 */
    if (req->peer[0]) {                      /* a verified certificate */
        a->authenticated = 1;
        if (!strcmp(req->peer, GF_PKI_OPERATOR)) {
            a->max_body = CO_JSON_BODY_MAX;
            if (!strcmp(req->method, "POST") && !strcmp(path, "/v1/jobs/bundle"))
                a->max_body = bundle_body_max(c), a->large = 1;
        }
        else if (is_upload(path)) a->max_body = c->cfg.max_body, a->large = 1;
        else a->max_body = CO_SITE_MSG_MAX;
        return;
    }
    gf_store_principal sp;
    co_refusal_kind kind;
    if (bearer(c, gf_https_header(req, "Authorization"), &sp, &kind, a->msg, sizeof a->msg)) {
        char what[CO_PATH_AUDIT_MAX + 16];
        what_of(req, what, sizeof what);
        co_refused(c, kind, what);
        a->status = 401;
        return;
    }
    a->authenticated = 1;
    a->max_body = CO_JSON_BODY_MAX;
    if (!strcmp(req->method, "POST") && !strcmp(path, "/v1/jobs/bundle"))   /* a program job's files */
        a->max_body = bundle_body_max(c), a->large = 1;
}

gf_status co_authenticate(gf_coordinator *c, const gf_http_request *req, co_principal *p, gf_http_response *resp)
{
    memset(p, 0, sizeof *p);
    if (req->peer[0]) {                      /* a verified certificate */
        p->role = strcmp(req->peer, GF_PKI_OPERATOR) ? CO_SITE : CO_OPERATOR;
        snprintf(p->actor, sizeof p->actor, "%s", req->peer);
        return GF_OK;
    }
    gf_store_principal sp;
    co_refusal_kind kind;
    char why[300];
    if (bearer(c, gf_https_header(req, "Authorization"), &sp, &kind, why, sizeof why))
        return refuse(c, req, resp, kind, why);
    p->role = sp.role == GF_ROLE_OPERATOR ? CO_OPERATOR : CO_MEMBER;
    p->tenant_id = sp.tenant_id;
    snprintf(p->tenant, sizeof p->tenant, "%s", sp.tenant);
    snprintf(p->actor, sizeof p->actor, "token:%lld", (long long)sp.token_id);
    co_token_used(c, sp.token_id);
    return GF_OK;
}

int co_job_visible(const co_principal *p, const gf_store_job *job)
{
    if (p->role == CO_OPERATOR) return 1;
    return p->role == CO_MEMBER && p->tenant_id && job->tenant_id == p->tenant_id;
}

gf_status co_job_for(gf_coordinator *c, const co_principal *p, int64_t id, gf_store_job *job, gf_http_response *resp)
{
    if (!gf_store_job_get(c->store, id, job)) {
        if (co_job_visible(p, job)) return GF_OK;
        gf_store_job_free(job);
    }
    return co_refuse(resp, 404, GF_ERR_ARG, "no job %lld", (long long)id);   /* the same for another tenant's */
}

gf_status co_tenant_filter(gf_coordinator *c, const co_principal *who, const char *tname, int64_t *tid,
                           gf_http_response *resp)
{
    *tid = 0;
    if (who->role == CO_MEMBER) {            /* a member's own tenant only; another is a 404, as a missing one */
        if (tname && strcmp(tname, who->tenant)) return co_refuse(resp, 404, GF_ERR_ARG, "no tenant \"%s\"", tname);
        *tid = who->tenant_id;
    } else if (tname) {
        gf_store_tenant t;
        if (gf_store_tenant_get(c->store, tname, &t)) return co_refuse(resp, 404, GF_ERR_ARG, "no tenant \"%s\"", tname);
        *tid = t.id;
    }
    return GF_OK;
}
