/* The coordinator's HTTPS server on libmicrohttpd (see https_server.h):
 * daemon set-up from the provisioning folder, per-request identity and
 * revocation checks, bounded body buffering, and JSON error replies. */
#include "net/https_server.h"

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
    gf_https_config    cfg;
    int                port;
    char              *key_pem, *crt_pem, *ca_pem;  /* libmicrohttpd keeps pointers to these */
    gf_pki_crl        *crl;
    pthread_mutex_t    crl_lock;                    /* serialises refresh + check */
    pthread_mutex_t    slot_lock;                   /* body slots in use (cfg.body_slots) */
    pthread_cond_t     slot_free;
    int                slots_used;
};

/* One request in flight (libmicrohttpd's per-request context). */
typedef struct {
    int      refused;                       /* a reply was queued before the body */
    unsigned pending;                       /* refusal status to send once the body is drained */
    char     msg[512];                      /* its message */
    char     peer[GF_PKI_NAME_MAX + 1];
    uint8_t *body;
    size_t   len, cap;
    int      slot;                          /* holds one of cfg.body_slots */
    double   body_since;                    /* monotonic seconds of its first body byte (0: none yet) */
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

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct MHD_Response *r)
{
    if (!r) return MHD_NO;
    enum MHD_Result ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (ok == MHD_YES) ok = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
    size_t len = 0;
    char *body = error_json(msg, &len);
    if (!body) return MHD_NO;   /* out of memory: drop the connection */
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) { free(body); return MHD_NO; }
    return queue(conn, status, "application/json", r);
}

/* Verified, unrevoked site name of the connection's TLS session. */
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
    gf_status st = gf_pki_peer_name(tls, name, size);
    if (st) return st;
    if (!strcmp(name, GF_PKI_COORDINATOR))   /* serverAuth only: verified above as a server's */
        return gf_errorf(GF_ERR_MISMATCH, "the coordinator's certificate is not a site's");
    pthread_mutex_lock(&s->crl_lock);
    /* a CRL that cannot be re-read leaves the previous list in force */
    if (gf_pki_crl_refresh(s->crl) != GF_OK) logf_(s, "revocation list not re-read: %s", gf_last_error());
    st = gf_pki_crl_check(s->crl, tls);
    pthread_mutex_unlock(&s->crl_lock);
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

