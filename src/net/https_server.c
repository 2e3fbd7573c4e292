/* The coordinator's HTTPS server on libmicrohttpd (see https_server.h):
 * daemon set-up from the provisioning folder, per-request identity and
 * revocation checks, bounded body buffering, and JSON error replies. */
#include "net/https_server.h"
#include "net/https_accept.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include <microhttpd.h>

#define PEM_MAX ((long)1 << 20)

/* A refused request whose announced body is at most this big is read (and
 * thrown away) before the reply, so the reply is not lost to a TCP reset
 * when the connection closes with unread data; bigger bodies get the reply
 * at once and the connection is closed without reading them. */
#define DRAIN_MAX ((size_t)64 << 10)

struct gf_https_server {
    struct MHD_Daemon *mhd;
    gf_https_acceptor *acceptor;                    /* the listening socket; places new connections */
    gf_https_config    cfg;
    int                port;
    char              *key_pem, *crt_pem, *ca_pem;  /* libmicrohttpd keeps pointers to these */
    gf_pki_crl        *crl;
    pthread_mutex_t    crl_lock;                    /* serialises refresh + check */
    pthread_mutex_t    slot_lock;                   /* body slots, waiters and handler threads */
    int                slots_used;                  /* of cfg.body_slots */
    /* the last body buffer given back, for the next body that fits in it
     * (a model-sized upload then reuses memory instead of faulting fresh
     * pages in); freed by the sweeper after SPARE_IDLE_S unused */
    uint8_t           *spare;
    size_t             spare_cap;
    double             spare_since;                 /* mono_now when it was given back */
    struct request_state *wait_head, *wait_tail;    /* suspended for a slot, first come first served */
    int                handlers;                    /* handler threads alive: busy or idle */
    int                deferred;                    /* requests a handler deferred, not yet answered */
    pthread_cond_t     handlers_done;               /* handlers or deferred went down */
    int                idle;                        /* handler threads waiting for a request */
    struct handler_job *jobs_head, *jobs_tail;      /* requests handed to idle threads */
    pthread_cond_t     job_ready;
    int                stopping;
    /* the header deadline: libmicrohttpd's timeout is idle-based, so a
     * client trickling a byte a second would never meet it */
    pthread_mutex_t    conn_lock;                   /* conns, sweeper_stop */
    struct conn_state *conns;                       /* every open connection */
    pthread_cond_t     sweeper_wake;
    pthread_t          sweeper;
    int                sweeper_started, sweeper_stop;
};

/* Body buffers of at least SPARE_MIN bytes (glibc maps those fresh from the
 * kernel each time) are kept for reuse, one at a time, for SPARE_IDLE_S. */
#define SPARE_MIN    ((size_t)256 << 10)
#define SPARE_IDLE_S 10.0

/* One TCP connection (libmicrohttpd's socket context). */
typedef struct conn_state {
    struct conn_state *prev, *next;
    int    fd;
    double deadline;      /* monotonic seconds by which its (next) request's headers must be in;
                             0: none (an authenticated connection: the idle timeout only) */
    /* The verified peer of its TLS session, touched only by the
     * connection's own callbacks. TLS 1.3 (the only version served) has no
     * renegotiation, so a session's certificate cannot change: its first
     * request verifies it in full (chain, name, key purpose); later ones
     * check that it has not expired and that the revocation list is still
     * the one it was checked against (else they check it again). */
    char     peer[GF_PKI_NAME_MAX + 1];
    int      peer_known;
    time_t   peer_not_after;
    uint64_t peer_crl;    /* gf_pki_crl_generation at the check */
} conn_state;

/* One request in flight (libmicrohttpd's per-request context). */
typedef struct request_state {
    int      refused;                       /* a reply was queued before the body */
    unsigned pending;                       /* refusal status to send once the body is drained */
    char     msg[512];                      /* its message */
    char     peer[GF_PKI_NAME_MAX + 1];
    size_t   max_body;                      /* from its admission */
    int      large;                         /* its body needs one of cfg.body_slots */
    unsigned long long announced;           /* Content-Length (ULLONG_MAX: none) */
    uint8_t *body;
    size_t   len, cap;
    int      slot;                          /* holds one of cfg.body_slots */
    int      waiting;                       /* suspended until a slot frees (in the wait list) */
    struct request_state *next_waiter;
    double   since;                         /* monotonic seconds of its first call */
    /* its handler, on a thread of its own while the connection is suspended */
    struct MHD_Connection *conn;
    const char *method, *url;
    int      running;                       /* the handler thread has it */
    unsigned answer_status;                 /* set by the handler thread ... */
    struct MHD_Response *answer;            /* ... and queued once the connection resumes */
    /* a deferred answer (gf_https_defer), under slot_lock: DEFER_IN_HANDLER
     * until the handler returns, then DEFER_PARKED (suspended, no thread
     * holds it) until gf_https_answer; DEFER_ANSWERED when the answer came
     * before the handler returned (its thread then resumes the connection) */
    enum { DEFER_NONE, DEFER_IN_HANDLER, DEFER_PARKED, DEFER_ANSWERED } defer;
    int      deferring;                     /* its handler called gf_https_defer: written and read
                                               by the handler's thread alone (no lock) */
    gf_https_server *srv;
} request_state;

