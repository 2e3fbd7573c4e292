/* The receive buffer a TCP connection starts with (see tcp_window.h).
 *
 * Why: Linux starts each connection's receive buffer at net.ipv4.tcp_rmem's
 * default (128 KiB on Debian) and grows it as the reader keeps up. A site
 * receives a model-sized answer every round, and the buffer it connects
 * with shapes how the coordinator sends them for the connection's whole
 * life: measured on loopback with BBR (which paces each connection at the
 * delivery rate it has seen), connections opened with the default settled
 * at a pacing rate of about 30 Gbit/s and the coordinator armed some 30
 * pacing timers a round; opened with room for the model, they paced at 50
 * Gbit/s to 1.4 Tbit/s, with a tenth of the timers, and the coordinator
 * spent 0.8 ms less CPU a round (docs/benchmarks.md, "Eighth pass"). With
 * CUBIC, which does not pace, the gain was 0.1 to 0.3 ms. The same hint
 * set on a connection already open changed nothing. */
#include "net/tcp_window.h"

#include <limits.h>
#include <sys/socket.h>

int gf_tcp_expect_receive(int fd, size_t bytes)
{
    if (bytes == 0) return 0;
    int want = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes, one = 1;
    int rc = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want);
    /* always back to one byte: a reader must not wait for more than is sent */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one)) rc = -1;
    return rc ? -1 : 0;
}
