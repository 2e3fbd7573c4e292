/* Tests for the local executor's process layer, with real processes: exit
 * codes and log files, CPU and memory accounting, the time limit and the
 * SIGKILL escalation, cancel reaching grandchildren, the memory limit, exec
 * failures reported by start, environment, thread counts and CPU pinning,
 * the child's folder, stdin and inherited file descriptors. */
#include "facility/proc.h"
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/timer.h"

static char dir[256];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Whole contents of a file ("" if missing), in a static buffer. */
static const char *slurp(const char *path)
{
    static char buf[8192];
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

/* Runs spec to its end (at most limit_s) and returns its usage; a failed
 * start or a hang is a failed check. */
static int run_to_end(const gf_proc_spec *s, double limit_s, gf_proc_usage *u)
{
    memset(u, 0, sizeof *u);
    gf_proc *p = NULL;
    gf_status st = gf_proc_start(s, &p);
    CHECK_MSG(st == GF_OK, "start %s: %s", s->argv[0], gf_last_error());
    if (st != GF_OK) return 0;
    int ended = 0;
    CHECK(gf_proc_wait(p, limit_s, &ended) == GF_OK);
    CHECK_MSG(ended, "%s did not end within %g s", s->argv[0], limit_s);
    int ok = ended && gf_proc_usage_of(p, u) == GF_OK;
    gf_proc_free(p);
    return ok;
}

/* Processes (not zombies) whose process group is pgid, from /proc. */
static int live_members(pid_t pgid)
{
    DIR *d = opendir("/proc");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], line[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(line, 1, sizeof line - 1, f);
        fclose(f);
        line[len] = '\0';
        const char *rp = strrchr(line, ')');   /* after "pid (comm)": state ppid pgrp */
        char state;
        int ppid, pgrp;
        if (rp && sscanf(rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid && state != 'Z') n++;
    }
    closedir(d);
    return n;
}

/* This test process is a child subreaper (see main), so the orphans of a
 * killed tree become its zombies: reap them, as an init would. */
static void reap_orphans(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0) {}
}

static void test_exit_code_and_logs(void)
{
    char out[300], err[300], work[300];
    path_in(out, sizeof out, "a.out");
    path_in(err, sizeof err, "a.err");
    path_in(work, sizeof work, "jobs/a/nested");
    const char *argv[] = { "sh", "-c", "echo out; echo err >&2; pwd; exit 3", NULL };
    gf_proc_spec s = { .argv = argv, .workdir = work, .stdout_path = out, .stderr_path = err };
    gf_proc_usage u;
    if (!run_to_end(&s, 30, &u)) return;
    CHECK(u.exit_code == 3);
    CHECK(u.signal == 0 && !u.timed_out && !u.cancelled);
    CHECK(u.wall_s >= 0 && u.wall_s < 30);
    char want[400];
    char real[300];
    CHECK(realpath(work, real) != NULL);
    snprintf(want, sizeof want, "out\n%s\n", real);
    CHECK_MSG(strcmp(slurp(out), want) == 0, "stdout: \"%s\"", slurp(out));
    CHECK_MSG(strcmp(slurp(err), "err\n") == 0, "stderr: \"%s\"", slurp(err));
    struct stat sb;
    CHECK(stat(work, &sb) == 0 && S_ISDIR(sb.st_mode));

    /* appended, not truncated; one file for both streams */
    const char *argv2[] = { "sh", "-c", "echo again; echo e2 >&2", NULL };
    gf_proc_spec s2 = { .argv = argv2, .workdir = work, .stdout_path = out, .stderr_path = out };
    if (!run_to_end(&s2, 30, &u)) return;
    CHECK(u.exit_code == 0);
    snprintf(want, sizeof want, "out\n%s\nagain\ne2\n", real);
    CHECK_MSG(strcmp(slurp(out), want) == 0, "stdout: \"%s\"", slurp(out));
}

static void test_cpu_accounting(void)
{
    const char *argv[] = { "sh", "-c", "i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done", NULL };
    gf_proc_spec s = { .argv = argv, .cores = 1 };
    gf_proc_usage u;
    if (!run_to_end(&s, 120, &u)) return;
    CHECK(u.exit_code == 0);
    double cpu = u.user_s + u.sys_s;
    CHECK_MSG(u.user_s > 0.2, "user_s %g", u.user_s);
    /* one core: CPU time cannot exceed the wall time (no lower bound relative
     * to the wall time: on a loaded machine the loop waits for a core most of it) */
    CHECK_MSG(cpu <= u.wall_s * 1.05 + 0.05, "cpu %g wall %g", cpu, u.wall_s);
    CHECK_MSG(u.max_rss_kb > 0, "max_rss_kb %lld", (long long)u.max_rss_kb);

    /* a waited-for grandchild's CPU time is counted */
    const char *argv2[] = { "sh", "-c", "sh -c 'i=0; while [ $i -lt 1000000 ]; do i=$((i+1)); done'; true", NULL };
    gf_proc_spec s2 = { .argv = argv2 };
    if (!run_to_end(&s2, 120, &u)) return;
    CHECK_MSG(u.user_s > 0.2, "user_s %g with the work in a grandchild", u.user_s);
}