/* ---- helpers --------------------------------------------------------------- */

/* One log line, trailing white space (libmicrohttpd's and GnuTLS's newlines) removed. */
static void emit(const gf_https_server *s, const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && strchr(" \t\r\n", line[n - 1])) line[--n] = 0;
    s->cfg.log(s->cfg.ctx, line);
}

static void logf_(const gf_https_server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const gf_https_server *s, const char *fmt, ...)
{
    if (!s->cfg.log) return;
    va_list ap;
    va_start(ap, fmt);
    emit(s, fmt, ap);
    va_end(ap);
}

static void acceptor_log(void *ctx, const char *line)
{
    logf_(ctx, "%s", line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    emit(cls, fmt, ap);
}

/* A whole text file as a NUL-terminated string. */
static gf_status read_text(const char *dir, const char *rel, char **out)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path)
        return gf_errorf(GF_ERR_ARG, "%s/%s: path too long", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return gf_errorf(GF_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    char *buf = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= PEM_MAX && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
        fclose(f);
        *out = buf;
        return GF_OK;
    }
    fclose(f);
    free(buf);
    if (n > PEM_MAX) return gf_errorf(GF_ERR_FORMAT, "%s: larger than %ld bytes", path, PEM_MAX);
    return gf_errorf(n >= 0 && !buf ? GF_ERR_NOMEM : GF_ERR_IO, "cannot read %s", path);
}

/* {"error": msg} as a malloc'd string (a fixed text if msg is not UTF-8). */
static char *error_json(const char *msg, size_t *len)
{
    json_t *j = json_pack("{s:s}", "error", msg);
    if (!j) j = json_pack("{s:s}", "error", "request refused");
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s) *len = strlen(s);
    return s;
}

/* The policy of every answer: nothing loads from elsewhere, nothing inline
 * runs, no framing, no caching (tokens are answered), no referrer. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

/* Content-Type and the security headers added to r; r is destroyed on failure. */
static struct MHD_Response *dress(struct MHD_Response *r, const char *type)
{
    if (!r) return NULL;
    if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
        MHD_add_response_header(r, "Content-Security-Policy", CSP) != MHD_YES ||
        MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
        MHD_add_response_header(r, "X-Frame-Options", "DENY") != MHD_YES ||
        MHD_add_response_header(r, "Referrer-Policy", "no-referrer") != MHD_YES ||
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
        MHD_destroy_response(r);
        return NULL;
    }
    return r;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r)
{
    if (!r) return MHD_NO;
    enum MHD_Result ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

/* {"error": msg} as a dressed response (NULL when out of memory). */
static struct MHD_Response *error_response(const char *msg)
{
    size_t len = 0;
    char *body = error_json(msg, &len);
    if (!body) return NULL;
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) { free(body); return NULL; }
    return dress(r, "application/json");
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    return queue(conn, status, error_response(msg));   /* NULL (out of memory): drop the connection */
}

/* The revocation list's generation after re-reading it if it changed (a
 * CRL that cannot be re-read leaves the previous list in force). crl_lock held. */
static uint64_t crl_current(gf_https_server *s)
{
    if (gf_pki_crl_refresh(s->crl) != GF_OK) logf_(s, "revocation list not re-read: %s", gf_last_error());
    return gf_pki_crl_generation(s->crl);
}

/* Verified, unrevoked site name of the connection's TLS session, on every
 * request (a revocation takes effect at the next one); the verification
 * itself is kept with the connection (conn_state). */
