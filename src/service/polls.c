/* Parked long-polls: a site's poll whose answer is not ready holds no
 * thread. It waits on its kind's list (task polls, api.c; secure-
 * aggregation polls, api_secagg.c) until a pass finds its answer ready
 * (the kind's `look`, lock held) or its time up, and is answered unlocked
 * (`answer`). The driver passes over the task polls as it opens a round;
 * the timer thread over every list at the next deadline, and over the
 * secure-aggregation polls after each change (co_wake). */
#include "service/coordinator_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/timer.h"

void co_poll_park(gf_coordinator *c, int list, co_poll *p, const co_poll_kind *kind, const gf_http_request *req,
                  co_site *s, double until, gf_http_response *resp)
{
    p->next = c->polls[list];
    p->kind = kind;
    p->later = gf_https_defer(req);
    p->until = until;
    snprintf(p->site, sizeof p->site, "%s", req->peer);
    c->polls[list] = p;
    if (s) s->polling++;
    if (until < c->polls_due) pthread_cond_signal(&c->polls_wake);   /* before the timer would look */
    resp->status = CO_DEFERRED;
}

double co_polls_serve(gf_coordinator *c, int list, double now, int driver)
{
    co_poll *ready = NULL, **pp = &c->polls[list];
    while (*pp) {                            /* those whose answer is ready, or whose time is up */
        co_poll *p = *pp;
        if (!p->kind->look(c, p, now, driver && !c->stopping) && !c->stopping && now < p->until) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;                       /* newest first there: oldest first here */
        p->next = ready, ready = p;
        co_site *s = co_site_seen(c, p->site, now);
        if (s && s->polling > 0) s->polling--;
    }
    if (ready) {
        pthread_mutex_unlock(&c->lock);
        while (ready) {
            co_poll *p = ready;
            ready = p->next;
            gf_http_response resp = { 0 };
            gf_status st = p->kind->answer(c, p, &resp);
            co_metrics_answer(c, st ? 0 : resp.len, st && !resp.status ? 500 : resp.status);
            gf_https_answer(p->later, st, &resp);
            free(p);
        }
        pthread_mutex_lock(&c->lock);
    }
    double due = INFINITY;
    for (co_poll *p = c->polls[list]; p; p = p->next)   /* those left, and any parked meanwhile */
        if (p->until < due) due = p->until;
    return due;
}

int co_polls_count(const gf_coordinator *c, int list)
{
    int n = 0;
    for (const co_poll *p = c->polls[list]; p; p = p->next) n++;
    return n;
}

void *co_poll_timer_main(void *arg)
{
    gf_coordinator *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->stopping) {
        double now = gf_now(), due = INFINITY;
        c->sa_kicked = 0;
        for (int list = 0; list < CO_POLL_LISTS; list++) due = fmin(due, co_polls_serve(c, list, gf_now(), 0));
        c->polls_due = fmin(due, now + 60);
        if (!c->stopping && !c->sa_kicked) co_wait_until(c, &c->polls_wake, c->polls_due);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}
