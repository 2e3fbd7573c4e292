/* One job as a child process tree: start (fork, set up, exec, report exec
 * failure through a pipe), limits, cancel, reaping and accounting (see
 * proc.h). Between fork and exec the child calls only async-signal-safe
 * functions on memory the parent prepared. */
#include "facility/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/timer.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

struct gf_proc {
    pid_t  pid;            /* also the process group id */
    int    pidfd;          /* readable when the child exits; -1 where pidfd_open is missing */
    double started;        /* gf_now() at start */
    double time_limit_s, grace_s;
    double term_at;        /* when the group got SIGTERM (0: not yet) */
    int    killed;         /* SIGKILL sent */
    int    ended, timed_out, cancelled;
    double wall_s;
    int    status;         /* from wait4 */
    struct rusage ru;
};

/* ---- preparation in the parent ---------------------------------------- */

/* mkdir -p with mode 0700 for the parts it creates. */
static gf_status make_dirs(const char *dir)
{
    size_t n = strlen(dir);
    char *buf = malloc(n + 1);
    if (!buf) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    memcpy(buf, dir, n + 1);
    gf_status st = GF_OK;
    for (size_t i = 1; i <= n && st == GF_OK; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST)
            st = gf_errorf(GF_ERR_IO, "cannot create job folder %s: %s", buf, strerror(errno));
        buf[i] = c;
    }
    free(buf);
    if (st != GF_OK) return st;
    struct stat sb;
    if (stat(dir, &sb) != 0) return gf_errorf(GF_ERR_IO, "cannot use job folder %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return gf_errorf(GF_ERR_IO, "job folder %s is not a folder", dir);
    return GF_OK;
}

/* An fd >= 3 (so dup2 onto 0/1/2 in the child never clobbers another), close-on-exec. */
static int open_high(const char *path, int flags, mode_t mode)
{
    int fd = open(path, flags | O_CLOEXEC, mode);
    if (fd < 0 || fd >= 3) return fd;
    int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return hi;
}

static size_t name_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq ? (size_t)(eq - entry) : strlen(entry);
}

static int same_name(const char *a, const char *b)
{
    size_t n = name_len(a);
    return n == name_len(b) && memcmp(a, b, n) == 0;
}

/* The child's environment: the caller's, less the names set here, then the
 * thread counts, then the extra entries (the last of a name wins). The array
 * points into environ, thr and s->env. */
static gf_status build_env(const gf_proc_spec *s, char thr[3][40], char ***out)
{
    int nthr = 0;
    if (s->cores > 0) {
        snprintf(thr[0], 40, "OMP_NUM_THREADS=%d", s->cores);
        snprintf(thr[1], 40, "OPENBLAS_NUM_THREADS=%d", s->cores);
        snprintf(thr[2], 40, "GF_THREADS=%d", s->cores);
        nthr = 3;
    }
    size_t nenv = 0, nextra = 0;
    while (environ && environ[nenv]) nenv++;
    while (s->env && s->env[nextra]) {
        const char *e = s->env[nextra];
        if (!strchr(e, '=') || e[0] == '=')
            return gf_errorf(GF_ERR_ARG, "environment entry \"%s\" is not NAME=VALUE", e);
        nextra++;
    }
    char **envp = malloc((nenv + (size_t)nthr + nextra + 1) * sizeof *envp);
    if (!envp) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        int shadowed = 0;
        for (int t = 0; t < nthr && !shadowed; t++) shadowed = same_name(environ[i], thr[t]);
        for (size_t j = 0; j < nextra && !shadowed; j++) shadowed = same_name(environ[i], s->env[j]);
        if (!shadowed) envp[k++] = environ[i];
    }
    for (int t = 0; t < nthr; t++) {
        int shadowed = 0;
        for (size_t j = 0; j < nextra && !shadowed; j++) shadowed = same_name(thr[t], s->env[j]);
        if (!shadowed) envp[k++] = thr[t];
    }
    for (size_t j = 0; j < nextra; j++) {
        int later = 0;
        for (size_t l = j + 1; l < nextra && !later; l++) later = same_name(s->env[j], s->env[l]);
        if (!later) envp[k++] = (char *)s->env[j];
    }
    envp[k] = NULL;
    *out = envp;
    return GF_OK;
}

