/* The sandbox of a tenant's program on this machine: Debian's bubblewrap
 * (bwrap) run by facility/proc, and the control groups that bound it.
 *
 * What the program sees (bwrap --unshare-all: new user, mount, pid, IPC,
 * UTS, cgroup and network namespaces; --die-with-parent, --new-session):
 *   /usr, /etc (and the /bin, /lib, /lib64, /sbin links) read-only: the
 *       facility's software stack; /etc files readable by "others" on the
 *       host are readable by the job, as on an HPC login node;
 *   /proc of its own pid namespace (only its own processes), a minimal
 *       /dev (bwrap --dev: null, zero, full, random, urandom, tty, pts,
 *       shm), an empty /tmp (a tmpfs: its files count against the job's
 *       memory); the root itself read-only;
 *   GPUs: only the granted ones (gpu_devices, facility/gpus.h), each bound
 *       (--dev-bind) at /dev/ITS-NAME (host /dev/nvidia3 is /dev/nvidia3
 *       inside), and, when it has any, the driver's control devices
 *       GF_GPU_CONTROL that exist on the host (nvidiactl, nvidia-uvm,
 *       nvidia-uvm-tools: shared by every GPU job, as under Slurm and in
 *       containers);
 *   /job: its own folder, read-write, the working directory;
 *   /data/NAME: each granted dataset, read-only (an idx folder whole; a csv
 *       dataset's file(s) under their own names);
 *   nothing else: no coordinator data folder, keys, tokens or other jobs;
 *   network: loopback only, unless share_net (granted by the operator, never
 *       by a spec).
 * Environment: cleared (bwrap --clearenv), then PATH=/usr/local/bin:/usr/bin:/bin,
 * HOME=/job, GF_OUTPUT=/job/output, GF_METRICS=/job/metrics.jsonl,
 * OMP_NUM_THREADS / OPENBLAS_NUM_THREADS / MKL_NUM_THREADS = cores; with k
 * GPUs CUDA_VISIBLE_DEVICES=0,..,k-1 (CUDA numbers the devices it can open
 * from 0, as in a container given some of a machine's GPUs) and GF_GPUS =
 * their indices in the facility's list (e.g. "3"); then the job's own
 * additions (which may override PATH and the thread counts; a different
 * CUDA_VISIBLE_DEVICES can only hide granted GPUs, never show others).
 *
 * What keeps a job off the GPUs it was not granted: the mount namespace
 * alone. Their device files do not exist in its /dev, their host paths
 * are not in its file system, and it cannot make a node of its own (mknod
 * of a device needs CAP_MKNOD in the host's user namespace, which no
 * process of bwrap's user namespace has). No device
 * cgroup is set: cgroup v2 has no devices file (only eBPF programs, which
 * bwrap does not attach), and v1's devices controller is not needed while
 * the files are absent. The driver's control devices are shared; what they
 * expose of other GPUs (e.g. through NVML) is the driver's matter, as in a
 * container. As root callers stage them, the device files are opened by
 * the coordinator's child, so they need not be reachable by the job's uid;
 * opening them inside needs their own permissions (the driver's 0666).
 *
 * Ranks: every job gets RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
 * MASTER_ADDR=127.0.0.1 and MASTER_PORT (what torch.distributed's env://
 * and MPI programs expect; one machine, so LOCAL_* = the global ones). With
 * processes > 1 bwrap runs Debian's OpenMPI mpirun inside the sandbox
 * (-n N --oversubscribe --bind-to none: the scheduler already holds N cores,
 * and the cgroup / affinity bound them), which starts each rank through a
 * fixed /bin/sh shim (the job's argv passed as "$@", never interpolated)
 * that sets RANK / LOCAL_RANK / LOCAL_WORLD_SIZE from OMPI_COMM_WORLD_* and,
 * when the rank's program ends non-zero, writes its status (a number; > 128:
 * killed by signal status - 128) to /job/.ranks/RANK. mpirun then stops
 * the other ranks and exits non-zero; gf_sandbox_failed_rank names the
 * first rank that failed. MPI's wire-up and gloo/NCCL-over-TCP use the
 * sandbox's own loopback, so ports never collide between jobs.
 *
 * Unix user: when the caller is root, the program runs as uid = gid =
 * GF_SANDBOX_UID_BASE + tenant id (no supplementary groups), set before
 * bwrap starts, so every file it creates and every process it runs belongs
 * to that unprivileged id on the host (the range 200000.. must not hold
 * real accounts). The job folder is handed to that id (gf_sandbox_own).
 * bwrap runs unprivileged (it needs unprivileged user namespaces); as root
 * the child first binds the job folder and the datasets, opened by the
 * caller, into a private tmpfs in a mount namespace of its own, so that
 * bwrap reaches them without the coordinator's folders becoming traversable.
 * When the caller is not root, the program runs as the caller's own user
 * (bwrap maps it): the namespaces still hide everything above, but files
 * the program creates belong to the coordinator's user.
 *
 * Limits: cgroup v2 when /sys/fs/cgroup is the unified hierarchy and the
 * caller's cgroup can delegate memory, pids and cpu; else cgroup v1 (the
 * memory, pids and cpu hierarchies under /sys/fs/cgroup/CONTROLLER); a job
 * gets gf-PID-job-ID beside the caller's own cgroup of each kind, joined by
 * the child before exec: memory (memory.max / memory.limit_in_bytes, no
 * swap), pids (GF_SANDBOX_PIDS_MAX), cpu (a quota of `cores` CPUs). Where a
 * controller cannot be used: memory falls back to RLIMIT_AS (an allocation
 * beyond it fails inside the program instead of an OOM kill), pids to
 * RLIMIT_NPROC of the job's uid (root callers only: it counts every
 * process of that uid, so a tenant's jobs share it), cpu to the CPU
 * affinity facility/proc sets. gf_sandbox_limits says which hold.
 *
 * Not thread-safe per gf_sandbox; one thread owns each. */
