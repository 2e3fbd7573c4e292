/* The HTTPS server's listening socket and its accept thread (internal to
 * src/net): each new connection goes to the event thread of libmicrohttpd's
 * pool that serves the fewest connections. libmicrohttpd's own accept lets
 * whichever event thread wakes first take it, so two sites could share one
 * thread (and one core) while the other thread idles; its pool places a
 * connection added from outside on thread fd % threads, so the acceptor
 * gives the socket a descriptor number that picks the thread it chose. */
#ifndef GF_NET_HTTPS_ACCEPT_H
#define GF_NET_HTTPS_ACCEPT_H

#include <sys/socket.h>
#include "core/error.h"

struct MHD_Daemon;
typedef struct gf_https_acceptor gf_https_acceptor;

/* Binds and listens on sa (IPv6 when v6), for a pool of `threads` event
 * threads; *port gets the bound port. GF_ERR_IO when it cannot bind. */
gf_status gf_https_acceptor_open(const struct sockaddr_storage *sa, int v6, int threads, int *port,
                                 gf_https_acceptor **out);

/* Starts accepting into mhd (started with MHD_USE_NO_LISTEN_SOCKET and
 * MHD_USE_ITC); log (may be NULL) gets accept errors, rate-limited. */
gf_status gf_https_acceptor_start(gf_https_acceptor *a, struct MHD_Daemon *mhd,
                                  void (*log)(void *ctx, const char *line), void *ctx);

/* A connection on descriptor fd opened (+1: the acceptor's own, when it
 * hands fd over) or closed (-1: from libmicrohttpd's notification): the
 * count of its event thread. */
void gf_https_acceptor_count(gf_https_acceptor *a, int fd, int delta);

/* Stops accepting (joins the thread) and closes the listening socket; the
 * counts stay usable, for the close notifications of the connections
 * libmicrohttpd still serves. NULL is fine. */
void gf_https_acceptor_stop(gf_https_acceptor *a);
/* Stops it if need be and frees it: once libmicrohttpd has stopped, so
 * that no notification counts in it any more. NULL is fine. */
void gf_https_acceptor_close(gf_https_acceptor *a);

#endif