static gf_status authenticate(gf_https_server *s, struct MHD_Connection *conn, char *name, size_t size)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (!ci || !ci->tls_session) return gf_errorf(GF_ERR_MISMATCH, "no TLS session");
    gnutls_session_t tls = (gnutls_session_t)ci->tls_session;
    unsigned int ncerts = 0;
    if (!gnutls_certificate_get_peers(tls, &ncerts) || ncerts == 0) {   /* no certificate: a token client */
        name[0] = 0;
        return GF_OK;
    }
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_state *cs = sc ? sc->socket_context : NULL;
    pthread_mutex_lock(&s->crl_lock);
    uint64_t gen = crl_current(s);
    int known = cs && cs->peer_known && cs->peer_crl == gen && time(NULL) < cs->peer_not_after &&
                strlen(cs->peer) < size;
    if (known) memcpy(name, cs->peer, strlen(cs->peer) + 1);
    pthread_mutex_unlock(&s->crl_lock);
    if (known) return GF_OK;
    if (cs) cs->peer_known = 0;
    gf_status st = gf_pki_peer_name(tls, name, size);
    if (st) return st;
    if (!strcmp(name, GF_PKI_COORDINATOR))   /* serverAuth only: verified above as a server's */
        return gf_errorf(GF_ERR_MISMATCH, "the coordinator's certificate is not a site's");
    time_t not_after = 0;
    if ((st = gf_pki_peer_expiry(tls, &not_after))) return st;
    pthread_mutex_lock(&s->crl_lock);
    gen = crl_current(s);
    st = gf_pki_crl_check(s->crl, tls);
    pthread_mutex_unlock(&s->crl_lock);
    if (!st && cs && strlen(name) < sizeof cs->peer) {
        memcpy(cs->peer, name, strlen(name) + 1);
        cs->peer_not_after = not_after;
        cs->peer_crl = gen;
        cs->peer_known = 1;
    }
    return st;
}

/* ---- request handling ------------------------------------------------------ */

/* Refuses the request: at once, or after draining a small announced body. */
static enum MHD_Result refuse(struct MHD_Connection *conn, request_state *r, unsigned status, unsigned long long body)
{
    if (body > 0 && body <= DRAIN_MAX) {
        r->pending = status;
        return MHD_YES;
    }
    r->refused = 1;
    return reply_error(conn, status, r->msg);
}

/* Announced body length: 0 when none, ULLONG_MAX when unparsable. */
static unsigned long long content_length(struct MHD_Connection *conn, const char **text)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *text = cl ? cl : "0";
    if (!cl) return 0;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(cl, &end, 10);
    return errno || end == cl || *end ? ULLONG_MAX : n;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void headers_in(gf_https_server *s, struct MHD_Connection *conn, int authenticated);

/* The certificate, then the admission: nothing of the body is accepted
 * (nor memory reserved for it) before both have passed. */
static enum MHD_Result first_call(gf_https_server *s, struct MHD_Connection *conn, request_state *r,
                                  const char *method, const char *url)
{
    const char *cl;
    unsigned long long n = content_length(conn, &cl);
    r->since = mono_now();
    r->conn = conn;
    r->method = method;
    r->url = url;
    if (authenticate(s, conn, r->peer, sizeof r->peer) != GF_OK) {
        snprintf(r->msg, sizeof r->msg, "client certificate refused: %s", gf_last_error());
        logf_(s, "403 %s %.128s: %s", method, url, r->msg);
        r->peer[0] = 0;
        return refuse(conn, r, MHD_HTTP_FORBIDDEN, n);
    }
    gf_http_admission a = {0};
    if (s->cfg.admit) {
        gf_http_request req = {.method = method, .path = url, .peer = r->peer, .conn = conn};
        s->cfg.admit(s->cfg.ctx, &req, &a);
        if (a.max_body > s->cfg.max_body) a.max_body = s->cfg.max_body;
    } else {
        a.max_body = s->cfg.max_body;
        a.large = a.authenticated = 1;
    }
    if (a.status) {
        snprintf(r->msg, sizeof r->msg, "%s", a.msg[0] ? a.msg : "request refused");
        /* the connection closes after this answer; its body is not read */
        return refuse(conn, r, a.status >= 400 && a.status <= 599 ? (unsigned)a.status : MHD_HTTP_FORBIDDEN, n);
    }
    if (a.authenticated)   /* past the handshake-and-headers deadline: the usual idle timeout */
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)s->cfg.idle_timeout_s);
    headers_in(s, conn, a.authenticated);
    r->max_body = a.max_body;
    r->large = a.large && s->cfg.body_slots > 0;
    r->announced = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH) ? n : ULLONG_MAX;
    if (n != ULLONG_MAX && n > r->max_body && (n > 0 || r->max_body == 0)) {
        snprintf(r->msg, sizeof r->msg, "request body of %s bytes is larger than the limit of %zu bytes for %s %.128s",
                 cl, r->max_body, method, url);
        logf_(s, "413 %s %.128s from \"%s\": %s", method, url, r->peer, r->msg);
        return refuse(conn, r, MHD_HTTP_CONTENT_TOO_LARGE, n);
    }
    return MHD_YES;
}

/* Large bodies in memory are bounded by cfg.body_slots: a request takes a
 * slot when its first body bytes arrive, or is suspended (its bytes stay in
 * the socket, no thread waits) until one is handed to it; it gives the slot
 * back once its handler returns. 1 when r holds a slot. */
