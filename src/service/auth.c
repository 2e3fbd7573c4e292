/* Who is calling (coordinator_internal.h): a certificate (a site, or the
 * operator's) from the TLS layer, else an API token from the Authorization
 * header, checked against the hashes in the store. */
#include "service/coordinator_internal.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "net/pki.h"
#include "service/tenants.h"

/* A refused credential: audited (a security event), then answered 401. */
static gf_status refuse(gf_coordinator *c, const gf_http_request *req, gf_http_response *resp, const char *why)
{
    co_audit(c, "anonymous", "request.refused",
             json_pack("{s:s,s:s,s:s}", "method", req->method, "path", req->path, "detail", why));
    return co_refuse(resp, 401, GF_ERR_ARG, "%s", why);
}

gf_status co_authenticate(gf_coordinator *c, const gf_http_request *req, co_principal *p, gf_http_response *resp)
{
    memset(p, 0, sizeof *p);
    if (req->peer[0]) {                      /* a verified certificate */
        p->role = strcmp(req->peer, GF_PKI_OPERATOR) ? CO_SITE : CO_OPERATOR;
        snprintf(p->actor, sizeof p->actor, "%s", req->peer);
        return GF_OK;
    }
    const char *h = gf_https_header(req, "Authorization");
    if (!h) return refuse(c, req, resp, "authentication required: send \"Authorization: Bearer TOKEN\" "
                          "(or use a client certificate)");
    if (strncmp(h, "Bearer ", 7)) return refuse(c, req, resp, "the Authorization header must be \"Bearer TOKEN\"");
    h += 7;
    while (*h == ' ') h++;
    gf_store_principal sp;
    if (gf_store_token_check(c->store, h, &sp)) {
        char why[300];
        snprintf(why, sizeof why, "token refused: %s", gf_last_error());
        return refuse(c, req, resp, why);
    }
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
