/* Anonymous refusals at the coordinator's HTTP edge (coordinator_internal.h):
 * requests without credentials or with a bad token, and the server's own
 * events (refused certificates, body limits, TLS errors). Anyone can cause
 * them, as fast as the network allows, so none is written to the audit log
 * (one fdatasync'd line each) or printed one by one: they are counted and
 * summarised in one "requests.refused" audit line per interval, with the
 * last one's path or line cut short. */
#include "service/coordinator_internal.h"

#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include "core/timer.h"

#define SUMMARY_S    60.0   /* seconds between summary lines */
#define LOG_PER_INTERVAL 5  /* edge lines printed per interval, then only counted */

void co_refusals_init(gf_coordinator *c)
{
    pthread_mutex_init(&c->refusals.lock, NULL);
    c->refusals.since = gf_now();
}

void co_refused(gf_coordinator *c, co_refusal_kind kind, const char *what)
{
    co_refusals *r = &c->refusals;
    int print = 0;
    pthread_mutex_lock(&r->lock);
    if (kind == CO_REFUSED_NO_CREDENTIALS) r->no_credentials++;
    else if (kind == CO_REFUSED_BAD_TOKEN) r->bad_token++;
    else print = r->logged++ < LOG_PER_INTERVAL, r->edge++;
    snprintf(r->last, sizeof r->last, "%.*s", CO_PATH_AUDIT_MAX, what ? what : "");
    for (char *p = r->last; *p; p++)        /* printable ASCII only: a cut may split UTF-8 */
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
    pthread_mutex_unlock(&r->lock);
    if (print) co_log(c, "%.*s", 2 * CO_PATH_AUDIT_MAX, what);
}

double co_refusals_due(gf_coordinator *c)
{
    pthread_mutex_lock(&c->refusals.lock);
    double due = c->refusals.since + SUMMARY_S;
    pthread_mutex_unlock(&c->refusals.lock);
    return due;
}

void co_refusals_flush(gf_coordinator *c, int force)
{
    co_refusals *r = &c->refusals;
    double now = gf_now();
    pthread_mutex_lock(&r->lock);
    if (!force && now - r->since < SUMMARY_S) { pthread_mutex_unlock(&r->lock); return; }
    uint64_t n = r->no_credentials, b = r->bad_token, e = r->edge;
    double secs = now - r->since;
    char last[sizeof r->last];
    memcpy(last, r->last, sizeof last);
    r->no_credentials = r->bad_token = r->edge = r->logged = 0;
    r->since = now;
    pthread_mutex_unlock(&r->lock);
    if (!n && !b && !e) return;
    co_audit(c, "anonymous", "requests.refused",
             json_pack("{s:I,s:I,s:I,s:f,s:s}", "no_credentials", (json_int_t)n, "bad_token", (json_int_t)b,
                       "edge", (json_int_t)e, "seconds", secs, "last", last));
    if (e > LOG_PER_INTERVAL)
        co_log(c, "%llu more edge events in %.0f s (counted in the audit log)", (unsigned long long)(e - LOG_PER_INTERVAL), secs);
}