static int slot_take(gf_https_server *s, request_state *r)
{
    if (!r->large || r->slot) return 1;
    pthread_mutex_lock(&s->slot_lock);
    int got = s->slots_used < s->cfg.body_slots && !s->wait_head;
    if (got) {
        s->slots_used++;
        r->slot = 1;
    } else {
        r->waiting = 1;
        r->next_waiter = NULL;
        if (s->wait_tail) s->wait_tail->next_waiter = r;
        else s->wait_head = r;
        s->wait_tail = r;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&s->slot_lock);
    return got;
}

/* Removes r from the wait list (slot_lock held). */
static void unwait(gf_https_server *s, request_state *r)
{
    request_state **p = &s->wait_head, *prev = NULL;
    while (*p && *p != r) { prev = *p; p = &(*p)->next_waiter; }
    if (!*p) return;
    *p = r->next_waiter;
    if (s->wait_tail == r) s->wait_tail = prev;
    r->waiting = 0;
}

static double mono_now(void);

static void slot_give(gf_https_server *s, request_state *r)
{
    pthread_mutex_lock(&s->slot_lock);
    if (r->body && r->cap >= SPARE_MIN && r->cap > s->spare_cap) {   /* kept: the larger one */
        free(s->spare);
        s->spare = r->body, s->spare_cap = r->cap, s->spare_since = mono_now();
    } else {
        free(r->body);
    }
    r->body = NULL;
    r->len = r->cap = 0;
    if (r->waiting) unwait(s, r);
    if (r->slot) {
        r->slot = 0;
        request_state *w = s->wait_head;
        if (w && !s->stopping) {   /* handed straight to the first waiter */
            unwait(s, w);
            w->slot = 1;
            MHD_resume_connection(w->conn);
        } else {
            s->slots_used--;
        }
    }
    pthread_mutex_unlock(&s->slot_lock);
}