static void test_time_limit(void)
{
    const char *argv[] = { "sleep", "30", NULL };
    gf_proc_spec s = { .argv = argv, .time_limit_s = 0.5 };
    gf_proc_usage u;
    if (!run_to_end(&s, 20, &u)) return;
    CHECK(u.timed_out && !u.cancelled);
    CHECK(u.exit_code == -1 && u.signal == SIGTERM);
    CHECK_MSG(u.wall_s >= 0.45 && u.wall_s < 15, "wall %g", u.wall_s);

    /* SIGTERM ignored by the whole tree: SIGKILL after the grace period */
    const char *argv2[] = { "sh", "-c", "trap '' TERM; sleep 30; echo survived", NULL };
    char out[300];
    path_in(out, sizeof out, "trap.out");
    gf_proc_spec s2 = { .argv = argv2, .stdout_path = out, .time_limit_s = 0.3, .grace_s = 0.5 };
    if (!run_to_end(&s2, 20, &u)) return;
    CHECK(u.timed_out);
    CHECK_MSG(u.signal == SIGKILL, "signal %d", u.signal);
    CHECK_MSG(u.wall_s >= 0.75 && u.wall_s < 15, "wall %g", u.wall_s);
    CHECK(strstr(slurp(out), "survived") == NULL);
}

static void test_cancel_kills_tree(void)
{
    char out[300];
    path_in(out, sizeof out, "tree.out");
    const char *argv[] = { "sh", "-c", "sleep 60 & sleep 60 & echo up; wait", NULL };
    gf_proc_spec s = { .argv = argv, .stdout_path = out, .grace_s = 2 };
    gf_proc *p = NULL;
    gf_status st = gf_proc_start(&s, &p);
    CHECK_MSG(st == GF_OK, "%s", gf_last_error());
    if (st != GF_OK) return;
    pid_t pgid = gf_proc_pid(p);
    CHECK(getpgid(pgid) == pgid);   /* its own group leader */
    CHECK(getpgid(pgid) != getpgrp());
    double t0 = gf_now();
    /* the sleeps may be running before the shell has written "up" */
    while ((live_members(pgid) < 3 || strcmp(slurp(out), "up\n")) && gf_now() - t0 < 10) sleep_s(0.01);
    CHECK_MSG(live_members(pgid) == 3, "group has %d processes", live_members(pgid));
    CHECK(strcmp(slurp(out), "up\n") == 0);
    CHECK(gf_proc_group_alive(pgid));

    int ended = 1;
    CHECK(gf_proc_poll(p, &ended) == GF_OK && !ended);
    gf_proc_usage u;
    CHECK(gf_proc_usage_of(p, &u) == GF_ERR_ARG);   /* still running */
    CHECK(gf_proc_cancel(p) == GF_OK);
    CHECK(gf_proc_wait(p, 20, &ended) == GF_OK && ended);
    CHECK(gf_proc_usage_of(p, &u) == GF_OK);
    CHECK(u.cancelled && !u.timed_out);
    CHECK(u.exit_code == -1 && u.signal == SIGTERM);
    CHECK(gf_proc_cancel(p) == GF_OK);   /* after the end: nothing */
    gf_proc_free(p);

    t0 = gf_now();
    while (gf_proc_group_alive(pgid) && gf_now() - t0 < 10) { reap_orphans(); sleep_s(0.01); }
    CHECK(live_members(pgid) == 0);
    CHECK(!gf_proc_group_alive(pgid));
    errno = 0;
    CHECK(kill(-pgid, 0) == -1 && errno == ESRCH);
}

static void test_leader_exit_kills_leftovers(void)
{
    /* the leader exits at once, leaving a background process in its group */
    const char *argv[] = { "sh", "-c", "sleep 60 & exit 0", NULL };
    gf_proc_spec s = { .argv = argv };
    gf_proc *p = NULL;
    CHECK_MSG(gf_proc_start(&s, &p) == GF_OK, "%s", gf_last_error());
    if (!p) return;
    pid_t pgid = gf_proc_pid(p);
    int ended = 0;
    CHECK(gf_proc_wait(p, 20, &ended) == GF_OK && ended);
    gf_proc_free(p);
    double t0 = gf_now();
    while (gf_proc_group_alive(pgid) && gf_now() - t0 < 10) { reap_orphans(); sleep_s(0.01); }
    CHECK(!gf_proc_group_alive(pgid));
}

