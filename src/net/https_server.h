/* The coordinator's HTTPS server: libmicrohttpd over GnuTLS, TLS 1.3 only,
 * with the coordinator's identity from a provisioning folder. A client
 * certificate, when the client presents one, is checked on EVERY request
 * before the handler sees it (chain to the federation CA + clientAuth via
 * gf_pki_peer_name, then the CRL, re-read when `gf provision --revoke`
 * rewrites it); requests that fail the check get 403 with a JSON body
 * {"error": "..."}. A client without a certificate reaches the handler with
 * an empty peer name: the handler must then authenticate it otherwise (API
 * tokens) or refuse it. Bodies over max_body get 413.
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
    const uint8_t *body;       /* the whole request body (NULL when empty) */
    size_t         body_len;   /* <= gf_https_config.max_body */
    void          *conn;       /* for gf_https_query / gf_https_header */
} gf_http_request;

/* What the handler answers. The server zero-fills it before the call.
 * Body ownership: with `free_body` NULL the server copies `body` before the
 * handler returns control (so `body` may point at the stack or at static
 * data); with `free_body` set the server takes the buffer without copying
 * and calls free_body(body) once it has been sent (also on failure). */
typedef struct {
    int         status;        /* HTTP status; 0 with a body means 200 */
    const char *content_type;  /* NULL: "application/json" */
    const void *body;
    size_t      len;
    void      (*free_body)(void *body);
} gf_http_response;

/* Called once per authenticated, complete request. Return GF_OK with `resp`
 * filled in, or an error status with a message (gf_errorf): the server then
 * answers {"error": message} with 400 (GF_ERR_ARG/FORMAT/MISMATCH/NUMERIC)
 * or 500 (GF_ERR_IO/NOMEM), unless the handler set resp->status itself; a
 * buffer handed over with free_body is freed either way. Handlers run on the
 * server's threads, several at a time. */
typedef gf_status (*gf_http_handler)(void *ctx, const gf_http_request *req, gf_http_response *resp);

/* Optional audit line: refused peers, body limits, libmicrohttpd's errors. */
typedef void (*gf_http_log)(void *ctx, const char *line);

typedef struct {
    const char     *pki_dir;         /* provisioning folder (uses coordinator/ only) */
    const char     *listen_host;     /* numeric address or name; NULL: all IPv4 interfaces */
    int             port;            /* 0: ephemeral, see gf_https_port */
    size_t          max_body;        /* largest request body accepted; 0: 64 MiB */
    int             threads;         /* 0: one thread per connection, so a handler may
                                        block (long-poll) without stalling others;
                                        N > 0: N polling threads, handlers must not block */
    int             max_connections; /* 0: 256 */
    int             idle_timeout_s;  /* idle keep-alive connections are closed; 0: 120 */
    int             body_slots;      /* request bodies held in memory at once; 0: no bound.
                                        Others wait (their bytes stay in the socket) until
                                        a handler returns. Only with threads == 0. */
    int             body_timeout_s;  /* a body must arrive within this many seconds of its
                                        first byte, or the connection is closed (a trickling
                                        client would keep its slot); 0: 300 */
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

/* Closes the listening socket and every connection, waits for running
 * handlers to return (wake any long-polls first), frees everything. */
void gf_https_stop(gf_https_server *s);

#endif
