/* fork + exec of a program with its fds, group, folder and limits, exec
 * failure reported through a close-on-exec pipe (see spawn.h). */
#include "core/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

/* Everything the child needs, prepared before the fork. */
typedef struct {
    const char *path;
    char *const *argv, *const *envp;
    int fd[3];              /* >= 3, close-on-exec: become 0, 1, 2 */
    int report_fd;          /* >= 3, close-on-exec */
    int new_group;
    const char *workdir;
    int64_t memory_mb;
    const cpu_set_t *cpus;
    const int *join_fds, *keep_fds;
    int njoin, nkeep;
    int64_t max_procs;
    int set_ids;
    int (*pre_exec)(void *);
    void *pre_exec_ctx;
    uid_t uid;
    gid_t gid;
    int max_fd;             /* for the close-on-exec loop where close_range is missing */
} child_plan;

static _Noreturn void child_fail(int report_fd, gf_spawn_stage stage, int err)
{
    gf_spawn_failure f = { stage, err };
    ssize_t w;
    do w = write(report_fd, &f, sizeof f); while (w < 0 && errno == EINTR);
    _exit(127);
}

static _Noreturn void child_run(const child_plan *c)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);   /* EINVAL for reserved ones: fine */
    if (c->new_group && setpgid(0, 0) != 0) child_fail(c->report_fd, GF_SPAWN_SETPGID, errno);
    for (int i = 0; i < 3; i++)     /* from >= 3 onto i < 3: the copy is not close-on-exec */
        while (dup2(c->fd[i], i) < 0)
            if (errno != EINTR) child_fail(c->report_fd, GF_SPAWN_FDS, errno);
    if (c->workdir && chdir(c->workdir) != 0) child_fail(c->report_fd, GF_SPAWN_CHDIR, errno);
    if (c->memory_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)c->memory_mb * 1024 * 1024;
        if (setrlimit(RLIMIT_AS, &rl) != 0) child_fail(c->report_fd, GF_SPAWN_RLIMIT, errno);
    }
    if (c->cpus) sched_setaffinity(0, sizeof *c->cpus, c->cpus);
    for (int i = 0; i < c->njoin; i++)
        if (write(c->join_fds[i], "0\n", 2) != 2) child_fail(c->report_fd, GF_SPAWN_CGROUP, errno);
    if (c->pre_exec) {
        int e = c->pre_exec(c->pre_exec_ctx);
        if (e) child_fail(c->report_fd, GF_SPAWN_PREPARE, e);
    }
    if (c->max_procs > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)c->max_procs;
        if (setrlimit(RLIMIT_NPROC, &rl) != 0) child_fail(c->report_fd, GF_SPAWN_RLIMIT, errno);
    }
    if (c->set_ids && (setgroups(0, NULL) != 0 || setresgid(c->gid, c->gid, c->gid) != 0 ||
                       setresuid(c->uid, c->uid, c->uid) != 0))
        child_fail(c->report_fd, GF_SPAWN_IDS, errno);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
        for (int fd = 3; fd < c->max_fd; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    for (int i = 0; i < c->nkeep; i++) fcntl(c->keep_fds[i], F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->path, c->argv, c->envp);
    child_fail(c->report_fd, GF_SPAWN_EXEC, errno);
}

/* A close-on-exec copy of fd at 3 or above (so that the child's dup2 onto
 * 0..2 never overwrites another of its fds). -1 on failure. */