/* Appends a piece of the body; 0 when it would pass its limit or memory ran out. */
static int append(gf_https_server *s, request_state *r, const char *data, size_t n)
{
    size_t max = r->max_body;
    if (n > max - r->len) return 0;
    if (r->len + n > r->cap) {
        /* admitted and authenticated: now the announced length may be reserved at once */
        size_t cap = r->cap ? r->cap : r->announced <= max ? (size_t)r->announced : (size_t)64 << 10;
        if (cap > max) cap = max;
        while (cap < r->len + n) cap = cap > max / 2 ? max : cap * 2;
        if (!r->body && cap >= SPARE_MIN) {     /* the spare buffer, if it is large enough */
            pthread_mutex_lock(&s->slot_lock);
            if (s->spare && s->spare_cap >= cap) {
                r->body = s->spare, cap = s->spare_cap;
                s->spare = NULL, s->spare_cap = 0;
            }
            pthread_mutex_unlock(&s->slot_lock);
        }
        uint8_t *p = r->body && r->cap == 0 ? r->body : realloc(r->body, cap);
        if (!p) return 0;
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return 1;
}

static unsigned status_of(gf_status st)
{
    return st == GF_ERR_IO || st == GF_ERR_NOMEM ? MHD_HTTP_INTERNAL_SERVER_ERROR : MHD_HTTP_BAD_REQUEST;
}

/* Whatever the handler handed over (body, tail, descriptor), given back. */
static void release(gf_http_response *resp)
{
    if (resp->free_body && resp->body) resp->free_body((void *)resp->body);
    if (resp->free_tail && resp->tail) resp->free_tail((void *)resp->tail);
    if (resp->has_fd) close(resp->fd);
}

static void parts_free(void *cls)
{
    release(cls);
    free(cls);
}

/* An owned body and its tail, sent one after the other without a copy. */
static struct MHD_Response *two_parts(gf_http_response *resp)
{
    gf_http_response *keep = malloc(sizeof *keep);
    struct MHD_IoVec iov[2] = {{resp->body, resp->len}, {resp->tail, resp->tail_len}};
    struct MHD_Response *m = NULL;
    if (keep) {
        *keep = *resp;
        m = MHD_create_response_from_iovec(iov, 2, parts_free, keep);
    }
    if (!m) {
        release(resp);
        free(keep);
    }
    return m;
}

/* The handler's answer as a dressed response and its status (NULL: out of memory). */
static struct MHD_Response *answer_of(gf_status st, gf_http_response *resp, unsigned *status)
{
    if (st == GF_OK && resp->status == 0) resp->status = MHD_HTTP_OK;
    if (st != GF_OK || resp->status < 100 || resp->status > 599 || (resp->tail && !resp->free_body) ||
        (resp->tail && resp->has_fd)) {
        release(resp);
        *status = st == GF_OK ? MHD_HTTP_INTERNAL_SERVER_ERROR
                  : resp->status >= 400 && resp->status <= 599 ? (unsigned)resp->status : status_of(st);
        return error_response(st == GF_OK ? "handler set an invalid HTTP status or body" : gf_last_error());
    }
    *status = (unsigned)resp->status;
    void *owned = resp->free_body ? (void *)resp->body : NULL;
    struct MHD_Response *m;
    if (resp->has_fd) {           /* streamed from disk by libmicrohttpd, which closes fd */
        if (owned) resp->free_body(owned);
        m = MHD_create_response_from_fd_at_offset64(resp->len, resp->fd, resp->fd_offset);
        if (!m) close(resp->fd);
    } else if (resp->tail) {
        m = two_parts(resp);
    } else if (owned) {
        m = MHD_create_response_from_buffer_with_free_callback(resp->len, owned, resp->free_body);
        if (!m) resp->free_body(owned);
    } else {
        m = MHD_create_response_from_buffer(resp->len, (void *)(resp->len ? resp->body : ""), MHD_RESPMEM_MUST_COPY);
    }
    return dress(m, resp->content_type ? resp->content_type : "application/json");
}

typedef struct handler_job { gf_https_server *s; request_state *r; struct handler_job *next; } handler_job;

/* A handler thread that has answered waits this long for the next request
 * before it ends, unless HANDLER_IDLE_MAX already wait: a round's polls,
 * downloads and uploads reuse threads instead of creating one each, and
 * long-polls still get a thread each. (Keeping every thread of a 100-site
 * round cost 3 MB of the coordinator's peak memory, in stacks and malloc
 * arenas.) */
#define HANDLER_IDLE_S   10
#define HANDLER_IDLE_MAX 4

/* Runs the handler (its connection suspended); its answer is queued by the
 * event thread once the connection resumes. 1 when the answer is ready (the
 * caller resumes the connection), 0 when it was deferred and is still to come. */
static int run_handler(gf_https_server *s, request_state *r)
{
    gf_http_request req = {.method = r->method, .path = r->url, .peer = r->peer, .body = r->len ? r->body : NULL,
                           .body_len = r->len, .conn = r->conn, .state = r};
    gf_http_response resp = {0};
    r->srv = s;
    gf_status st = s->cfg.handler(s->cfg.ctx, &req, &resp);
    slot_give(s, r);
    if (!r->deferring) {                     /* not r->defer: the answerer may be writing it now */
        r->answer = answer_of(st, &resp, &r->answer_status);
        return 1;
    }
    release(&resp);                          /* a deferring handler answers later, not here */
    pthread_mutex_lock(&s->slot_lock);
    int ready = r->defer == DEFER_ANSWERED;
    r->defer = ready ? DEFER_NONE : DEFER_PARKED;
    pthread_mutex_unlock(&s->slot_lock);
    return ready;
}

gf_https_later *gf_https_defer(const gf_http_request *req)
{
    request_state *r = req->state;
    r->deferring = 1;
    pthread_mutex_lock(&r->srv->slot_lock);
    r->defer = DEFER_IN_HANDLER;
    r->srv->deferred++;
    pthread_mutex_unlock(&r->srv->slot_lock);
    return (gf_https_later *)r;
}

void gf_https_answer(gf_https_later *later, gf_status st, gf_http_response *resp)
{
    request_state *r = (request_state *)later;
    gf_https_server *s = r->srv;
    unsigned status;
    struct MHD_Response *m = answer_of(st, resp, &status);
    pthread_mutex_lock(&s->slot_lock);
    r->answer = m;
    r->answer_status = status;
    if (r->defer == DEFER_PARKED) {
        r->defer = DEFER_NONE;
        MHD_resume_connection(r->conn);      /* r belongs to the event thread again */
    } else {
        r->defer = DEFER_ANSWERED;           /* its handler thread resumes it on return */
    }
    s->deferred--;
    pthread_cond_broadcast(&s->handlers_done);
    pthread_mutex_unlock(&s->slot_lock);
}

static void *handler_main(void *arg)
{
    handler_job *job = arg;
    gf_https_server *s = job->s;
    for (;;) {
        request_state *r = job->r;
        free(job);
        if (run_handler(s, r)) MHD_resume_connection(r->conn);   /* r belongs to the event thread again */
        pthread_mutex_lock(&s->slot_lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += HANDLER_IDLE_S;
        job = NULL;
        if (s->idle < HANDLER_IDLE_MAX) {
            s->idle++;
            while (!s->jobs_head && !s->stopping &&
                   pthread_cond_timedwait(&s->job_ready, &s->slot_lock, &until) == 0) {}
            s->idle--;
            job = s->jobs_head;
        }
        if (job && !(s->jobs_head = job->next)) s->jobs_tail = NULL;
        if (!job) break;                     /* idle too long, or stopping (the queue is empty) */
        pthread_mutex_unlock(&s->slot_lock);
    }
    s->handlers--;
    pthread_cond_broadcast(&s->handlers_done);
    pthread_mutex_unlock(&s->slot_lock);
    return NULL;
}

/* Hands the complete request to a thread of its own (an idle one, or a new
 * one) and suspends the connection; falls back to running it here when no
 * thread can be made. */
static enum MHD_Result start_handler(gf_https_server *s, struct MHD_Connection *conn, request_state *r)
{
    r->running = 1;
    handler_job *job = malloc(sizeof *job);
    pthread_attr_t attr;
    pthread_t t;
    int ok = 0;
    if (job) {
        *job = (handler_job){s, r, NULL};
        pthread_mutex_lock(&s->slot_lock);
        if (s->idle > 0 && !s->stopping) {   /* queued jobs never outnumber idle threads */
            int queued = 0;
            for (handler_job *q = s->jobs_head; q; q = q->next) queued++;
            if (queued < s->idle) {
                MHD_suspend_connection(conn);     /* before the thread can resume it */
                if (s->jobs_tail) s->jobs_tail->next = job;
                else s->jobs_head = job;
                s->jobs_tail = job;
                pthread_cond_signal(&s->job_ready);
                pthread_mutex_unlock(&s->slot_lock);
                return MHD_YES;
            }
        }
        pthread_mutex_unlock(&s->slot_lock);
    }
    if (job && !pthread_attr_init(&attr)) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, (size_t)2 << 20);
        MHD_suspend_connection(conn);         /* before the thread can resume it */
        pthread_mutex_lock(&s->slot_lock);
        s->handlers++;
        pthread_mutex_unlock(&s->slot_lock);
        ok = !pthread_create(&t, &attr, handler_main, job);
        if (!ok) {
            pthread_mutex_lock(&s->slot_lock);
            s->handlers--;
            pthread_mutex_unlock(&s->slot_lock);
            MHD_resume_connection(conn);
        }
        pthread_attr_destroy(&attr);
    }
    if (ok) return MHD_YES;
    free(job);
    MHD_suspend_connection(conn);
    if (run_handler(s, r)) MHD_resume_connection(conn);   /* answered on the next call */
    return MHD_YES;
}