static char *join_path(const char *dir, size_t dlen, const char *name)
{
    size_t nlen = strlen(name);
    char *p = malloc(dlen + 1 + nlen + 1);
    if (!p) return NULL;
    memcpy(p, dir, dlen);
    p[dlen] = '/';
    memcpy(p + dlen + 1, name, nlen + 1);
    return p;
}

/* The path exec gets: absolute, so the child's chdir does not change its
 * meaning. A bare name is looked up in the child's PATH. */
static gf_status resolve_program(const char *prog, char *const *envp, char **out)
{
    if (!prog[0]) return gf_errorf(GF_ERR_ARG, "empty program name");
    if (strchr(prog, '/')) {
        if (prog[0] == '/') {
            *out = strdup(prog);
        } else {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd))
                return gf_errorf(GF_ERR_IO, "cannot resolve program %s: %s", prog, strerror(errno));
            *out = join_path(cwd, strlen(cwd), prog);
        }
        return *out ? GF_OK : gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], "PATH=", 5) == 0) path = envp[i] + 5;
    for (const char *d = path;; ) {
        const char *end = strchr(d, ':');
        size_t dlen = end ? (size_t)(end - d) : strlen(d);
        char *cand = dlen ? join_path(d, dlen, prog) : join_path(".", 1, prog);   /* empty entry: the cwd */
        if (!cand) return gf_errorf(GF_ERR_NOMEM, "out of memory");
        struct stat sb;
        if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
            if (cand[0] == '/') { *out = cand; return GF_OK; }
            gf_status st = resolve_program(cand, envp, out);   /* relative entry: made absolute */
            free(cand);
            return st;
        }
        free(cand);
        if (!end) break;
        d = end + 1;
    }
    return gf_errorf(GF_ERR_ARG, "cannot run %s: not found in PATH (%s)", prog, path);
}

/* ---- the child, between fork and exec --------------------------------- */

enum { STAGE_SETPGID = 1, STAGE_FDS, STAGE_CHDIR, STAGE_RLIMIT, STAGE_EXEC };

typedef struct { int stage, err; } child_report;

typedef struct {
    const char *prog;            /* resolved */
    char *const *argv, *const *envp;
    const char *workdir;         /* or NULL */
    int in_fd, out_fd, err_fd, report_fd;
    int max_fd;                  /* for the close-on-exec loop where close_range is missing */
    int pin;                     /* use cpus */
    cpu_set_t cpus;
    int64_t memory_mb;
} child_plan;

static _Noreturn void child_fail(int report_fd, int stage, int err)
{
    child_report r = { stage, err };
    ssize_t w;
    do w = write(report_fd, &r, sizeof r); while (w < 0 && errno == EINTR);
    _exit(127);
}

static int move_fd(int from, int to)
{
    while (dup2(from, to) < 0)
        if (errno != EINTR) return -1;
    return 0;   /* from >= 3 > to: the copy does not have close-on-exec */
}

static _Noreturn void child_run(const child_plan *c)
{
    /* dispositions back to default (ignored ones would survive exec), then an
     * empty mask: the parent blocked everything around fork */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);   /* EINVAL for reserved ones: fine */
    if (setpgid(0, 0) != 0) child_fail(c->report_fd, STAGE_SETPGID, errno);
    if (move_fd(c->in_fd, 0) || move_fd(c->out_fd, 1) || move_fd(c->err_fd, 2))
        child_fail(c->report_fd, STAGE_FDS, errno);
    if (c->workdir && chdir(c->workdir) != 0) child_fail(c->report_fd, STAGE_CHDIR, errno);
    if (c->memory_mb > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = (rlim_t)c->memory_mb * 1024 * 1024;
        if (setrlimit(RLIMIT_AS, &rl) != 0) child_fail(c->report_fd, STAGE_RLIMIT, errno);
    }
    if (c->pin) sched_setaffinity(0, sizeof c->cpus, &c->cpus);   /* best effort */
    /* every inherited fd above 2 closes at exec (the report pipe with them) */
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0)
#endif
        for (int fd = 3; fd < c->max_fd; fd++) fcntl(fd, F_SETFD, FD_CLOEXEC);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->prog, c->argv, c->envp);
    child_fail(c->report_fd, STAGE_EXEC, errno);
}

