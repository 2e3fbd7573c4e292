/* The secure-aggregation routes of a round (docs/api.md, "Secure
 * aggregation"): a site posts its signed key advertisement, shares, masked
 * input, consistency signature and unmask shares, and long-polls for the
 * key table, its inbox, the survivor lists and the unmask request. Bodies are fixed-size binary messages (fed/secround.h); a
 * refused one is answered with a JSON error and an audit line. */
#include "service/coordinator_internal.h"

#include <string.h>
#include <jansson.h>
#include <sodium.h>
#include "core/timer.h"

typedef gf_status (*inbound_fn)(gf_secround *r, int i, const uint8_t *body, size_t len, int *http);
typedef gf_status (*outbound_fn)(gf_secround *r, int i, uint8_t **body, size_t *len, int *http);

/* The running job, or NULL with *http and a message (lock held). */
static gf_fedjob *job_of(gf_coordinator *c, int64_t id, int *http)
{
    co_job *cj = co_job_find(c, id);
    if (cj && !cj->cancelled) return cj->fj;
    *http = 404;
    gf_errorf(GF_ERR_ARG, "no running job %lld", (long long)id);
    return NULL;
}

static gf_status post(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round, inbound_fn add,
                      gf_http_response *resp)
{
    int http = 500;
    gf_status st = GF_ERR_ARG;
    char why[512] = "";
    pthread_mutex_lock(&c->lock);
    co_site_seen(c, req->peer, gf_now());
    gf_fedjob *j = job_of(c, id, &http);
    if (j) {
        const char *attempt = gf_https_query(req, "attempt");
        if (!add) st = gf_fedjob_add_masked(j, req->peer, round, attempt, req->body, req->body_len, &http);
        else if (!(st = gf_fedjob_check_secagg(j, req->peer, round, attempt, &http)))
            st = add(j->sec, gf_fedjob_part_index(j, req->peer), req->body, req->body_len, &http);
        if (!st) co_wake(c);
    }
    if (st) snprintf(why, sizeof why, "%s", gf_last_error());
    pthread_mutex_unlock(&c->lock);
    if (st) {
        co_audit_rejected(c, req->peer, id, round, http, why);
        return co_refuse(resp, http, st, "%s", why);
    }
    return co_reply(resp, 200, json_pack("{s:b}", "accepted", 1));
}

static gf_status get(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round, outbound_fn out,
                     gf_http_response *resp)
{
    long wait = co_poll_wait(req, "wait");
    if (wait < 0) return co_refuse(resp, 400, GF_ERR_ARG, "wait must be an integer number of seconds in [0, 60]");
    int http = 500;
    gf_status st = GF_OK;
    uint8_t *body = NULL;
    size_t len = 0;
    char why[512] = "";
    pthread_mutex_lock(&c->lock);
    double until = gf_now() + (double)wait;
    co_site *s = co_site_seen(c, req->peer, gf_now());
    if (s) s->polling++;
    for (;;) {
        gf_fedjob *j = job_of(c, id, &http);
        if (!j) { st = GF_ERR_ARG; break; }
        if ((st = gf_fedjob_check_secagg(j, req->peer, round, gf_https_query(req, "attempt"), &http))) break;
        if ((st = out(j->sec, gf_fedjob_part_index(j, req->peer), &body, &len, &http)) || body) break;
        if (c->stopping || gf_now() >= until) break;
        co_wait_until(c, &c->changed, until);
    }
    if (st) snprintf(why, sizeof why, "%s", gf_last_error());
    if ((s = co_site_seen(c, req->peer, gf_now()))) s->polling--;
    pthread_mutex_unlock(&c->lock);
    if (st) {
        co_audit_rejected(c, req->peer, id, round, http, why);
        return co_refuse(resp, http, st, "%s", why);
    }
    if (!body) { resp->status = 204; return GF_OK; }
    resp->status = 200;
    resp->content_type = "application/octet-stream";
    resp->body = body;
    resp->len = len;
    resp->free_body = free;
    return GF_OK;
}

gf_status co_secagg_route(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round,
                          const char *rest, gf_http_response *resp)
{
    int is_get = !strcmp(req->method, "GET"), is_post = !strcmp(req->method, "POST");
    if (!strcmp(rest, "update") && is_post) return post(c, req, id, round, NULL, resp);
    if (!strcmp(rest, "secagg/keys") && is_post) return post(c, req, id, round, gf_secround_add_keys, resp);
    if (!strcmp(rest, "secagg/keys") && is_get) return get(c, req, id, round, gf_secround_key_table, resp);
    if (!strcmp(rest, "secagg/shares") && is_post) return post(c, req, id, round, gf_secround_add_shares, resp);
    if (!strcmp(rest, "secagg/inbox") && is_get) return get(c, req, id, round, gf_secround_inbox, resp);
    if (!strcmp(rest, "secagg/survivors") && is_get) return get(c, req, id, round, gf_secround_survivors, resp);
    if (!strcmp(rest, "secagg/consistency") && is_post)
        return post(c, req, id, round, gf_secround_add_consistency, resp);
    if (!strcmp(rest, "secagg/unmask") && is_get) return get(c, req, id, round, gf_secround_unmask_request, resp);
    if (!strcmp(rest, "secagg/unmask") && is_post) return post(c, req, id, round, gf_secround_add_unmask, resp);
    return co_refuse(resp, 404, GF_ERR_ARG, "no route %s %s", req->method, req->path);
}