/* ---- the header deadline --------------------------------------------------- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    gf_https_server *s = cls;
    conn_state *cs = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {   /* its event thread serves one fewer */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) gf_https_acceptor_count(s->acceptor, ci->connect_fd, -1);
    }
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!ci || !(cs = calloc(1, sizeof *cs))) return;   /* untracked: the idle timeout still applies */
        cs->fd = ci->connect_fd;
        cs->deadline = mono_now() + s->cfg.header_timeout_s;
        pthread_mutex_lock(&s->conn_lock);
        cs->next = s->conns;
        if (s->conns) s->conns->prev = cs;
        s->conns = cs;
        pthread_mutex_unlock(&s->conn_lock);
        *socket_context = cs;
    } else if (cs) {                          /* closed: before libmicrohttpd closes the socket */
        pthread_mutex_lock(&s->conn_lock);
        if (cs->prev) cs->prev->next = cs->next;
        else s->conns = cs->next;
        if (cs->next) cs->next->prev = cs->prev;
        pthread_mutex_unlock(&s->conn_lock);
        free(cs);
        *socket_context = NULL;
    }
}

/* A request's headers are in: an authenticated connection loses its
 * deadline, any other gets a fresh one for its next request. */
static void headers_in(gf_https_server *s, struct MHD_Connection *conn, int authenticated)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_state *cs = ci ? ci->socket_context : NULL;
    if (!cs) return;
    pthread_mutex_lock(&s->conn_lock);
    cs->deadline = authenticated ? 0 : mono_now() + s->cfg.header_timeout_s;
    pthread_mutex_unlock(&s->conn_lock);
}

/* Twice a second: connections past their header deadline are shut down
 * (libmicrohttpd then sees the end of the stream and closes them).
 * Shutting down by descriptor is safe from descriptor reuse: libmicrohttpd
 * (0.9.75: MHD_cleanup_connections, the end of a per-connection thread, a
 * failed add) calls the CLOSED notification before it closes the socket,
 * and that notification unlinks the connection under conn_lock, which the
 * sweep holds; so every fd in the list is still its connection's own. */