/* ---- start -------------------------------------------------------------- */

static gf_status check_spec(const gf_proc_spec *s)
{
    if (!s || !s->argv || !s->argv[0]) return gf_errorf(GF_ERR_ARG, "process spec without a program");
    if (s->cores < 0) return gf_errorf(GF_ERR_ARG, "cores %d < 0", s->cores);
    if (s->memory_mb < 0 || s->memory_mb > (INT64_MAX >> 20))
        return gf_errorf(GF_ERR_ARG, "memory_mb %lld out of range", (long long)s->memory_mb);
    if (!(s->time_limit_s >= 0) || isinf(s->time_limit_s))
        return gf_errorf(GF_ERR_ARG, "time limit %g s is not a finite value >= 0", s->time_limit_s);
    if (!(s->grace_s >= 0) || isinf(s->grace_s))
        return gf_errorf(GF_ERR_ARG, "grace period %g s is not a finite value >= 0", s->grace_s);
    struct sigaction sa;
    if (sigaction(SIGCHLD, NULL, &sa) == 0 && (sa.sa_handler == SIG_IGN || (sa.sa_flags & SA_NOCLDWAIT)))
        return gf_errorf(GF_ERR_ARG, "SIGCHLD is ignored in this process: children could not be waited for");
    return GF_OK;
}

/* The CPUs to pin to: `cores` of the allowed ones from the offset-th on,
 * wrapping around. 0 when pinning does not apply. */
static int pick_cpus(int cores, int offset, cpu_set_t *set)
{
    cpu_set_t allowed;
    CPU_ZERO(set);
    if (cores <= 0 || sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
    int n = CPU_COUNT(&allowed);
    if (cores >= n) return 0;
    int ids[CPU_SETSIZE], k = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &allowed)) ids[k++] = c;
    int first = ((offset % n) + n) % n;
    for (int i = 0; i < cores; i++) CPU_SET(ids[(first + i) % n], set);
    return 1;
}

static const char *stage_what(int stage)
{
    switch (stage) {
    case STAGE_SETPGID: return "cannot make a process group";
    case STAGE_FDS: return "cannot set up stdin/stdout/stderr";
    case STAGE_CHDIR: return "cannot enter the job folder";
    case STAGE_RLIMIT: return "cannot set the memory limit";
    default: return "cannot execute";
    }
}