static int dup_high(int fd)
{
    return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

const char *gf_spawn_stage_what(gf_spawn_stage stage)
{
    switch (stage) {
    case GF_SPAWN_SETPGID: return "cannot make a process group for";
    case GF_SPAWN_FDS:     return "cannot set up stdin/stdout/stderr of";
    case GF_SPAWN_CHDIR:   return "cannot enter the working folder of";
    case GF_SPAWN_RLIMIT:  return "cannot set the memory or process limit of";
    case GF_SPAWN_CGROUP:  return "cannot put into its control group";
    case GF_SPAWN_IDS:     return "cannot set the user and group ids of";
    case GF_SPAWN_PREPARE: return "cannot prepare the sandbox of";
    case GF_SPAWN_EXEC:    return "cannot execute";
    default:               return "cannot start";
    }
}

int gf_spawn_bad_program(const gf_spawn_failure *f)
{
    return f->stage == GF_SPAWN_EXEC && (f->err == ENOENT || f->err == ENOTDIR || f->err == EACCES ||
                                         f->err == ENOEXEC || f->err == EISDIR);
}

gf_status gf_spawn(const gf_spawn_spec *s, pid_t *pid, gf_spawn_failure *fail)
{
    gf_spawn_failure none;
    if (!fail) fail = &none;
    *fail = (gf_spawn_failure){ GF_SPAWN_NONE, 0 };
    *pid = -1;
    if (!s || !s->path || !s->argv || !s->argv[0]) return gf_errorf(GF_ERR_ARG, "spawn: no program");
    const char *name = s->argv[0];

    child_plan c;
    memset(&c, 0, sizeof c);
    c.path = s->path;
    c.argv = s->argv;
    c.envp = s->envp ? s->envp : environ;
    c.new_group = s->new_group;
    c.workdir = s->workdir;
    c.memory_mb = s->memory_mb;
    c.cpus = s->cpus;
    c.join_fds = s->join_fds;
    c.njoin = s->join_fds ? s->njoin : 0;
    c.keep_fds = s->keep_fds;
    c.nkeep = s->keep_fds ? s->nkeep : 0;
    c.max_procs = s->max_procs;
    c.set_ids = s->set_ids;
    c.pre_exec = s->pre_exec;
    c.pre_exec_ctx = s->pre_exec_ctx;
    c.uid = s->uid;
    c.gid = s->gid;
    c.fd[0] = c.fd[1] = c.fd[2] = c.report_fd = -1;
    int report_rd = -1, null_fd = -1;
    gf_status st = GF_OK;
    const int given[3] = { s->fd_in, s->fd_out, s->fd_err };
    for (int i = 0; i < 3 && !st; i++) {
        int fd = given[i];
        if (fd < 0) {
            if (null_fd < 0 && (null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
                st = gf_errorf(GF_ERR_IO, "cannot start %s: /dev/null: %s", name, strerror(errno));
            fd = null_fd;
        }
        if (!st && (c.fd[i] = dup_high(fd)) < 0)
            st = gf_errorf(GF_ERR_IO, "cannot start %s: fd %d: %s", name, fd, strerror(errno));
    }
    int p[2];
    if (!st && pipe2(p, O_CLOEXEC) != 0) st = gf_errorf(GF_ERR_IO, "cannot start %s: pipe: %s", name, strerror(errno));
    if (!st) {
        report_rd = p[0];
        c.report_fd = p[1] >= 3 ? p[1] : dup_high(p[1]);
        if (p[1] < 3) close(p[1]);
        if (c.report_fd < 0) st = gf_errorf(GF_ERR_IO, "cannot start %s: pipe: %s", name, strerror(errno));
    }
    if (st) goto done;
    struct rlimit nofile;
    c.max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
             ? (int)(nofile.rlim_cur < (1u << 20) ? nofile.rlim_cur : (1u << 20)) : (1 << 20);

    /* all signals blocked across fork: no handler of the caller runs in the
     * child before it has reset them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child == 0) child_run(&c);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(c.report_fd);
    c.report_fd = -1;
    if (child < 0) { st = gf_errorf(GF_ERR_IO, "cannot start %s: fork: %s", name, strerror(fork_errno)); goto done; }

    gf_spawn_failure f;
    ssize_t n;
    do n = read(report_rd, &f, sizeof f); while (n < 0 && errno == EINTR);
    if (n != 0) {   /* it failed before or at exec and has exited */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {}
        if (n != (ssize_t)sizeof f) {
            st = gf_errorf(GF_ERR_IO, "cannot start %s: lost track of the child", name);
        } else {
            *fail = f;
            st = gf_errorf(GF_ERR_IO, "%s %s%s%s: %s", gf_spawn_stage_what(f.stage), name,
                           f.stage == GF_SPAWN_CHDIR ? " in " : "", f.stage == GF_SPAWN_CHDIR ? s->workdir : "",
                           strerror(f.err));
        }
        goto done;
    }
    *pid = child;
done:
    if (report_rd >= 0) close(report_rd);
    if (c.report_fd >= 0) close(c.report_fd);
    for (int i = 0; i < 3; i++)
        if (c.fd[i] >= 0) close(c.fd[i]);
    if (null_fd >= 0) close(null_fd);
    return st;
}