static enum MHD_Result first_call(gf_https_server *s, struct MHD_Connection *conn, request_state *r,
                                  const char *method, const char *url)
{
    const char *cl;
    unsigned long long n = content_length(conn, &cl);
    if (authenticate(s, conn, r->peer, sizeof r->peer) != GF_OK) {
        snprintf(r->msg, sizeof r->msg, "client certificate refused: %s", gf_last_error());
        logf_(s, "403 %s %s: %s", method, url, r->msg);
        r->peer[0] = 0;
        return refuse(conn, r, MHD_HTTP_FORBIDDEN, n);
    }
    if (n > s->cfg.max_body) {
        snprintf(r->msg, sizeof r->msg, "request body of %s bytes is larger than the limit of %zu bytes", cl,
                 s->cfg.max_body);
        logf_(s, "413 %s %s from \"%s\": %s", method, url, r->peer, r->msg);
        return refuse(conn, r, MHD_HTTP_CONTENT_TOO_LARGE, n);
    }
    if (n > 0 && !(r->body = malloc(n))) return MHD_NO;   /* the whole body, allocated once */
    r->cap = n;
    return MHD_YES;
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Bodies in memory are bounded by cfg.body_slots: a request takes a slot
 * when its first body bytes arrive (waiting, and so leaving the rest in the
 * socket, while all are taken) and gives it back once its handler returns. */
static void slot_take(gf_https_server *s, request_state *r)
{
    if (!s->cfg.body_slots || r->slot) return;
    pthread_mutex_lock(&s->slot_lock);
    while (s->slots_used >= s->cfg.body_slots) pthread_cond_wait(&s->slot_free, &s->slot_lock);
    s->slots_used++;
    pthread_mutex_unlock(&s->slot_lock);
    r->slot = 1;
}

static void slot_give(gf_https_server *s, request_state *r)
{
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    if (!r->slot) return;
    pthread_mutex_lock(&s->slot_lock);
    s->slots_used--;
    pthread_cond_signal(&s->slot_free);
    pthread_mutex_unlock(&s->slot_lock);
    r->slot = 0;
}

/* Appends a piece of the body; 0 when it would pass max_body or memory ran out. */
static int append(gf_https_server *s, request_state *r, const char *data, size_t n)
{
    if (n > s->cfg.max_body - r->len) return 0;
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : (size_t)64 << 10;
        if (cap > s->cfg.max_body) cap = s->cfg.max_body;
        while (cap < r->len + n) cap = cap > s->cfg.max_body / 2 ? s->cfg.max_body : cap * 2;
        uint8_t *p = realloc(r->body, cap);
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

static enum MHD_Result call_handler(gf_https_server *s, struct MHD_Connection *conn, request_state *r,
                                    const char *method, const char *url)
{
    gf_http_request req = {.method = method, .path = url, .peer = r->peer, .body = r->len ? r->body : NULL,
                           .body_len = r->len, .conn = conn};
    gf_http_response resp = {0};
    gf_status st = s->cfg.handler(s->cfg.ctx, &req, &resp);
    slot_give(s, r);
    void *owned = resp.free_body ? (void *)resp.body : NULL;
    if (st != GF_OK) {
        if (owned) resp.free_body(owned);
        unsigned code = resp.status >= 400 && resp.status <= 599 ? (unsigned)resp.status : status_of(st);
        return reply_error(conn, code, gf_last_error());
    }
    if (resp.status < 100 || resp.status > 599) {
        if (resp.status != 0) {
            if (owned) resp.free_body(owned);
            return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "handler set an invalid HTTP status");
        }
        resp.status = MHD_HTTP_OK;
    }
    struct MHD_Response *m;
    if (owned) {
        m = MHD_create_response_from_buffer_with_free_callback(resp.len, owned, resp.free_body);
        if (!m) resp.free_body(owned);
    } else {
        m = MHD_create_response_from_buffer(resp.len, (void *)(resp.len ? resp.body : ""), MHD_RESPMEM_MUST_COPY);
    }
    return queue(conn, (unsigned)resp.status, resp.content_type ? resp.content_type : "application/json", m);
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
    if (*upload_data_size) {
        slot_take(s, r);
        double now = mono_now();
        if (r->body_since == 0) r->body_since = now;
        else if (now - r->body_since > s->cfg.body_timeout_s) {
            /* a body that trickles in would hold its slot for ever */
            logf_(s, "%s %s from \"%s\": body still arriving after %d s, connection closed", method, url, r->peer,
                  s->cfg.body_timeout_s);
            return MHD_NO;
        }
        if (!append(s, r, upload_data, *upload_data_size)) {
            /* a body without Content-Length went past max_body (or memory ran out):
             * a reply cannot be queued mid-body, so the connection is dropped */
            logf_(s, "%s %s from \"%s\": body over %zu bytes, connection closed", method, url, r->peer,
                  s->cfg.max_body);
            return MHD_NO;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    return call_handler(s, conn, r, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request_state *r = *req_cls;
    if (!r) return;
    slot_give(cls, r);
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
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS) || !MHD_is_feature_supported(MHD_FEATURE_AUTOSUPPRESS_SIGPIPE))
        return gf_errorf(GF_ERR_ARG, "libmicrohttpd lacks TLS or SIGPIPE suppression");
    gf_https_server *s = calloc(1, sizeof *s);
    if (!s) return gf_errorf(GF_ERR_NOMEM, "HTTPS server: out of memory");
    s->cfg = *cfg;
    if (!s->cfg.max_body) s->cfg.max_body = GF_HTTPS_DEFAULT_MAX_BODY;
    if (!s->cfg.max_connections) s->cfg.max_connections = 256;
    if (!s->cfg.idle_timeout_s) s->cfg.idle_timeout_s = 120;
    if (s->cfg.body_timeout_s <= 0) s->cfg.body_timeout_s = 300;
    if (pthread_mutex_init(&s->crl_lock, NULL)) { free(s); return gf_errorf(GF_ERR_NOMEM, "HTTPS server: mutex"); }
    pthread_mutex_init(&s->slot_lock, NULL);
    pthread_cond_init(&s->slot_free, NULL);

    char crl_file[PATH_MAX], ca_file[PATH_MAX];
    struct sockaddr_storage sa;
    int v6 = 0;
    gf_status st = read_text(cfg->pki_dir, GF_PKI_COORD_KEY, &s->key_pem);
    if (!st) st = read_text(cfg->pki_dir, GF_PKI_COORD_CRT, &s->crt_pem);
    if (!st) st = read_text(cfg->pki_dir, GF_PKI_COORD_CA, &s->ca_pem);
    if (!st) {
        snprintf(crl_file, sizeof crl_file, "%s/%s", cfg->pki_dir, GF_PKI_COORD_CRL);
        snprintf(ca_file, sizeof ca_file, "%s/%s", cfg->pki_dir, GF_PKI_COORD_CA);
        st = gf_pki_crl_load(crl_file, ca_file, &s->crl);
    }
    if (!st) st = resolve(cfg->listen_host, cfg->port, &sa, &v6);
    if (st) { gf_https_stop(s); return st; }

    unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | (v6 ? MHD_USE_IPv6 : 0) |
                     (cfg->threads ? 0 : MHD_USE_THREAD_PER_CONNECTION) | (cfg->log ? MHD_USE_ERROR_LOG : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->key_pem},
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->crt_pem},
        {MHD_OPTION_HTTPS_MEM_TRUST, 0, s->ca_pem},    /* makes the server request client certificates */
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)GF_PKI_PRIORITY},
        {MHD_OPTION_SOCK_ADDR, 0, &sa},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
        {MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s, NULL},
        {cfg->threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, cfg->threads, NULL},
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
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di && di->port ? di->port : cfg->port;
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
    if (s->mhd) MHD_stop_daemon(s->mhd);
    gf_pki_crl_free(s->crl);
    pthread_mutex_destroy(&s->crl_lock);
    pthread_mutex_destroy(&s->slot_lock);
    pthread_cond_destroy(&s->slot_free);
    free(s->key_pem);
    free(s->crt_pem);
    free(s->ca_pem);
    free(s);
}
