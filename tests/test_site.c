/* The site agent's reconnect jitter: after a coordinator restart every site
 * retries at once, so the pauses must be drawn from a per-process random
 * source. Two forked processes (as two sites started from one parent, or
 * one site restarted) each draw a sequence: the sequences differ, and every
 * pause lies in [backoff/2, backoff]. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "fed/site.h"

#define DRAWS 16

/* Draws DRAWS pauses of backoff 4 s in a child process; *out gets them. */
static int draw_in_child(double *out)
{
    int fd[2];
    if (pipe(fd)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        double v[DRAWS];
        for (int i = 0; i < DRAWS; i++) v[i] = gf_site_backoff_jitter(4.0);
        ssize_t n = write(fd[1], v, sizeof v);
        _exit(n == (ssize_t)sizeof v ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (got < sizeof(double) * DRAWS) {
        ssize_t n = read(fd[0], (char *)out + got, sizeof(double) * DRAWS - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return got == sizeof(double) * DRAWS && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_jitter_per_process(void)
{
    double a[DRAWS], b[DRAWS];
    CHECK(draw_in_child(a) == 0 && draw_in_child(b) == 0);
    int same = 0;
    for (int i = 0; i < DRAWS; i++) {
        same += a[i] == b[i];
        CHECK_MSG(a[i] >= 2.0 && a[i] <= 4.0 && b[i] >= 2.0 && b[i] <= 4.0, "draw %d: %g, %g", i, a[i], b[i]);
    }
    CHECK_MSG(same < DRAWS / 2, "two processes drew %d of %d pauses the same (lockstep retries)", same, DRAWS);
    /* and within one process the pauses vary */
    int distinct = 0;
    for (int i = 1; i < DRAWS; i++) distinct += a[i] != a[0];
    CHECK(distinct > 0);
}

int main(void)
{
    test_jitter_per_process();
    return check_summary();
}
