/* A site's (or the CLI's) HTTPS client to the coordinator: libcurl with
 * GnuTLS, TLS 1.3 only, the site's certificate from its kit, the server
 * verified against the kit's CA and address. One curl handle per client,
 * reused, so the connection is kept alive between requests. Not
 * thread-safe: one client per thread. */
#ifndef GF_NET_HTTPS_CLIENT_H
#define GF_NET_HTTPS_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

typedef struct gf_https_client gf_https_client;

#define GF_HTTPS_DEFAULT_MAX_RESPONSE ((size_t)256 << 20)

/* Opens a client from a site kit (site.key, site.crt, ca.crt and, unless
 * base_url is given, coordinator.url). base_url ("https://HOST:PORT/")
 * overrides the kit's URL; the server's certificate must still name HOST.
 * Nothing is sent until the first request. */
gf_status gf_https_client_open(const char *kit_dir, const char *base_url, gf_https_client **out);

/* A client without a certificate that sends "Authorization: Bearer TOKEN"
 * with every request (tenant members, operators with a token); the server
 * is verified against ca_file (the federation CA) and base_url's host. */
gf_status gf_https_client_open_token(const char *ca_file, const char *base_url, const char *token,
                                     gf_https_client **out);

/* Seconds allowed to connect (default 10) and for a whole request (default
 * 300; a long-poll must fit in it; 0: no limit). */
void gf_https_client_set_timeouts(gf_https_client *c, long connect_s, long total_s);

/* Answers of about `bytes` are coming (a site's tasks carry the model):
 * each connection opened from now on starts with room for one in its
 * receive buffer (tcp_window.h). Only grows; a hint, never an error. A
 * connection already open keeps its buffer: the kernel sets a connection's
 * starting window and its pacing from the buffer it connects with. */
void gf_https_client_expect_response(gf_https_client *c, size_t bytes);

/* Largest response body accepted (default GF_HTTPS_DEFAULT_MAX_RESPONSE). */
void gf_https_client_set_max_response(gf_https_client *c, size_t max);

/* One request: METHOD (GET, POST, PUT, DELETE, ...) to base URL + path
 * (a leading '/' is optional), with body[len] as an
 * application/octet-stream body when len > 0 or the method is POST/PUT.
 * On GF_OK *status holds the HTTP status (any, 4xx/5xx included) and
 * *resp_body a malloc'd, NUL-terminated copy of the response body (free it),
 * *resp_len its length without the NUL. GF_ERR_IO for connection refused,
 * TLS failures (including a server certificate that does not verify) and
 * timeouts, with curl's message; GF_ERR_FORMAT when the response is larger
 * than the limit. */
gf_status gf_https_request(gf_https_client *c, const char *method, const char *path, const void *body, size_t len,
                           int *status, char **resp_body, size_t *resp_len);

/* Number of TCP connections this client has opened so far. */
long gf_https_client_connections(const gf_https_client *c);

void gf_https_client_close(gf_https_client *c);

#endif