gf_status gf_proc_start(const gf_proc_spec *s, gf_proc **out)
{
    *out = NULL;
    gf_status st = check_spec(s);
    if (st != GF_OK) return st;
    if (s->workdir && (st = make_dirs(s->workdir)) != GF_OK) return st;

    child_plan c;
    memset(&c, 0, sizeof c);
    c.in_fd = c.out_fd = c.err_fd = c.report_fd = -1;
    int report_rd = -1;
    char thr[3][40];
    char **envp = NULL;
    char *prog = NULL;
    gf_proc *p = NULL;

    if ((st = build_env(s, thr, &envp)) != GF_OK) goto done;
    if ((st = resolve_program(s->argv[0], envp, &prog)) != GF_OK) goto done;
    const int out_flags = O_WRONLY | O_CREAT | O_APPEND;
    c.in_fd = open_high("/dev/null", O_RDONLY, 0);
    if (c.in_fd < 0) { st = gf_errorf(GF_ERR_IO, "cannot open /dev/null: %s", strerror(errno)); goto done; }
    c.out_fd = s->stdout_path ? open_high(s->stdout_path, out_flags, 0600) : open_high("/dev/null", O_WRONLY, 0);
    if (c.out_fd < 0) {
        st = gf_errorf(GF_ERR_IO, "cannot open %s: %s", s->stdout_path ? s->stdout_path : "/dev/null",
                       strerror(errno));
        goto done;
    }
    c.err_fd = s->stderr_path ? open_high(s->stderr_path, out_flags, 0600) : open_high("/dev/null", O_WRONLY, 0);
    if (c.err_fd < 0) {
        st = gf_errorf(GF_ERR_IO, "cannot open %s: %s", s->stderr_path ? s->stderr_path : "/dev/null",
                       strerror(errno));
        goto done;
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) != 0) { st = gf_errorf(GF_ERR_IO, "pipe: %s", strerror(errno)); goto done; }
    report_rd = pfd[0];
    c.report_fd = pfd[1];
    p = calloc(1, sizeof *p);
    if (!p) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }

    c.prog = prog;
    c.argv = (char *const *)s->argv;
    c.envp = envp;
    c.workdir = s->workdir;
    c.memory_mb = s->memory_mb;
    c.pin = pick_cpus(s->cores, s->cpu_offset, &c.cpus);
    struct rlimit nofile;
    c.max_fd = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
             ? (int)(nofile.rlim_cur < (1u << 20) ? nofile.rlim_cur : (1u << 20)) : (1 << 20);

    /* all signals blocked across fork: no handler of the caller runs in the
     * child before it has reset them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    double t0 = gf_now();
    pid_t pid = fork();
    if (pid == 0) child_run(&c);
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(c.report_fd);
    c.report_fd = -1;
    if (pid < 0) { st = gf_errorf(GF_ERR_IO, "cannot start %s: fork: %s", s->argv[0], strerror(fork_errno)); goto done; }

    child_report r;
    ssize_t n;
    do n = read(report_rd, &r, sizeof r); while (n < 0 && errno == EINTR);
    if (n != 0) {   /* it failed before or at exec and has exited */
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (n != (ssize_t)sizeof r) {
            st = gf_errorf(GF_ERR_IO, "cannot start %s: lost track of the child", s->argv[0]);
        } else {
            int bad_prog = r.stage == STAGE_EXEC && (r.err == ENOENT || r.err == ENOTDIR || r.err == EACCES ||
                                                     r.err == ENOEXEC || r.err == EISDIR);
            st = gf_errorf(bad_prog ? GF_ERR_ARG : GF_ERR_IO, "%s %s%s%s: %s", stage_what(r.stage), s->argv[0],
                           r.stage == STAGE_CHDIR ? " in " : "", r.stage == STAGE_CHDIR ? s->workdir : "",
                           strerror(r.err));
        }
        goto done;
    }

    p->pid = pid;
#ifdef SYS_pidfd_open
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);   /* close-on-exec by definition */
    if (p->pidfd < 0) p->pidfd = -1;
#else
    p->pidfd = -1;
#endif
    p->started = t0;
    p->time_limit_s = s->time_limit_s;
    p->grace_s = s->grace_s > 0 ? s->grace_s : GF_PROC_GRACE_DEFAULT_S;
    *out = p;
    p = NULL;

done:
    free(p);
    if (report_rd >= 0) close(report_rd);
    if (c.report_fd >= 0) close(c.report_fd);
    if (c.in_fd >= 0) close(c.in_fd);
    if (c.out_fd >= 0) close(c.out_fd);
    if (c.err_fd >= 0) close(c.err_fd);
    free(prog);
    free(envp);
    return st;
}

pid_t gf_proc_pid(const gf_proc *p) { return p->pid; }

/* ---- supervision ------------------------------------------------------ */

static void signal_group(pid_t pgid, int sig)
{
    if (killpg(pgid, sig) != 0 && errno != ESRCH) { /* EPERM: a member changed uid; nothing more to do */ }
}

static void terminate(gf_proc *p, double now)
{
    signal_group(p->pid, SIGTERM);
    signal_group(p->pid, SIGCONT);
    p->term_at = now;
}

/* The child has exited (observed without reaping, so its pid, the group id,
 * cannot be reused yet): kill what is left of the group, then reap. */
