/* The process layer of the facility's local executor: one job run as a child
 * process tree on this machine, with its folder, its logs, its limits (cores,
 * memory, wall-clock time) and, when it ends, its accounting (exit status,
 * CPU time, peak memory).
 *
 * The child leads a process group of its own (pgid == pid), so a time limit,
 * a cancel or gf_proc_free reaches every process the job started, unless one
 * of them moved itself to another group or session (setsid, setpgid): only a
 * cgroup would contain those. When the child (the leader) ends, whatever is
 * left of its group is killed with SIGKILL: nothing of a job outlives it
 * unaccounted.
 *
 * Not thread-safe per gf_proc: one thread owns each one. Different gf_procs
 * may be used from different threads. The caller must not ignore SIGCHLD
 * (SIG_IGN or SA_NOCLDWAIT would reap the child before its status is read;
 * gf_proc_start refuses), nor reap children with waitpid(-1, ...). The library
 * installs no signal handlers. */
#ifndef GF_FACILITY_PROC_H
#define GF_FACILITY_PROC_H

#include <stdint.h>
#include <sys/types.h>
#include "core/error.h"

#define GF_PROC_GRACE_DEFAULT_S 5.0   /* SIGTERM .. SIGKILL when grace_s is 0 */

/* What to run and how. Paths (argv[0] with a '/', workdir, the log files) are
 * taken as the caller sees them, relative to the caller's working directory;
 * only the child itself runs in workdir. */
typedef struct {
    const char *const *argv;     /* NULL-terminated. argv[0]: a path (absolute, or relative with a '/'),
                                    or a bare name looked up in the child's PATH */
    const char *workdir;         /* the job's folder, created (0700, with parents) if missing; the child's cwd.
                                    NULL: the caller's cwd */
    const char *stdout_path;     /* where the child's stdout is appended (created 0600). NULL: /dev/null */
    const char *stderr_path;     /* same for stderr; may be the same file as stdout_path */
    int     cores;               /* > 0: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and GF_THREADS set to it, and the
                                    child pinned to that many of the caller's allowed CPUs (sched_setaffinity)
                                    unless that is all of them. 0: neither */
    int     cpu_offset;          /* the pinned CPUs start at the cpu_offset-th allowed CPU (mod their count), so
                                    that jobs side by side get different cores */
    int64_t memory_mb;           /* RLIMIT_AS of the child, inherited by its descendants (0: none). Address space,
                                    not resident memory: runtimes that reserve large virtual areas (JVMs,
                                    sanitizers, CUDA) need generous values */
    double  time_limit_s;        /* wall-clock limit from start (0: none); then the group gets SIGTERM, and
                                    SIGKILL grace_s later */
    double  grace_s;             /* SIGTERM .. SIGKILL, for the time limit and for cancel (0: the default) */
    const char *const *env;      /* extra NAME=VALUE entries, NULL-terminated (may be NULL); they override the
                                    caller's environment and the thread counts above; the last of a name wins */
    /* For a sandboxed job (service/sandbox.h); all zero otherwise (core/spawn.h says when each applies): */
    const int *join_fds;         /* (njoin) open cgroup.procs files the child joins before exec */
    int     njoin;
    int64_t max_procs;           /* RLIMIT_NPROC (0: inherited) */
    int     set_ids;             /* 1: the child runs as uid/gid, no supplementary groups */
    uid_t   uid;
    gid_t   gid;
    const int *keep_fds;         /* (nkeep) fds the program inherits */
    int     nkeep;
    int   (*pre_exec)(void *ctx);/* run in the child before the ids change (core/spawn.h) */
    void   *pre_exec_ctx;
} gf_proc_spec;

typedef struct gf_proc gf_proc;

/* fork + exec (core/spawn) with everything in place: its own process group, stdin from
 * /dev/null, stdout/stderr to the files, no other inherited file descriptors,
 * default signal dispositions and an empty signal mask, the limits above.
 * A failure in the child before or at exec (no such program, not executable,
 * cannot enter workdir) comes back through a close-on-exec pipe and is an
 * error from here, with a message naming the program; on success the program
 * is running (exec has succeeded) when this returns. */
gf_status gf_proc_start(const gf_proc_spec *s, gf_proc **out);

/* The child's pid, which is also its process group id (for gf_proc_group_alive
 * after a restart). */
pid_t gf_proc_pid(const gf_proc *p);

/* Non-blocking: *ended = 1 once the child has exited and been reaped (its
 * usage is then final). Enforces the time limit and the SIGKILL escalation
 * after a cancel: call it (or gf_proc_wait) regularly while a job runs. */
gf_status gf_proc_poll(gf_proc *p, int *ended);

/* Like gf_proc_poll, but blocks up to timeout_s (< 0: until it ends) for the
 * end, enforcing limits meanwhile. *ended = 0 when the timeout passed first. */
gf_status gf_proc_wait(gf_proc *p, double timeout_s, int *ended);

/* Asks the whole group to stop: SIGTERM (and SIGCONT, so stopped processes see
 * it) now; SIGKILL grace_s later, sent by a later gf_proc_poll/wait. Does not
 * block. A no-op on a job that has ended. */
gf_status gf_proc_cancel(gf_proc *p);

typedef struct {
    int     exit_code;    /* exit status, or -1 if killed by a signal */
    int     signal;       /* the signal that killed it, or 0 */
    int     timed_out;    /* stopped because of time_limit_s */
    int     cancelled;    /* stopped by gf_proc_cancel */
    double  wall_s;       /* start .. reaped */
    double  user_s, sys_s;   /* CPU seconds (core-seconds) from wait4: the child's own plus those of the
                                descendants it waited for. A grandchild that was not waited for by its
                                parent (orphaned, or killed with the group after the leader ended) is not
                                counted */
    int64_t max_rss_kb;   /* peak resident set, KiB (ru_maxrss): the largest of the child and its waited-for
                             descendants, not their sum. Linux quirk: it is at least the caller's own
                             anonymous resident memory at the fork, which the child's copy of the caller's
                             address space carried until exec, so a large caller inflates it */
} gf_proc_usage;

/* The outcome of an ended job (GF_ERR_ARG while it runs). */
gf_status gf_proc_usage_of(const gf_proc *p, gf_proc_usage *u);

/* Frees p; a tree still running is killed at once (SIGKILL to the group) and
 * the child reaped. NULL is a no-op. */
void gf_proc_free(gf_proc *p);

/* Re-attach after a coordinator restart, when the job is no longer our child:
 * whether process group pgid still has a process in it (zombies included, and
 * one we may not signal counts as alive). */
int gf_proc_group_alive(pid_t pgid);

#endif