static void *sweeper_main(void *arg)
{
    gf_https_server *s = arg;
    pthread_mutex_lock(&s->conn_lock);
    while (!s->sweeper_stop) {
        double now = mono_now();
        for (conn_state *cs = s->conns; cs; cs = cs->next)
            if (cs->deadline > 0 && now > cs->deadline) {
                shutdown(cs->fd, SHUT_RDWR);
                cs->deadline = 0;
            }
        pthread_mutex_unlock(&s->conn_lock);
        pthread_mutex_lock(&s->slot_lock);          /* a spare body buffer unused for long is given back */
        if (s->spare && now - s->spare_since > SPARE_IDLE_S) {
            free(s->spare);
            s->spare = NULL, s->spare_cap = 0;
        }
        pthread_mutex_unlock(&s->slot_lock);
        pthread_mutex_lock(&s->conn_lock);
        if (s->sweeper_stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500000000L;
        if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
        pthread_cond_timedwait(&s->sweeper_wake, &s->conn_lock, &ts);
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    gf_https_server *s = cls;
    request_state *r = *req_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) return MHD_NO;
        *req_cls = r;
        return first_call(s, conn, r, method, url);
    }
    if (r->refused) {                       /* reply already queued; not reached in practice */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->pending) {                       /* drain a small refused body, keep none of it */
        if (!*upload_data_size) {
            r->refused = 1;
            return reply_error(conn, r->pending, r->msg);
        }
        r->len += *upload_data_size;
        *upload_data_size = 0;
        return r->len <= DRAIN_MAX ? MHD_YES : MHD_NO;
    }
    if (r->running) {                       /* resumed: the handler's answer is ready */
        if (!r->answer) return MHD_NO;
        r->running = 0;
        struct MHD_Response *m = r->answer;
        r->answer = NULL;
        return queue(conn, r->answer_status, m);
    }
    if (__atomic_load_n(&s->stopping, __ATOMIC_ACQUIRE)) return MHD_NO;   /* set under slot_lock; read here without */
    if (*upload_data_size) {
        if (mono_now() - r->since > s->cfg.body_timeout_s) {
            /* a body that trickles in would hold its slot and memory for ever */
            logf_(s, "%s %.128s from \"%s\": body still arriving after %d s, connection closed", method, url,
                  r->peer, s->cfg.body_timeout_s);
            return MHD_NO;
        }
        if (!slot_take(s, r)) return MHD_YES;   /* suspended with its data unread until a slot is free */
        if (!append(s, r, upload_data, *upload_data_size)) {
            /* a body without Content-Length went past its limit (or memory ran out):
             * a reply cannot be queued mid-body, so the connection is dropped */
            logf_(s, "%s %.128s from \"%s\": body over %zu bytes, connection closed", method, url, r->peer,
                  r->max_body);
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return start_handler(s, conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state *r = *req_cls;
    if (!r) return;
    slot_give(cls, r);
    if (r->answer) MHD_destroy_response(r->answer);
    free(r);
    *req_cls = NULL;
}

const char *gf_https_query(const gf_http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *gf_https_header(const gf_http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* ---- start / stop ---------------------------------------------------------- */

static gf_status resolve(const char *host, int port, struct sockaddr_storage *sa, int *v6)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    if (!host) hints.ai_family = AF_INET;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) return gf_errorf(GF_ERR_ARG, "listen address \"%s\": %s", host ? host : "*", gai_strerror(rc));
    memcpy(sa, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return GF_OK;
}

gf_status gf_https_start(const gf_https_config *cfg, gf_https_server **out)
{
    *out = NULL;
    if (!cfg || !cfg->pki_dir || !cfg->handler) return gf_errorf(GF_ERR_ARG, "HTTPS server: pki_dir and handler are required");
    if (cfg->port < 0 || cfg->port > 65535 || cfg->threads < 0 || cfg->max_connections < 0 || cfg->idle_timeout_s < 0)
        return gf_errorf(GF_ERR_ARG, "HTTPS server: bad port, threads, max_connections or idle_timeout_s");
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS) || !MHD_is_feature_supported(MHD_FEATURE_AUTOSUPPRESS_SIGPIPE) ||
        !MHD_is_feature_supported(MHD_FEATURE_EPOLL))
        return gf_errorf(GF_ERR_ARG, "libmicrohttpd lacks TLS, SIGPIPE suppression or epoll");
    gf_https_server *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "HTTPS server: out of memory");
    s->cfg = *cfg;
    if (!s->cfg.max_body) s->cfg.max_body = GF_HTTPS_DEFAULT_MAX_BODY;
    if (!s->cfg.max_connections) s->cfg.max_connections = 512;
    if (s->cfg.per_ip_connections <= 0) s->cfg.per_ip_connections = 64;
    if (s->cfg.header_timeout_s <= 0) s->cfg.header_timeout_s = 10;
    if (!s->cfg.idle_timeout_s) s->cfg.idle_timeout_s = 120;
    if (s->cfg.body_timeout_s <= 0) s->cfg.body_timeout_s = 300;
    if (!s->cfg.threads) s->cfg.threads = 2;
    if (pthread_mutex_init(&s->crl_lock, NULL)) { free(s); return gf_errorf(GF_ERR_NOMEM, "HTTPS server: mutex"); }
    pthread_mutex_init(&s->slot_lock, NULL);
    pthread_cond_init(&s->handlers_done, NULL);
    pthread_cond_init(&s->job_ready, NULL);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_cond_init(&s->sweeper_wake, NULL);

    char crl_file[PATH_MAX], ca_file[PATH_MAX];
    struct sockaddr_storage sa;
    int v6 = 0;
    gf_status st = read_text(cfg->pki_dir, GF_PKI_COORD_KEY, &s->key_pem);
    if (!st) st = read_text(cfg->pki_dir, GF_PKI_COORD_CRT, &s->crt_pem);
    if (!st) st = read_text(cfg->pki_dir, GF_PKI_COORD_CA, &s->ca_pem);
    if (!st) {
        snprintf(crl_file, sizeof crl_file, "%s/%s", cfg->pki_dir, GF_PKI_COORD_CRL);
        snprintf(ca_file, sizeof ca_file, "%s/%s", cfg->pki_dir, GF_PKI_COORD_CA);
        st = gf_pki_crl_load(crl_file, ca_file, cfg->crl_floor_file, &s->crl);
    }
    if (!st) st = resolve(cfg->listen_host, cfg->port, &sa, &v6);
    if (!st && (st = gf_https_acceptor_open(&sa, v6, s->cfg.threads, &s->port, &s->acceptor)))
        st = gf_errorf(GF_ERR_IO, "cannot start HTTPS server on %s:%d: %s", cfg->listen_host ? cfg->listen_host : "*",
                       cfg->port, gf_last_error());
    if (st) { gf_https_stop(s); return st; }

    /* a few epoll threads serve every connection (no thread per connection:
     * a silent connection costs a socket, not a thread); handlers run on
     * threads of their own while their connection is suspended; the
     * acceptor hands each new connection to the least busy epoll thread */
    unsigned flags = MHD_USE_TLS | MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET |
                     MHD_USE_ITC | (cfg->log ? MHD_USE_ERROR_LOG : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->crt_pem},
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem},    /* makes the server request client certificates */
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)GF_PKI_PRIORITY},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, s},
        {MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.per_ip_connections, NULL},
        /* the handshake and the first headers; raised to idle_timeout_s once authenticated */
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.header_timeout_s, NULL},
        {s->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, s->cfg.threads, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    if (cfg->log) {   /* the logger must come first so option errors reach it */
        s->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
                                  MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    } else {
        s->mhd = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
                                  MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    }
    if (!s->mhd) {
        int e = errno;
        gf_https_stop(s);
        return gf_errorf(GF_ERR_IO, "cannot start HTTPS server on %s:%d: %s (credentials in %s/coordinator)",
                         cfg->listen_host ? cfg->listen_host : "*", cfg->port, e ? strerror(e) : "libmicrohttpd failed",
                         cfg->pki_dir);
    }
    if (pthread_create(&s->sweeper, NULL, sweeper_main, s)) {
        gf_https_stop(s);
        return gf_errorf(GF_ERR_NOMEM, "HTTPS server: cannot start the header-deadline thread");
    }
    s->sweeper_started = 1;
    if ((st = gf_https_acceptor_start(s->acceptor, s->mhd, cfg->log ? acceptor_log : NULL, s))) {
        gf_https_stop(s);
        return st;
    }
    *out = s;
    return GF_OK;
}

