/* One job as a child process tree: start (its environment, program path and
 * log files, then core/spawn: its own process group, folder, limits, exec
 * failure reported), limits, cancel, reaping and accounting (see proc.h). */
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
#include "core/spawn.h"
#include "core/timer.h"

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

static const char *stage_what(gf_spawn_stage stage)
{
    switch (stage) {
    case GF_SPAWN_SETPGID: return "cannot make a process group";
    case GF_SPAWN_FDS: return "cannot set up stdin/stdout/stderr";
    case GF_SPAWN_CHDIR: return "cannot enter the job folder";
    case GF_SPAWN_RLIMIT: return "cannot set the memory or process limit";
    case GF_SPAWN_CGROUP: return "cannot put into its control group";
    case GF_SPAWN_IDS: return "cannot set the user and group ids";
    case GF_SPAWN_PREPARE: return "cannot prepare the sandbox";
    default: return "cannot execute";
    }
}

gf_status gf_proc_start(const gf_proc_spec *s, gf_proc **out)
{
    *out = NULL;
    gf_status st = check_spec(s);
    if (st != GF_OK) return st;
    if (s->workdir && (st = make_dirs(s->workdir)) != GF_OK) return st;

    int out_fd = -1, err_fd = -1;
    char thr[3][40];
    char **envp = NULL;
    char *prog = NULL;
    gf_proc *p = NULL;

    if ((st = build_env(s, thr, &envp)) != GF_OK) goto done;
    if ((st = resolve_program(s->argv[0], envp, &prog)) != GF_OK) goto done;
    const int out_flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (s->stdout_path && (out_fd = open(s->stdout_path, out_flags, 0600)) < 0) {
        st = gf_errorf(GF_ERR_IO, "cannot open %s: %s", s->stdout_path, strerror(errno));
        goto done;
    }
    if (s->stderr_path && (err_fd = open(s->stderr_path, out_flags, 0600)) < 0) {
        st = gf_errorf(GF_ERR_IO, "cannot open %s: %s", s->stderr_path, strerror(errno));
        goto done;
    }
    p = calloc(1, sizeof *p);
    if (!p) { st = gf_errorf(GF_ERR_NOMEM, "out of memory"); goto done; }

    cpu_set_t cpus;
    gf_spawn_spec sp = { .path = prog, .argv = (char *const *)s->argv, .envp = envp, .fd_in = -1,
                         .fd_out = out_fd, .fd_err = err_fd, .new_group = 1, .workdir = s->workdir,
                         .memory_mb = s->memory_mb,
                         .cpus = pick_cpus(s->cores, s->cpu_offset, &cpus) ? &cpus : NULL,
                         .join_fds = s->join_fds, .njoin = s->njoin, .max_procs = s->max_procs,
                         .set_ids = s->set_ids, .uid = s->uid, .gid = s->gid,
                         .keep_fds = s->keep_fds, .nkeep = s->nkeep,
                         .pre_exec = s->pre_exec, .pre_exec_ctx = s->pre_exec_ctx };
    gf_spawn_failure f;
    pid_t pid;
    double t0 = gf_now();
    if ((st = gf_spawn(&sp, &pid, &f)) != GF_OK) {
        if (f.stage != GF_SPAWN_NONE)   /* in the job's words; a bad program is the caller's mistake */
            st = gf_errorf(gf_spawn_bad_program(&f) ? GF_ERR_ARG : GF_ERR_IO, "%s %s%s%s: %s", stage_what(f.stage),
                           s->argv[0], f.stage == GF_SPAWN_CHDIR ? " in " : "",
                           f.stage == GF_SPAWN_CHDIR ? s->workdir : "", strerror(f.err));
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
    if (out_fd >= 0) close(out_fd);
    if (err_fd >= 0) close(err_fd);
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
