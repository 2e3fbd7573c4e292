/* The coordinator's HTTPS server: libmicrohttpd over GnuTLS, TLS 1.3 only,
 * with the coordinator's identity from a provisioning folder. A client
 * certificate, when the client presents one, is checked on EVERY request
 * before the handler sees it (chain to the federation CA + clientAuth via
 * gf_pki_peer_name, then the CRL, re-read when `gf provision --revoke`
 * rewrites it); requests that fail the check get 403 with a JSON body
 * {"error": "..."}. A client without a certificate reaches the handler with
 * an empty peer name: the handler must then authenticate it otherwise (API
 * tokens) or refuse it.
 *
 * Nothing a client sends is read before it is admitted: once the headers
 * are in, the admission callback (cfg.admit) says whether the request may
 * send a body, how big, and whether it is authenticated; a refusal is
 * answered at once (the connection then closes without reading the body).
 * Bodies over their limit get 413. Connections are served by a few epoll
 * threads; each admitted, complete request runs its handler on a thread of
 * its own (the connection is suspended meanwhile), so a long-poll holds no
 * thread that serves other connections. A connection gets header_timeout_s
 * to finish its TLS handshake and first request; an authenticated one is
 * then allowed idle_timeout_s. Every answer carries the security headers
 * (Content-Security-Policy, X-Content-Type-Options, X-Frame-Options,
 * Referrer-Policy, Cache-Control: no-store).
 * The server owns HTTP framing, body buffering and error replies; the
 * handler owns what a request means. */
#ifndef GF_NET_HTTPS_SERVER_H
#define GF_NET_HTTPS_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"
#include "net/pki.h"

typedef struct gf_https_server gf_https_server;

typedef struct {
    const char    *method;     /* "GET", "POST", ... */
    const char    *path;       /* percent-decoded, without the query string */
    const char    *peer;       /* verified, unrevoked certificate name: "hospital-a";
                                  "" when the client presented no certificate */
    const uint8_t *body;       /* the whole request body (NULL when empty; always NULL for admit) */
    size_t         body_len;   /* <= the limit its admission set */
    void          *conn;       /* for gf_https_query / gf_https_header */
    void          *state;      /* the server's own, for gf_https_defer */
} gf_http_request;

/* What the handler answers. The server zero-fills it before the call.
 * Body ownership: with `free_body` NULL the server copies `body` before the
 * handler returns control (so `body` may point at the stack or at static
 * data); with `free_body` set the server takes the buffer without copying
 * and calls free_body(body) once it has been sent (also on failure).
 * A second part may follow an owned body without a copy (a model shared
 * by many answers): `tail`, `tail_len`, and `free_tail`, called once it
 * has been sent (also on failure); not with a file.
 * A file is sent from an open descriptor instead (streamed from disk, never
 * read into memory): `has_fd` set, `fd` and `fd_offset`, `len` bytes; the
 * server closes fd (also on failure). */
typedef struct {
    int         status;        /* HTTP status; 0 with a body means 200 */
    const char *content_type;  /* NULL: "application/json" */
    const void *body;
    size_t      len;
    void      (*free_body)(void *body);
    const void *tail;          /* sent after body (free_body set), then free_tail(tail) */
    size_t      tail_len;
    void      (*free_tail)(void *tail);
    int         has_fd;        /* send len bytes of fd from fd_offset */
    int         fd;
    uint64_t    fd_offset;
} gf_http_response;

/* What a request may do, decided from its headers alone (no body read). */
typedef struct {
    int    status;          /* 0: admitted; else the refusal's HTTP status (401, 403, ...) */
    char   msg[256];        /* the refusal's message */
    size_t max_body;        /* the largest body it may send (0: none) */
    int    large;           /* its body takes one of cfg.body_slots (model-sized uploads) */
    int    authenticated;   /* a known principal: its connection gets idle_timeout_s */
} gf_http_admission;

/* Called on the first call of each request, after the certificate check and
 * before any body byte is accepted; fills *a (zero-filled by the server).
 * Runs on the server's event threads: it must not block. */
typedef void (*gf_http_admit)(void *ctx, const gf_http_request *req, gf_http_admission *a);

