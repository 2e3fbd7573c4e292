/* An LD_PRELOAD shim for bench/round_storage.sh: every fsync and fdatasync
 * of the process waits SLOW_FLUSH_MS milliseconds (default 5) before the
 * real call, as a flush to network or replicated storage takes. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

static void flush_delay(void)
{
    const char *e = getenv("SLOW_FLUSH_MS");
    long ms = e ? atol(e) : 5;
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    if (ms > 0) nanosleep(&ts, NULL);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    flush_delay();
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    flush_delay();
    return real(fd);
}