static void test_free_kills_running_tree(void)
{
    const char *argv[] = { "sh", "-c", "sleep 60 & sleep 60", NULL };
    gf_proc_spec s = { .argv = argv };
    gf_proc *p = NULL;
    CHECK_MSG(gf_proc_start(&s, &p) == GF_OK, "%s", gf_last_error());
    if (!p) return;
    pid_t pgid = gf_proc_pid(p);
    gf_proc_free(p);
    double t0 = gf_now();
    while (gf_proc_group_alive(pgid) && gf_now() - t0 < 10) { reap_orphans(); sleep_s(0.01); }
    CHECK(!gf_proc_group_alive(pgid));
}

static void test_memory_limit(void)
{
    char err[300];
    path_in(err, sizeof err, "mem.err");
    /* 400 MB in a 100 MB address space: MemoryError, a non-zero exit */
    const char *argv[] = { "python3", "-c", "x = bytearray(400*1024*1024); print('allocated')", NULL };
    gf_proc_spec s = { .argv = argv, .memory_mb = 100, .stderr_path = err, .stdout_path = err };
    gf_proc_usage u;
    if (!run_to_end(&s, 60, &u)) return;
    CHECK_MSG(u.exit_code != 0, "exit %d signal %d", u.exit_code, u.signal);
    CHECK_MSG(strstr(slurp(err), "MemoryError") != NULL, "stderr: %s", slurp(err));
    CHECK(strstr(slurp(err), "allocated") == NULL);

    /* the same with room to spare succeeds (the limit is not what failed above) */
    const char *argv2[] = { "python3", "-c", "x = bytearray(40*1024*1024)", NULL };
    gf_proc_spec s2 = { .argv = argv2, .memory_mb = 400 };
    if (!run_to_end(&s2, 60, &u)) return;
    CHECK_MSG(u.exit_code == 0, "exit %d", u.exit_code);
    CHECK_MSG(u.max_rss_kb >= 40 * 1024, "max_rss_kb %lld", (long long)u.max_rss_kb);

    /* the limit is what the child sees */
    char out[300];
    path_in(out, sizeof out, "ulimit.out");
    const char *argv3[] = { "sh", "-c", "ulimit -v", NULL };
    gf_proc_spec s3 = { .argv = argv3, .memory_mb = 100, .stdout_path = out };
    if (!run_to_end(&s3, 30, &u)) return;
    CHECK_MSG(strcmp(slurp(out), "102400\n") == 0, "ulimit -v: %s", slurp(out));
}

static void test_exec_failure(void)
{
    const char *argv[] = { "/nonexistent/prog", "x", NULL };
    gf_proc_spec s = { .argv = argv };
    gf_proc *p = (gf_proc *)&s;
    gf_status st = gf_proc_start(&s, &p);
    CHECK(st != GF_OK);
    CHECK(p == NULL);
    CHECK_MSG(strstr(gf_last_error(), "/nonexistent/prog") != NULL, "message: %s", gf_last_error());
    CHECK(waitpid(-1, NULL, WNOHANG) <= 0);   /* the failed child was reaped */

    const char *argv2[] = { "gf-no-such-program-here", NULL };
    gf_proc_spec s2 = { .argv = argv2 };
    CHECK(gf_proc_start(&s2, &p) != GF_OK);
    CHECK_MSG(strstr(gf_last_error(), "gf-no-such-program-here") != NULL, "message: %s", gf_last_error());

    /* exists but is not executable: the exec itself fails, in the child */
    char f[300];
    path_in(f, sizeof f, "not-exec.sh");
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    if (fp) { fputs("#!/bin/sh\necho hi\n", fp); fclose(fp); }
    const char *argv3[] = { f, NULL };
    gf_proc_spec s3 = { .argv = argv3 };
    CHECK(gf_proc_start(&s3, &p) != GF_OK);
    CHECK_MSG(strstr(gf_last_error(), f) != NULL && strstr(gf_last_error(), "ermission") != NULL,
              "message: %s", gf_last_error());
    /* and once it is, it runs (by absolute path) */
    CHECK(chmod(f, 0700) == 0);
    gf_proc_usage u;
    if (run_to_end(&s3, 30, &u)) CHECK(u.exit_code == 0);

    /* a bad spec */
    const char *argv4[] = { "true", NULL };
    const char *bad_env[] = { "NOEQUALS", NULL };
    gf_proc_spec s4 = { .argv = argv4, .env = bad_env };
    CHECK(gf_proc_start(&s4, &p) == GF_ERR_ARG);
    gf_proc_spec s5 = { .argv = argv4, .time_limit_s = -1 };
    CHECK(gf_proc_start(&s5, &p) == GF_ERR_ARG);
    char file_as_dir[300];
    path_in(file_as_dir, sizeof file_as_dir, "not-exec.sh/sub");
    gf_proc_spec s6 = { .argv = argv4, .workdir = file_as_dir };
    CHECK(gf_proc_start(&s6, &p) != GF_OK);
    CHECK(strstr(gf_last_error(), "not-exec.sh") != NULL);
}