/* Called once per authenticated, complete request. Return GF_OK with `resp`
 * filled in, or an error status with a message (gf_errorf): the server then
 * answers {"error": message} with 400 (GF_ERR_ARG/FORMAT/MISMATCH/NUMERIC)
 * or 500 (GF_ERR_IO/NOMEM), unless the handler set resp->status itself; a
 * buffer handed over with free_body is freed either way. Handlers run on the
 * server's threads, several at a time. */
typedef gf_status (*gf_http_handler)(void *ctx, const gf_http_request *req, gf_http_response *resp);

/* Optional log line: refused peers, body limits, libmicrohttpd's errors
 * (paths in them cut to 128 bytes). May come from anyone: do not write each
 * to durable storage. */
typedef void (*gf_http_log)(void *ctx, const char *line);

typedef struct {
    const char     *pki_dir;         /* provisioning folder (uses coordinator/ only) */
    const char     *crl_floor_file;  /* the highest CRL number in force is kept here, so an
                                        older CRL is refused after a restart too; NULL: none */
    const char     *listen_host;     /* numeric address or name; NULL: all IPv4 interfaces */
    int             port;            /* 0: ephemeral, see gf_https_port */
    size_t          max_body;        /* largest request body accepted; 0: 64 MiB */
    int             threads;         /* epoll threads serving connections; 0: 2. Handlers
                                        run on threads of their own and may block (long-poll) */
    int             max_connections; /* 0: 512 */
    int             per_ip_connections; /* connections from one address at once; 0: 64 */
    int             header_timeout_s;/* a new connection's TLS handshake and first request's
                                        headers must come within this (idle) time; 0: 10 */
    int             idle_timeout_s;  /* idle keep-alive connections of authenticated
                                        clients are closed; 0: 120 */
    int             body_slots;      /* "large" request bodies held in memory at once; 0: no
                                        bound. Others wait (their bytes stay in the socket,
                                        no thread held) until a handler returns */
    int             body_timeout_s;  /* a request's body must be in within this many seconds
                                        of its headers, or the connection is closed (a
                                        trickling client would keep its slot); 0: 300 */
    gf_http_admit   admit;           /* NULL: every request admitted, authenticated, with
                                        max_body, large when body_slots is set */
    gf_http_handler handler;
    void           *ctx;             /* passed to handler and log */
    gf_http_log     log;             /* may be NULL */
} gf_https_config;

#define GF_HTTPS_DEFAULT_MAX_BODY ((size_t)64 << 20)

/* Loads coordinator/{coordinator.key,coordinator.crt,ca.crt,crl.pem} from
 * pki_dir, binds and starts serving. GF_ERR_IO when the address cannot be
 * bound; GF_ERR_FORMAT/IO for a missing or bad credential file. */
gf_status gf_https_start(const gf_https_config *cfg, gf_https_server **out);

/* The bound port (the ephemeral one when cfg->port was 0). */
int gf_https_port(const gf_https_server *s);

/* Value of query parameter `key` / request header `name` (case-insensitive),
 * or NULL. Valid only during the handler call. */
const char *gf_https_query(const gf_http_request *req, const char *key);
const char *gf_https_header(const gf_http_request *req, const char *name);

/* A request answered later: a handler that calls gf_https_defer returns
 * without filling resp (its status is then ignored), and the request is
 * answered by one call of gf_https_answer, from any thread, whenever its
 * owner is ready (a long-poll answered when an event comes). Meanwhile its
 * connection is suspended and no thread waits for it. The request's body
 * and its query values are gone once the handler returns: copy what the
 * answer needs. gf_https_defer is called by the handler, on its own
 * thread, before it returns. gf_https_stop waits until every deferred
 * request is answered. */
typedef struct gf_https_later gf_https_later;
gf_https_later *gf_https_defer(const gf_http_request *req);

/* The deferred request's answer, as a handler would give it (resp is taken
 * over as in a handler's return; st != GF_OK answers the error). */
void gf_https_answer(gf_https_later *later, gf_status st, gf_http_response *resp);

/* Closes the listening socket and every connection, waits for running
 * handlers to return and deferred requests to be answered (wake any
 * long-polls first), frees everything. */
void gf_https_stop(gf_https_server *s);

#endif
