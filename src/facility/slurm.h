/* The Slurm side of the facility's executor: accounts with fair-share
 * shares, submitting a job, asking for its state and accounting, cancelling
 * it, and reading the fair-share tree back.
 *
 * It drives Slurm through its command-line tools (sbatch, squeue, sacct,
 * scancel, sacctmgr, sshare) rather than libslurm or slurmrestd: their
 * options and `--parsable2` output are stable across Slurm versions, there
 * is no tie to libslurm's ABI (which changes with every release), and no JWT
 * or REST daemon to set up. Each tool runs with fork + exec (core/spawn: never through a
 * shell: names and arguments come from users), with stdin fed from memory,
 * stdout captured up to GF_SLURM_OUTPUT_MAX bytes, stderr kept for the error
 * message, a timeout, and its exit status checked.
 *
 * The tools run with the caller's environment less every SLURM_*, SBATCH_*,
 * SQUEUE_*, SACCT_*, SSHARE_* and SCANCEL_* variable (they would change what
 * the tools do: another cluster, other defaults, other output formats), plus
 * SLURM_CONF when gf_slurm.conf is set (else the caller's SLURM_CONF is kept)
 * and SLURM_TIME_FORMAT=standard. A job sees that same environment (sbatch's
 * default --export=ALL), then the job's own env entries.
 *
 * Thread-safe: no state is kept between calls; every call runs its own
 * child processes and reaps only them (the caller must not ignore SIGCHLD,
 * nor reap with waitpid(-1, ...)). Failures come back as gf_status codes with
 * a gf_errorf message that quotes the tool's own error; nothing is printed. */
#ifndef GF_FACILITY_SLURM_H
#define GF_FACILITY_SLURM_H

#include <stdint.h>
#include "core/error.h"

#define GF_SLURM_OUTPUT_MAX      (16u << 20)  /* bytes of a tool's stdout before the call fails */
#define GF_SLURM_TIMEOUT_DEFAULT 60.0         /* seconds per tool run when gf_slurm.timeout_s is 0 */
#define GF_SLURM_ACCOUNT_MAX     128          /* bytes of an account name, without the NUL */

/* Which Slurm, and how long one tool may take. */
typedef struct {
    const char *conf;     /* SLURM_CONF for the tools; NULL: the caller's environment or Slurm's default */
    double timeout_s;     /* per tool run; 0: GF_SLURM_TIMEOUT_DEFAULT. A tool past it is killed
                             (SIGKILL) and the call fails with GF_ERR_IO */
} gf_slurm;

/* 1 when name is a valid account name: [a-z0-9_-]{1,128} (sacctmgr lowercases
 * names, so upper case is refused rather than silently changed). */
int gf_slurm_account_name_ok(const char *name);
/* The Slurm account of a tenant (names of 1..64 of [A-Za-z0-9._-], unique
 * regardless of case): lowercased, '_' as "__" and '.' as "_d", so distinct
 * tenants never share an account. */
void gf_slurm_account_of_tenant(const char *tenant, char out[GF_SLURM_ACCOUNT_MAX + 1]);

/* Creates the account (under root) with `shares` fair-share shares, or sets
 * the shares of an existing one, then associates the calling user (by
 * effective uid) with it so that user can submit under it. shares: 0 .. 1e9
 * (0: runs only when nobody with shares waits). A bad name or shares is
 * GF_ERR_ARG before any tool runs. */
gf_status gf_slurm_account_set(const gf_slurm *s, const char *account, int shares);

/* One batch job on one node (ntasks tasks). Relative paths are taken as the
 * caller sees them (made absolute here); the folders must be visible on the
 * compute node under the same paths (a shared filesystem, or one machine). */
typedef struct {
    const char *account;     /* NULL: the user's default account; else must pass gf_slurm_account_name_ok */
    const char *name;        /* the job's name in squeue/sacct; NULL: "gf" */
    const char *workdir;     /* the job's folder, created 0700 with parents if missing; the job fails
                                rather than run elsewhere when it cannot enter it. NULL: the caller's cwd */
    const char *stdout_path; /* appended to; NULL: /dev/null. No backslash (Slurm's file name patterns
                                cannot express one); '%' is kept literally */
    const char *stderr_path; /* same; may equal stdout_path */
    int cores;               /* --cpus-per-task (per task); 0: 1 */
    int ntasks;              /* --ntasks (the script itself runs once; srun in it runs the tasks); 0: 1 */
    int gpus;                /* --gres=gpu:N; 0: none */
    int64_t memory_mb;       /* --mem in MB; 0: the cluster's default */
    int64_t time_limit_s;    /* --time, rounded up to whole minutes (Slurm's unit); 0: the partition's.
                                Slurm enforces it on a periodic pass, so a job ends up to about 30 s
                                past it */
    char *const *argv;       /* NULL-terminated, argv[0] a program path or a name in the job's PATH;
                                every byte of every argument reaches the job unchanged */
    char *const *env;        /* extra NAME=VALUE entries for the job, NULL-terminated; may be NULL */
} gf_slurm_job;

