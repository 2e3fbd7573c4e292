/* The one fork + exec of the library: every child process it starts (the
 * local executor's jobs, the Slurm tools) goes through gf_spawn.
 *
 * It runs a program path with an argv and an environment, never through a
 * shell. Between fork and exec the child calls only async-signal-safe
 * functions on memory prepared before the fork, in this order:
 *
 *   1. every signal disposition back to default (ignored ones would survive
 *      exec); all signals stay blocked, as the parent blocked them around
 *      fork, so no handler of the caller ever runs in the child;
 *   2. its own process group (setpgid(0, 0)) when new_group is set;
 *   3. the given fds as stdin, stdout and stderr (-1: /dev/null);
 *   4. the working folder, the address-space limit (RLIMIT_AS), the CPU set
 *      (best effort), when given;
 *   4b. when given: the control groups it joins (writes "0" to each given
 *      cgroup.procs fd, while it still has the caller's privileges), the
 *      caller's pre_exec function (same rules: async-signal-safe calls on
 *      memory prepared before the fork), the process-count limit
 *      (RLIMIT_NPROC), then its user and group ids (setgroups to none,
 *      setresgid, setresuid) for good;
 *   5. every other fd marked close-on-exec (close_range, else a loop up to
 *      RLIMIT_NOFILE), so nothing of the caller leaks into the program,
 *      except the fds listed in keep_fds (left open at their numbers);
 *   6. an empty signal mask, then execve.
 *
 * A failure at any step (a missing or non-executable program, a folder it
 * cannot enter, ...) is written by the child to a close-on-exec pipe and
 * comes back from gf_spawn as an error, the child reaped; on GF_OK exec has
 * succeeded and the program runs. The caller then owns the child: it must
 * reap it (waitpid on its pid), must not ignore SIGCHLD, and must not reap
 * with waitpid(-1, ...).
 *
 * Thread-safe: any number of threads may spawn at once (the only shared
 * state is the process's fd table, and every fd made here is close-on-exec). */
#ifndef GF_CORE_SPAWN_H
#define GF_CORE_SPAWN_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>
#include "core/error.h"

/* Where the child failed (GF_SPAWN_NONE: it did not; or fork/pipe failed). */
typedef enum {
    GF_SPAWN_NONE = 0,
    GF_SPAWN_SETPGID,     /* its own process group */
    GF_SPAWN_FDS,         /* stdin/stdout/stderr */
    GF_SPAWN_CHDIR,       /* the working folder */
    GF_SPAWN_RLIMIT,      /* the memory or process-count limit */
    GF_SPAWN_CGROUP,      /* joining a control group */
    GF_SPAWN_IDS,         /* the user and group ids */
    GF_SPAWN_PREPARE,     /* the caller's pre_exec */
    GF_SPAWN_EXEC,        /* execve itself */
} gf_spawn_stage;

typedef struct {
    const char  *path;      /* what execve runs: a path (no PATH search here) */
    char *const *argv;      /* NULL-terminated; argv[0] names the program in messages */
    char *const *envp;      /* NULL-terminated; NULL: the caller's environ */
    int          fd_in, fd_out, fd_err;   /* the child's 0, 1 and 2 (any open fds, 0..2 included;
                                             the same fd may be given twice); -1: /dev/null */
    int          new_group; /* 1: the child leads a process group of its own (pgid == pid) */
    const char  *workdir;   /* the child's cwd; NULL: the caller's */
    int64_t      memory_mb; /* RLIMIT_AS of the child, MiB; 0: inherited */
    const cpu_set_t *cpus;  /* the child's CPU affinity (best effort); NULL: inherited */
    const int   *join_fds;  /* (njoin) open cgroup.procs files the child writes "0" to; NULL: none */
    int          njoin;
    int64_t      max_procs; /* RLIMIT_NPROC of the child; 0: inherited */
    int          set_ids;   /* 1: the child drops to uid/gid (no supplementary groups) before exec */
    uid_t        uid;
    gid_t        gid;
    const int   *keep_fds;  /* (nkeep) fds >= 3 the program inherits; NULL: none */
    int          nkeep;
    int        (*pre_exec)(void *ctx);   /* in the child: 0, or an errno (the child fails); NULL: none */
    void        *pre_exec_ctx;
} gf_spawn_spec;

/* What went wrong in the child. */
typedef struct {
    gf_spawn_stage stage;
    int            err;     /* its errno */
} gf_spawn_failure;

/* Starts the child. GF_OK: *pid runs the program. Otherwise GF_ERR_IO with
 * a message naming the program (argv[0]), the step and the errno text; *fail
 * (may be NULL) says which step failed (GF_SPAWN_NONE when the fork or the
 * pipes failed, before any child ran) so that a caller can word its own. */
gf_status gf_spawn(const gf_spawn_spec *s, pid_t *pid, gf_spawn_failure *fail);

/* A step in words: "cannot enter the folder", "cannot execute", ... */
const char *gf_spawn_stage_what(gf_spawn_stage stage);

/* 1 when a failed exec says the program itself is wrong (missing, not
 * executable, not a program): the caller's mistake rather than the system's. */
int gf_spawn_bad_program(const gf_spawn_failure *f);

#endif