static void test_env_and_cores(void)
{
    char out[300];
    path_in(out, sizeof out, "env.out");
    const char *argv[] = { "sh", "-c", "echo $OMP_NUM_THREADS $FOO $GF_THREADS $OPENBLAS_NUM_THREADS $BAR", NULL };
    const char *env[] = { "FOO=bar baz", "BAR=1", "BAR=2", "OPENBLAS_NUM_THREADS=1", NULL };
    gf_proc_spec s = { .argv = argv, .cores = 2, .env = env, .stdout_path = out };
    gf_proc_usage u;
    if (!run_to_end(&s, 30, &u)) return;
    CHECK(u.exit_code == 0);
    CHECK_MSG(strcmp(slurp(out), "2 bar baz 2 1 2\n") == 0, "env: %s", slurp(out));

    /* the caller's environment is passed on, minus what is overridden */
    setenv("GF_TEST_INHERITED", "yes", 1);
    setenv("OMP_NUM_THREADS", "99", 1);
    remove(out);
    const char *argv2[] = { "sh", "-c", "echo $GF_TEST_INHERITED $OMP_NUM_THREADS", NULL };
    gf_proc_spec s2 = { .argv = argv2, .cores = 1, .stdout_path = out };
    if (run_to_end(&s2, 30, &u)) CHECK_MSG(strcmp(slurp(out), "yes 1\n") == 0, "env: %s", slurp(out));
    unsetenv("OMP_NUM_THREADS");

    /* pinning: one core, at an offset, when there are several */
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) {
        fprintf(stderr, "test_proc: one CPU, pinning not tested\n");
        return;
    }
    int second = -1, seen = 0;
    for (int c = 0; c < CPU_SETSIZE && second < 0; c++)
        if (CPU_ISSET(c, &allowed) && seen++ == 1) second = c;
    remove(out);
    const char *argv3[] = { "grep", "Cpus_allowed_list", "/proc/self/status", NULL };
    gf_proc_spec s3 = { .argv = argv3, .cores = 1, .cpu_offset = 1, .stdout_path = out };
    if (!run_to_end(&s3, 30, &u)) return;
    char want[64];
    snprintf(want, sizeof want, "Cpus_allowed_list:\t%d\n", second);
    CHECK_MSG(strcmp(slurp(out), want) == 0, "pinned: %s", slurp(out));
}

static void test_stdin_and_fds(void)
{
    char out[300];
    path_in(out, sizeof out, "fds.out");
    int leak = open("/dev/null", O_RDONLY);   /* no O_CLOEXEC: the library must still close it */
    CHECK(leak >= 3);
    char script[200];
    snprintf(script, sizeof script,
             "cat; if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo closed; fi; echo done", leak);
    const char *argv[] = { "sh", "-c", script, NULL };
    gf_proc_spec s = { .argv = argv, .stdout_path = out };
    gf_proc_usage u;
    if (run_to_end(&s, 30, &u)) {   /* cat reads /dev/null: no hang */
        CHECK(u.exit_code == 0);
        CHECK_MSG(strcmp(slurp(out), "closed\ndone\n") == 0, "out: %s", slurp(out));
    }
    close(leak);

    /* signals the caller ignores are not ignored in the child */
    signal(SIGTERM, SIG_IGN);
    const char *argv2[] = { "sleep", "30", NULL };
    gf_proc_spec s2 = { .argv = argv2, .time_limit_s = 0.2, .grace_s = 10 };
    if (run_to_end(&s2, 8, &u)) CHECK_MSG(u.signal == SIGTERM, "signal %d", u.signal);
    signal(SIGTERM, SIG_DFL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gf_test_proc_%d", (int)getpid());
    CHECK(mkdir(dir, 0700) == 0);
    /* orphans of the trees killed below are reparented here, not to an init
     * that might never reap them (containers), so "the group is gone" is testable */
    CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);

    test_exit_code_and_logs();
    test_exec_failure();
    test_env_and_cores();
    test_stdin_and_fds();
    test_time_limit();
    test_cancel_kills_tree();
    test_leader_exit_kills_leftovers();
    test_free_kills_running_tree();
    test_memory_limit();
    test_cpu_accounting();

    reap_orphans();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_summary();
}