/* Submits the job (sbatch --parsable, the command line as a /bin/sh script on
 * sbatch's stdin, every argument single-quoted). A request Slurm refuses
 * (no such account, more GPUs or cores than any node has, ...) is
 * GF_ERR_ARG with sbatch's reason; a Slurm that cannot be reached is
 * GF_ERR_IO. After a timeout (GF_ERR_IO) the job may or may not have been
 * queued: look for it by name (squeue -n) before submitting it again. */
gf_status gf_slurm_submit(const gf_slurm *s, const gf_slurm_job *job, int64_t *slurm_id);

typedef enum {
    GF_SLURM_PENDING,     /* waiting (see reason), also requeued or held */
    GF_SLURM_RUNNING,     /* running, completing, or ended with its accounting not yet recorded */
    GF_SLURM_COMPLETED,   /* exit 0 */
    GF_SLURM_FAILED,      /* non-zero exit, node failure, out of memory, boot failure */
    GF_SLURM_CANCELLED,
    GF_SLURM_TIMEOUT,     /* past its time limit (or its deadline) */
    GF_SLURM_OTHER,       /* suspended, preempted, ...: see state_name */
} gf_slurm_state;

/* What Slurm says about a job. The accounting fields are final once the
 * state is COMPLETED, FAILED, CANCELLED or TIMEOUT: a job that has ended but
 * whose record has not reached slurmdbd yet stays RUNNING (state_name then
 * says how it ended). Text fields longer than their buffer end in "...". */
typedef struct {
    gf_slurm_state state;
    char state_name[32];  /* Slurm's word: PENDING, RUNNING, COMPLETING, COMPLETED, OUT_OF_MEMORY, ... */
    char reason[256];     /* why it waits or ended ("Resources", "Priority", "None", ...) */
    int exit_code;        /* the batch script's exit status, once ended */
    int signal;           /* the signal that ended it, 0 if none (15 after a cancel or the time limit) */
    int cores, gpus;      /* allocated (requested while pending) */
    double elapsed_s;     /* wall clock since start (0 while pending) */
    double core_s;        /* allocated cores x elapsed (sacct CPUTimeRAW); 0 until ended */
    double gpu_s;         /* allocated GPUs x elapsed; 0 until ended */
    int64_t max_rss_kb;   /* peak resident memory of any of its steps (the batch script's included);
                             0 until ended, and when too short-lived to be sampled */
    char start[32], end[32];  /* "YYYY-MM-DDTHH:MM:SS" local time, "" when not (yet) known */
} gf_slurm_info;

/* The job's state: squeue while slurmctld holds it, sacct (slurmdbd) for the
 * final record and accounting. A job neither knows is GF_ERR_ARG. */
gf_status gf_slurm_query(const gf_slurm *s, int64_t id, gf_slurm_info *out);

/* scancel. A job that has already ended is a no-op; a job slurmctld does not
 * know (never existed, or ended long ago) is GF_ERR_ARG. */
gf_status gf_slurm_cancel(const gf_slurm *s, int64_t id);

/* One account's row of `sshare -l`. Values sshare leaves empty are NAN,
 * "inf" is INFINITY; raw_shares is -1 when empty or "parent". */
typedef struct {
    char account[GF_SLURM_ACCOUNT_MAX + 1];
    int64_t raw_shares;
    double raw_usage;        /* decayed usage in billing-weighted seconds (cpu-seconds by default).
                                Slurm 22.05 adds it on its PriorityCalcPeriod pass, for the time a job
                                was running since the last pass: a job that starts and ends between two
                                passes, and the tail of one after the last pass, add nothing */
    double norm_shares;      /* shares / shares of the account and its siblings */
    double effective_usage;
    double level_fs;         /* Fair Tree's level fair-share, S / U */
    double fairshare;        /* sshare reports it for users only: NAN on account rows under Fair Tree */
} gf_slurm_share;

/* The account rows of `sshare -l` (the root account included; user rows
 * left out), in sshare's order (depth first). Writes at most max rows to
 * out and sets *n to the number of account rows there are, which may be
 * more than max (call again with room for *n). An account name longer than
 * GF_SLURM_ACCOUNT_MAX is GF_ERR_MISMATCH. */
gf_status gf_slurm_shares(const gf_slurm *s, gf_slurm_share *out, int max, int *n);

#endif
