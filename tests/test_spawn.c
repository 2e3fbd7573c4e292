/* Tests for core/spawn with real processes: argv reaches the program byte
 * for byte (no shell), the given fds become 0/1/2 even when they are 0..2
 * themselves and crossed, other fds do not leak, the environment, folder,
 * memory limit and process group are the asked ones, signal dispositions and
 * the mask are reset, and failures before or at exec come back as errors
 * naming the program and the step, with the child reaped. */
#include "core/spawn.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reads fd to its end into buf (NUL-terminated). */
static const char *read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == cap - 1) break;
    }
    buf[n] = 0;
    return buf;
}

/* Spawns argv with stdout to a pipe (envp may be NULL); returns its output
 * and *status its wait status. */
static const char *run_out(gf_spawn_spec sp, int *status, char *buf, size_t cap)
{
    int p[2];
    buf[0] = 0;
    if (pipe2(p, O_CLOEXEC)) return buf;
    sp.fd_out = p[1];
    pid_t pid;
    gf_status st = gf_spawn(&sp, &pid, NULL);
    close(p[1]);
    if (st) { close(p[0]); *status = -1; return buf; }
    read_all(p[0], buf, cap);
    close(p[0]);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
    return buf;
}

static int no_children_left(void)
{
    return waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD;
}