static gf_status reap(gf_proc *p, int options)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int rc;
    do rc = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOWAIT | options);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) return gf_errorf(GF_ERR_IO, "cannot wait for process %d: %s", (int)p->pid, strerror(errno));
    if (si.si_pid != p->pid) return GF_OK;   /* WNOHANG: still running */
    signal_group(p->pid, SIGKILL);
    pid_t w;
    do w = wait4(p->pid, &p->status, 0, &p->ru);
    while (w < 0 && errno == EINTR);
    if (w < 0) return gf_errorf(GF_ERR_IO, "cannot reap process %d: %s", (int)p->pid, strerror(errno));
    p->ended = 1;
    p->wall_s = gf_now() - p->started;
    if (p->pidfd >= 0) { close(p->pidfd); p->pidfd = -1; }
    return GF_OK;
}

gf_status gf_proc_poll(gf_proc *p, int *ended)
{
    *ended = p->ended;
    if (p->ended) return GF_OK;
    gf_status st = reap(p, WNOHANG);
    if (st != GF_OK) return st;
    if ((*ended = p->ended)) return GF_OK;
    double now = gf_now();
    if (p->time_limit_s > 0 && p->term_at == 0 && now - p->started >= p->time_limit_s) {
        p->timed_out = 1;
        terminate(p, now);
    }
    if (p->term_at > 0 && !p->killed && now - p->term_at >= p->grace_s) {
        signal_group(p->pid, SIGKILL);
        p->killed = 1;
    }
    return GF_OK;
}

gf_status gf_proc_wait(gf_proc *p, double timeout_s, int *ended)
{
    double deadline = timeout_s < 0 ? INFINITY : gf_now() + timeout_s;
    for (;;) {
        gf_status st = gf_proc_poll(p, ended);
        if (st != GF_OK || *ended) return st;
        double now = gf_now();
        if (now >= deadline) return GF_OK;
        double next = deadline;   /* the next moment something is due */
        if (p->time_limit_s > 0 && p->term_at == 0) next = fmin(next, p->started + p->time_limit_s);
        if (p->term_at > 0 && !p->killed) next = fmin(next, p->term_at + p->grace_s);
        double dt = fmin(next - now, p->pidfd >= 0 ? 1.0 : 0.02);
        int ms = (int)ceil(dt * 1e3);
        if (ms < 1) ms = 1;
        if (p->pidfd >= 0) {
            struct pollfd pf = { .fd = p->pidfd, .events = POLLIN };
            if (poll(&pf, 1, ms) < 0 && errno != EINTR)
                return gf_errorf(GF_ERR_IO, "cannot wait for process %d: %s", (int)p->pid, strerror(errno));
        } else {
            struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
}

gf_status gf_proc_cancel(gf_proc *p)
{
    if (p->ended) return GF_OK;
    if (!p->timed_out) p->cancelled = 1;
    if (p->term_at == 0) terminate(p, gf_now());
    return GF_OK;
}

gf_status gf_proc_usage_of(const gf_proc *p, gf_proc_usage *u)
{
    memset(u, 0, sizeof *u);
    if (!p->ended) return gf_errorf(GF_ERR_ARG, "process %d has not ended", (int)p->pid);
    if (WIFEXITED(p->status)) {
        u->exit_code = WEXITSTATUS(p->status);
    } else {
        u->exit_code = -1;
        u->signal = WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
    }
    u->timed_out = p->timed_out;
    u->cancelled = p->cancelled;
    u->wall_s = p->wall_s;
    u->user_s = (double)p->ru.ru_utime.tv_sec + 1e-6 * (double)p->ru.ru_utime.tv_usec;
    u->sys_s = (double)p->ru.ru_stime.tv_sec + 1e-6 * (double)p->ru.ru_stime.tv_usec;
    u->max_rss_kb = (int64_t)p->ru.ru_maxrss;   /* KiB on Linux */
    return GF_OK;
}

void gf_proc_free(gf_proc *p)
{
    if (!p) return;
    if (!p->ended) {
        signal_group(p->pid, SIGKILL);
        reap(p, 0);
    }
    if (p->pidfd >= 0) close(p->pidfd);
    free(p);
}

int gf_proc_group_alive(pid_t pgid)
{
    if (pgid <= 1) return 0;
    return kill(-pgid, 0) == 0 || errno == EPERM;
}