int gf_https_port(const gf_https_server *s)
{
    return s ? s->port : 0;
}

void gf_https_stop(gf_https_server *s)
{
    if (!s) return;
    gf_https_acceptor_stop(s->acceptor);      /* no new connections from here on */
    if (s->sweeper_started) {
        pthread_mutex_lock(&s->conn_lock);
        s->sweeper_stop = 1;
        pthread_cond_signal(&s->sweeper_wake);
        pthread_mutex_unlock(&s->conn_lock);
        pthread_join(s->sweeper, NULL);
    }
    if (s->mhd) {
        /* every suspended connection resumed before libmicrohttpd stops:
         * those waiting for a slot now, those in a handler when it returns */
        pthread_mutex_lock(&s->slot_lock);
        __atomic_store_n(&s->stopping, 1, __ATOMIC_RELEASE);
        while (s->wait_head) {
            request_state *w = s->wait_head;
            unwait(s, w);
            MHD_resume_connection(w->conn);
        }
        pthread_cond_broadcast(&s->job_ready);      /* idle handler threads end */
        while (s->handlers > 0 || s->deferred > 0) pthread_cond_wait(&s->handlers_done, &s->slot_lock);
        pthread_mutex_unlock(&s->slot_lock);
        MHD_stop_daemon(s->mhd);
    }
    gf_https_acceptor_close(s->acceptor);     /* after the last close notification counted in it */
    gf_pki_crl_free(s->crl);
    pthread_mutex_destroy(&s->crl_lock);
    pthread_mutex_destroy(&s->slot_lock);
    pthread_cond_destroy(&s->handlers_done);
    pthread_cond_destroy(&s->job_ready);
    free(s->spare);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_cond_destroy(&s->sweeper_wake);
    free(s->key_pem);
    free(s->crt_pem);
    free(s->ca_pem);
    free(s);
}
