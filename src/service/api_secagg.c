/* The secure-aggregation routes of a round (docs/api.md, "Secure
 * aggregation"): a site posts its signed key advertisement, shares, masked
 * input, consistency signature and unmask shares, and long-polls for the
 * key table, its inbox, the survivor lists and the unmask request. Bodies
 * are fixed-size binary messages (fed/secround.h); a refused one is
 * answered with a JSON error and an audit line. A long-poll whose message
 * is not ready is parked, like a task poll (api.c): no thread waits for
 * it, and the polls' timer thread answers it once a change makes it ready
 * (polls.c: one pass over the parked polls per change, instead of waking
 * a thread per waiting site). */
#include "service/coordinator_internal.h"

#include <math.h>
#include <stdlib.h>
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

/* A parked secure-aggregation long-poll: what its answer needs, copied
 * from the request (gone once its handler returned). */
typedef struct {
    co_poll      base;
    outbound_fn  out;
    int64_t      job, round;
    char         attempt[40];     /* ?attempt= (16 hex digits when valid) */
    int          has_attempt;
    /* its answer, once ready */
    gf_status    st;
    int          http;
    uint8_t     *body;            /* (len) */
    size_t       len;
    char         why[512];
} sa_poll;

/* One look at a poll (lock held): 1 when it is answered now (*body, or a
 * refusal: *st with *http and gf_last_error()), 0 when its message is not
 * ready yet. */
static int look(gf_coordinator *c, const char *site, int64_t id, int64_t round, const char *attempt, outbound_fn out,
                uint8_t **body, size_t *len, int *http, gf_status *st)
{
    *body = NULL, *len = 0, *http = 500;
    gf_fedjob *j = job_of(c, id, http);
    if (!j) { *st = GF_ERR_ARG; return 1; }
    if ((*st = gf_fedjob_check_secagg(j, site, round, attempt, http))) return 1;
    *st = out(j->sec, gf_fedjob_part_index(j, site), body, len, http);
    return *st || *body;
}

/* A poll's answer (lock NOT held): the message, 204 when none came, or the
 * refusal, audited. */
static gf_status answer(gf_coordinator *c, const char *site, int64_t id, int64_t round, gf_status st, int http,
                        const char *why, uint8_t *body, size_t len, gf_http_response *resp)
{
    if (st) {
        co_audit_rejected(c, site, id, round, http, why);
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

static int sa_look(gf_coordinator *c, co_poll *base, double now, int driver)
{
    sa_poll *p = (sa_poll *)base;
    int done = look(c, base->site, p->job, p->round, p->has_attempt ? p->attempt : NULL, p->out, &p->body, &p->len,
                    &p->http, &p->st);
    if (p->st) snprintf(p->why, sizeof p->why, "%s", gf_last_error());
    return done;
}

static gf_status sa_answer(gf_coordinator *c, co_poll *base, gf_http_response *resp)
{
    sa_poll *p = (sa_poll *)base;
    return answer(c, base->site, p->job, p->round, p->st, p->http, p->why, p->body, p->len, resp);
}

static const co_poll_kind sa_kind = { sa_look, sa_answer };

/* A long-poll: answered at once when its message is ready, else parked
 * (no thread waits) until a change makes it ready or `wait` runs out. */
static gf_status get(gf_coordinator *c, const gf_http_request *req, int64_t id, int64_t round, outbound_fn out,
                     gf_http_response *resp)
{
    long wait = co_poll_wait(req, "wait");
    if (wait < 0) return co_refuse(resp, 400, GF_ERR_ARG, "wait must be an integer number of seconds in [0, 60]");
    const char *attempt = gf_https_query(req, "attempt");
    if (attempt && strlen(attempt) >= sizeof ((sa_poll *)0)->attempt)
        return co_refuse(resp, 400, GF_ERR_ARG, "attempt is too long");
    int http;
    gf_status st;
    uint8_t *body;
    size_t len;
    char why[512] = "";
    pthread_mutex_lock(&c->lock);
    double now = gf_now();
    co_site *s = co_site_seen(c, req->peer, now);
    int done = look(c, req->peer, id, round, attempt, out, &body, &len, &http, &st);
    if (st) snprintf(why, sizeof why, "%s", gf_last_error());
    sa_poll *p = !done && wait > 0 && !c->stopping ? calloc(1, sizeof *p) : NULL;
    if (p) {
        *p = (sa_poll){ .out = out, .job = id, .round = round, .has_attempt = attempt != NULL };
        if (attempt) snprintf(p->attempt, sizeof p->attempt, "%s", attempt);
        co_poll_park(c, CO_POLL_SECAGG, &p->base, &sa_kind, req, s, now + (double)wait, resp);
    }
    pthread_mutex_unlock(&c->lock);
    if (p) return GF_OK;
    return answer(c, req->peer, id, round, st, http, why, body, len, resp);   /* not ready and no wait: 204 */
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