int main(void)
{
    char out[4096];
    int status = 0;

    /* argv as given, no shell in between */
    char *echo[] = { "echo", "a b", "$(id)", "'\";|", NULL };
    gf_spawn_spec sp = { .path = "/bin/echo", .argv = echo, .fd_in = -1, .fd_err = -1 };
    CHECK_MSG(!strcmp(run_out(sp, &status, out, sizeof out), "a b $(id) '\";|\n"), "echo: [%s]", out);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* the environment is exactly envp */
    char *env_argv[] = { "env", NULL }, *envp[] = { "GF_A=1", "GF_B=two words", NULL };
    sp = (gf_spawn_spec){ .path = "/usr/bin/env", .argv = env_argv, .envp = envp, .fd_in = -1, .fd_err = -1 };
    CHECK_MSG(!strcmp(run_out(sp, &status, out, sizeof out), "GF_A=1\nGF_B=two words\n"), "env: [%s]", out);

    /* the folder and the memory limit (ulimit -v is in KiB) */
    char *pwd[] = { "sh", "-c", "pwd; ulimit -v", NULL };
    sp = (gf_spawn_spec){ .path = "/bin/sh", .argv = pwd, .fd_in = -1, .fd_err = -1, .workdir = "/usr/share",
                          .memory_mb = 300 };
    CHECK_MSG(!strcmp(run_out(sp, &status, out, sizeof out), "/usr/share\n307200\n"), "pwd/ulimit: [%s]", out);

    /* an fd the caller left inheritable does not reach the program */
    int leak = open("/dev/null", O_RDONLY);             /* no O_CLOEXEC on purpose */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "if [ -e /proc/self/fd/%d ]; then echo leaked; else echo closed; fi", leak);
    char *fdtest[] = { "sh", "-c", cmd, NULL };
    sp = (gf_spawn_spec){ .path = "/bin/sh", .argv = fdtest, .fd_in = -1, .fd_err = -1 };
    CHECK_MSG(!strcmp(run_out(sp, &status, out, sizeof out), "closed\n"), "fd %d: [%s]", leak, out);
    close(leak);

    /* dispositions back to default, mask emptied: the parent ignores SIGUSR1
     * and blocks SIGTERM; the child's grep reads its own status */
    signal(SIGUSR1, SIG_IGN);
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);
    char *sig[] = { "grep", "^Sig\\(Blk\\|Ign\\)", "/proc/self/status", NULL };
    sp = (gf_spawn_spec){ .path = "/bin/grep", .argv = sig, .fd_in = -1, .fd_err = -1 };
    run_out(sp, &status, out, sizeof out);
    /* signals 32 and 33 are glibc's own (thread cancel, setxid): a glibc program
     * can neither change nor block them, so an ancestor that ignored them
     * passes that on through exec; every other signal must be default */
    const unsigned long long reserved = (1ULL << 31) | (1ULL << 32);
    const char *blk = strstr(out, "SigBlk:\t"), *ign = strstr(out, "SigIgn:\t");
    unsigned long long blk_mask = blk ? strtoull(blk + 8, NULL, 16) : ~0ULL;
    unsigned long long ign_mask = ign ? strtoull(ign + 8, NULL, 16) : ~0ULL;
    CHECK_MSG(!(blk_mask & ~reserved) && !(ign_mask & ~reserved), "[%s]", out);
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGUSR1, SIG_DFL);

    /* stdin and stdout given as fds 1 and 0 (crossed): each still lands
     * where it was asked (a naive dup2 order would clobber one with the other) */
    int in[2], res[2];
    CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(res, O_CLOEXEC) == 0);
    int save0 = dup(0), save1 = dup(1);
    dup2(res[1], 0);                                   /* stdout of the child: our fd 0 */
    dup2(in[0], 1);                                    /* stdin of the child: our fd 1 */
    char *cat[] = { "cat", NULL };
    sp = (gf_spawn_spec){ .path = "/bin/cat", .argv = cat, .fd_in = 1, .fd_out = 0, .fd_err = -1 };
    pid_t pid;
    gf_status st = gf_spawn(&sp, &pid, NULL);
    dup2(save0, 0);
    dup2(save1, 1);
    close(save0);
    close(save1);
    close(in[0]);
    close(res[1]);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (!st) {
        CHECK(write(in[1], "through cat\n", 12) == 12);
        close(in[1]);
        CHECK_MSG(!strcmp(read_all(res[0], out, sizeof out), "through cat\n"), "cat: [%s]", out);
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    } else {
        close(in[1]);
    }
    close(res[0]);

    /* a process group of its own, or the caller's */
    char *sl[] = { "sleep", "5", NULL };
    for (int group = 0; group < 2; group++) {
        sp = (gf_spawn_spec){ .path = "/bin/sleep", .argv = sl, .fd_in = -1, .fd_out = -1, .fd_err = -1,
                              .new_group = group };
        CHECK((st = gf_spawn(&sp, &pid, NULL)) == GF_OK);
        if (st) continue;
        CHECK_MSG(getpgid(pid) == (group ? pid : getpgrp()), "group %d: pgid %d", group, (int)getpgid(pid));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }

    /* failures: named, the step given, the child reaped */
    gf_spawn_failure f;
    char *missing[] = { "gf-no-such-prog", NULL };
    sp = (gf_spawn_spec){ .path = "/nonexistent/gf-no-such-prog", .argv = missing, .fd_in = -1, .fd_out = -1,
                          .fd_err = -1 };
    st = gf_spawn(&sp, &pid, &f);
    CHECK(st == GF_ERR_IO && f.stage == GF_SPAWN_EXEC && f.err == ENOENT && gf_spawn_bad_program(&f));
    CHECK_MSG(strstr(gf_last_error(), "cannot execute gf-no-such-prog") != NULL, "%s", gf_last_error());
    CHECK(no_children_left());
    char *truebin[] = { "true", NULL };
    sp = (gf_spawn_spec){ .path = "/bin/true", .argv = truebin, .fd_in = -1, .fd_out = -1, .fd_err = -1,
                          .workdir = "/nonexistent-folder" };
    st = gf_spawn(&sp, &pid, &f);
    CHECK(st == GF_ERR_IO && f.stage == GF_SPAWN_CHDIR && f.err == ENOENT && !gf_spawn_bad_program(&f));
    CHECK_MSG(strstr(gf_last_error(), "/nonexistent-folder") != NULL, "%s", gf_last_error());
    CHECK(no_children_left());
    sp = (gf_spawn_spec){ .path = "/etc", .argv = truebin, .fd_in = -1, .fd_out = -1, .fd_err = -1 };
    st = gf_spawn(&sp, &pid, &f);
    CHECK(st == GF_ERR_IO && f.stage == GF_SPAWN_EXEC && f.err == EACCES && gf_spawn_bad_program(&f));
    CHECK(no_children_left());
    CHECK(gf_spawn(&(gf_spawn_spec){ .argv = truebin }, &pid, &f) == GF_ERR_ARG);
    return check_summary();
}