#ifndef GF_FACILITY_SANDBOX_H
#define GF_FACILITY_SANDBOX_H

#include <stdint.h>
#include <sys/types.h>
#include "core/error.h"
#include "facility/gpus.h"
#include "facility/proc.h"

#define GF_SANDBOX_UID_BASE 200000
#define GF_SANDBOX_PIDS_MAX 256          /* processes and threads of one job */
#define GF_SANDBOX_DATA_MAX 16
#define GF_SANDBOX_BWRAP    "/usr/bin/bwrap"
#define GF_SANDBOX_MPIRUN   "/usr/bin/mpirun"   /* Debian's OpenMPI: processes > 1 */
#define GF_SANDBOX_RANKS    ".ranks"            /* under /job: the exit status of each rank that failed */

/* A dataset for the job: a folder (bound whole) or one or two files. */
typedef struct {
    const char *name;       /* /data/NAME */
    const char *path;       /* host path: a folder, or a file */
    const char *test_path;  /* a second file beside path, or NULL */
    int         is_dir;
} gf_sandbox_data;

typedef struct {
    int64_t  job_id;
    int64_t  tenant_id;              /* picks the uid (root callers) */
    const char *work_dir;            /* host folder that becomes /job (exists) */
    const char *const *argv;         /* the program's argv (NULL-terminated) */
    const char *const *env;          /* (nenv) NAME=VALUE additions */
    int      nenv;
    const gf_sandbox_data *data;     /* (ndata <= GF_SANDBOX_DATA_MAX) */
    int      ndata;
    int      cores;                  /* CPU quota and thread counts */
    int64_t  memory_mb;
    int      share_net;              /* 1: the host's network (operator's grant) */
    int      processes;              /* ranks (0 or 1: the program itself; > 1: under mpirun) */
    int      master_port;            /* MASTER_PORT (its own loopback: any free port of 1024..65535) */
    const char *const *gpu_devices;  /* (ngpus) the granted GPUs' host device files (facility/gpus.h) */
    const int *gpu_index;            /* (ngpus) their indices in the facility's list: GF_GPUS */
    int      ngpus;
    int      outer_limits;           /* 1: a batch system's cgroups already hold memory and cores (Slurm's
                                        task/cgroup): no cgroups of its own, no RLIMIT_AS */
} gf_sandbox_request;

typedef struct gf_sandbox gf_sandbox;

/* The uid and gid a tenant's jobs run as (root callers), else the caller's. */
void gf_sandbox_ids(int64_t tenant_id, uid_t *uid, gid_t *gid);

/* Hands path (a folder, recursively, links not followed) to uid:gid, and
 * removes set-id bits; a no-op unless the caller is root. */
gf_status gf_sandbox_own(const char *path, uid_t uid, gid_t gid);

/* Prepares the sandbox: its cgroups (created, limits written), the
 * bwrap command line, the fds the child needs. */
gf_status gf_sandbox_prepare(const gf_sandbox_request *r, gf_sandbox **out);

/* Fills ps's argv, memory limit, cgroups, ids and pre_exec for gf_proc_start
 * (the caller sets the logs, cores, time limit). ps points into sb. */
void gf_sandbox_apply(gf_sandbox *sb, gf_proc_spec *ps);

/* After gf_proc_start: closes what only the child needed. */
void gf_sandbox_started(gf_sandbox *sb);

/* How many of the job's processes the kernel killed for running out of its
 * memory limit (0 where no memory cgroup holds it). */
int64_t gf_sandbox_oom_kills(const gf_sandbox *sb);

/* The job's CPU seconds and peak memory (KiB) from its cgroups (v1:
 * cpuacct.usage, memory.max_usage_in_bytes; v2: cpu.stat, memory.peak),
 * read before gf_sandbox_free; -1 each where not accounted. The sandbox's
 * processes are not all reaped by the one the coordinator waits for, so
 * wait4's numbers miss them. */
void gf_sandbox_usage(const gf_sandbox *sb, double *cpu_s, int64_t *peak_kb);

/* After a multi-process job failed: the rank whose program failed first
 * (its status file under work_dir/GF_SANDBOX_RANKS the oldest; ties: the
 * lowest rank) in words, "rank 1 exited with status 3" or "rank 0 was
 * killed by signal 9 (Killed)"; 0 when one was found, -1 when none. */
int gf_sandbox_failed_rank(const char *work_dir, char *out, size_t cap);

/* Which limits hold, in words ("cgroup v1: memory, pids, cpu"). */
const char *gf_sandbox_limits(const gf_sandbox *sb);

/* After a restart: removes the cgroups of job job_id that a dead
 * coordinator (its pid in their names no longer alive) left, killing what
 * is left in them. */
void gf_sandbox_remove_stale(int64_t job_id);

/* Kills whatever is left in its cgroups, removes them, frees sb. NULL is fine. */
void gf_sandbox_free(gf_sandbox *sb);

#endif
