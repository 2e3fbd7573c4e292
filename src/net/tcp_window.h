/* The receive buffer a TCP connection starts with, for a peer that knows
 * how large the bodies it is about to receive are (a site: the model
 * comes with every task). */
#ifndef GF_NET_TCP_WINDOW_H
#define GF_NET_TCP_WINDOW_H

#include <stddef.h>

/* Makes room in fd's receive buffer for `bytes` (call it before connect():
 * the connection's starting window is set from it; capped by the kernel at
 * half of net.ipv4.tcp_rmem's maximum) while leaving the kernel's receive
 * buffer autotuning on, and leaves the socket waking its reader for every
 * byte as before. 0 when applied, -1 (errno set) when the socket refused;
 * either way the connection works as before. Linux (4.18 on): a raised
 * SO_RCVLOWAT grows the buffer to hold that much without locking its
 * size, as SO_RCVBUF would (a locked buffer is capped at
 * net.core.rmem_max and no longer grows with a link's bandwidth-delay
 * product); the low-water mark is then set back to one byte. */
int gf_tcp_expect_receive(int fd, size_t bytes);

#endif
