/* The receive buffer a connection starts with (net/tcp_window.h), on real
 * loopback TCP sockets: the buffer holds the expected body, the reader is
 * still woken for a single byte, and the kernel's autotuning is not locked
 * out (a later, larger expectation still grows the buffer, which it would
 * not after SO_RCVBUF). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "check.h"
#include "net/tcp_window.h"

static int sockopt(int fd, int opt)
{
    int v = -1;
    socklen_t len = sizeof v;
    return getsockopt(fd, SOL_SOCKET, opt, &v, &len) ? -1 : v;
}

/* half of net.ipv4.tcp_rmem's maximum: the most the kernel grants a hint */
static long rmem_cap(void)
{
    long lo = 0, def = 0, max = 0;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_rmem", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &lo, &def, &max) != 3) max = 0;
        fclose(f);
    }
    return max / 2;
}

/* A connected loopback pair: *reader gets the hint before it connects,
 * *writer is the accepted end. 0 on success. */
static int pair(size_t hint, int *reader, int *writer)
{
    int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int ok = l >= 0 && c >= 0 && !bind(l, (struct sockaddr *)&a, sizeof a) && !listen(l, 1) &&
             !getsockname(l, (struct sockaddr *)&a, &al);
    if (ok) ok = gf_tcp_expect_receive(c, hint) == 0;
    ok = ok && !connect(c, (struct sockaddr *)&a, sizeof a);
    int s = ok ? accept(l, NULL, NULL) : -1;
    if (l >= 0) close(l);
    if (s < 0) {
        if (c >= 0) close(c);
        return -1;
    }
    *reader = c;
    *writer = s;
    return ok ? 0 : -1;
}

int main(void)
{
    long cap = rmem_cap();
    CHECK_MSG(cap >= (1 << 20), "net.ipv4.tcp_rmem's maximum is below 2 MiB (%ld)", cap * 2);
    const size_t body = 1 << 20;

    int r0, w0, r, w;
    CHECK(pair(0, &r0, &w0) == 0);                       /* 0: nothing asked, nothing changed */
    int plain = sockopt(r0, SO_RCVBUF);
    CHECK(plain > 0 && plain < (int)body);

    CHECK(pair(body, &r, &w) == 0);
    int grown = sockopt(r, SO_RCVBUF);
    CHECK_MSG(grown >= (int)body && grown > plain, "receive buffer %d for a %zu-byte body (default %d)",
              grown, body, plain);
    CHECK(sockopt(r, SO_RCVLOWAT) == 1);                    /* back to one byte */

    /* one byte wakes the reader at once */
    CHECK(send(w, "x", 1, 0) == 1);
    struct pollfd p = { r, POLLIN, 0 };
    CHECK_MSG(poll(&p, 1, 2000) == 1 && (p.revents & POLLIN), "a single byte did not wake the reader");
    char got[4];
    CHECK(recv(r, got, sizeof got, 0) == 1 && got[0] == 'x');

    /* the whole body arrives, byte for byte */
    static char out[1 << 20], in[1 << 20];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (char)(i * 2654435761u >> 24);
    size_t sent = 0, recvd = 0;
    while (recvd < sizeof in) {
        if (sent < sizeof out) {
            ssize_t n = send(w, out + sent, sizeof out - sent, MSG_DONTWAIT);
            if (n > 0) sent += (size_t)n;
        }
        ssize_t n = recv(r, in + recvd, sizeof in - recvd, sent < sizeof out ? MSG_DONTWAIT : 0);
        if (n > 0) recvd += (size_t)n;
        else if (n == 0) break;
    }
    CHECK(recvd == sizeof in && !memcmp(in, out, sizeof in));

    /* not locked: a larger expectation still grows it (SO_RCVBUF would lock it) */
    size_t more = (size_t)(cap < (8 << 20) ? cap : (8 << 20));
    CHECK(gf_tcp_expect_receive(r, more) == 0);
    CHECK_MSG(sockopt(r, SO_RCVBUF) > grown, "the buffer did not grow past %d for %zu bytes", grown, more);
    CHECK(sockopt(r, SO_RCVLOWAT) == 1);

    /* not a socket: refused, errno set */
    CHECK(gf_tcp_expect_receive(-1, body) == -1);
    CHECK(gf_tcp_expect_receive(r, 0) == 0);
    close(r0); close(w0); close(r); close(w);
    return check_summary();
}
