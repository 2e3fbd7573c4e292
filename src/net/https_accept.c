/* The HTTPS server's listening socket and accept thread (see https_accept.h). */
#include "net/https_accept.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <microhttpd.h>

#define MAX_THREADS 64

struct gf_https_acceptor {
    int                listen_fd, stop_fd;   /* stop_fd: an eventfd that ends the thread */
    int                threads;
    struct MHD_Daemon *mhd;
    void             (*log)(void *ctx, const char *line);
    void              *ctx;
    pthread_t          thread;
    int                started;
    pthread_mutex_t    lock;                 /* open below */
    int                open[MAX_THREADS];    /* (threads) connections each event thread serves */
    unsigned           next;                 /* where the search for the least loaded starts */
    time_t             logged;               /* last accept error logged (one a second at most) */
};

gf_status gf_https_acceptor_open(const struct sockaddr_storage *sa, int v6, int threads, int *port,
                                 gf_https_acceptor **out)
{
    *out = NULL;
    gf_https_acceptor *a = calloc(1, sizeof *a);
    if (!a) return gf_errorf(GF_ERR_NOMEM, "HTTPS server: out of memory");
    a->threads = threads < 1 ? 1 : threads > MAX_THREADS ? MAX_THREADS : threads;
    a->stop_fd = -1;
    pthread_mutex_init(&a->lock, NULL);
    socklen_t len = v6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int on = 1;
    a->listen_fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (a->listen_fd < 0 || setsockopt(a->listen_fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) ||
        (v6 && setsockopt(a->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on)) ||
        bind(a->listen_fd, (const struct sockaddr *)sa, len) || listen(a->listen_fd, SOMAXCONN) ||
        (a->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0) {
        int e = errno;
        gf_https_acceptor_close(a);
        return gf_errorf(GF_ERR_IO, "%s", strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    *port = 0;
    if (!getsockname(a->listen_fd, (struct sockaddr *)&bound, &blen))
        *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *out = a;
    return GF_OK;
}

void gf_https_acceptor_count(gf_https_acceptor *a, int fd, int delta)
{
    if (!a || fd < 0) return;
    pthread_mutex_lock(&a->lock);
    a->open[fd % a->threads] += delta;
    pthread_mutex_unlock(&a->lock);
}

/* The event thread with the fewest connections (ties: in turn). */
static int least_loaded(gf_https_acceptor *a)
{
    pthread_mutex_lock(&a->lock);
    int best = (int)(a->next++ % (unsigned)a->threads);
    for (int i = 0; i < a->threads; i++) {
        int w = (int)((a->next + (unsigned)i) % (unsigned)a->threads);
        if (a->open[w] < a->open[best]) best = w;
    }
    pthread_mutex_unlock(&a->lock);
    return best;
}

/* The socket fd under a descriptor number that is `want` modulo n (fd
 * itself when it is; fd closed otherwise), or fd when no such number is
 * free nearby. */
static int renumber(int fd, int n, int want)
{
    int t = fd;
    for (int tries = 0; tries < 64 && t % n != want; tries++) {
        t += (want - t % n + n) % n;                  /* the next number at or after t that is `want` mod n */
        int d = fcntl(fd, F_DUPFD_CLOEXEC, t);        /* the lowest free one at or after it */
        if (d < 0) return fd;
        if (d % n == want) {
            close(fd);
            return d;
        }
        close(d);
        t = d;
    }
    return fd;
}

static void log_error(gf_https_acceptor *a, const char *what, int e)
{
    time_t now = time(NULL);
    if (!a->log || now == a->logged) return;
    a->logged = now;
    char line[160];
    snprintf(line, sizeof line, "accept: %s: %s", what, strerror(e));
    a->log(a->ctx, line);
}

static void *accept_main(void *arg)
{
    gf_https_acceptor *a = arg;
    struct pollfd p[2] = { { a->listen_fd, POLLIN, 0 }, { a->stop_fd, POLLIN, 0 } };
    for (;;) {
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        for (;;) {
            struct sockaddr_storage peer;
            socklen_t len = sizeof peer;
            int fd = accept4(a->listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) {
                int e = errno;
                if (e == EAGAIN || e == EWOULDBLOCK) break;
                if (e == EINTR || e == ECONNABORTED) continue;
                log_error(a, "cannot accept a connection", e);   /* out of descriptors or memory: wait a bit */
                nanosleep(&(struct timespec){ 0, 50 * 1000 * 1000 }, NULL);
                break;
            }
            if (a->threads > 1) fd = renumber(fd, a->threads, least_loaded(a));
            /* counted now, so that a burst of connections is spread too; libmicrohttpd
             * applies its connection limits and closes fd when it refuses it */
            gf_https_acceptor_count(a, fd, +1);
            if (MHD_add_connection(a->mhd, fd, (const struct sockaddr *)&peer, len) != MHD_YES)
                gf_https_acceptor_count(a, fd, -1);
        }
    }
    return NULL;
}

gf_status gf_https_acceptor_start(gf_https_acceptor *a, struct MHD_Daemon *mhd,
                                  void (*log)(void *ctx, const char *line), void *ctx)
{
    a->mhd = mhd, a->log = log, a->ctx = ctx;
    if (pthread_create(&a->thread, NULL, accept_main, a)) return gf_errorf(GF_ERR_NOMEM, "cannot start the accept thread");
    a->started = 1;
    return GF_OK;
}

void gf_https_acceptor_stop(gf_https_acceptor *a)
{
    if (!a) return;
    if (a->started) {
        uint64_t one = 1;
        if (write(a->stop_fd, &one, sizeof one) != sizeof one) {}   /* an eventfd write cannot fail here */
        pthread_join(a->thread, NULL);
        a->started = 0;
    }
    if (a->listen_fd >= 0) close(a->listen_fd);
    if (a->stop_fd >= 0) close(a->stop_fd);
    a->listen_fd = a->stop_fd = -1;
}

void gf_https_acceptor_close(gf_https_acceptor *a)
{
    if (!a) return;
    gf_https_acceptor_stop(a);
    pthread_mutex_destroy(&a->lock);
    free(a);
}
