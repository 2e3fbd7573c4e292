/* The local executor (executor.h): central jobs as child process trees of
 * the coordinator (facility/proc), one folder each, with the job's cores,
 * memory and time limit, and the accounting of wait4 (which sums every
 * rank's CPU time when gf train runs as MPI ranks under mpirun). */
#include "service/executor.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/grow.h"
#include "core/timer.h"
#include "facility/folder_size.h"
#include "facility/proc.h"
#include "jobspec/jobspec_program.h"
#include "service/program.h"

/* sb and job_dir: a program job's sandbox (facility/program.h); NULL for gf train.
 * A program job's folder is measured (facility/folder_size.h) at most every
 * QUOTA_EVERY_S while it runs and once at its end: over max_job_folder_mb,
 * the job is stopped and fails naming the quota. Between two looks a job can
 * write past the quota by what it writes in QUOTA_EVERY_S. */
#define QUOTA_EVERY_S 0.5
typedef struct {
    int64_t job_id; gf_proc *proc; int cpu_offset, cores; gf_sandbox *sb; char *job_dir;
    int    *gpu;            /* (ngpus) the GPU indices it holds, malloc'd */
    int     ngpus;
    double  quota_at;       /* when its folder was last measured (gf_wall_now) */
    int64_t over_bytes;     /* > 0: its folder's size when found over the quota */
} local_run;

typedef struct {
    gf_executor base;
    local_run  *runs;       /* (nruns) */
    int         nruns, cap;
    int         ncpus;      /* CPUs this process may run on */
    int        *busy;       /* (ncpus) jobs pinned to each of them (by position among the allowed CPUs) */
    gf_gpu_list gpus;       /* the GPUs' device files */
    uint64_t    gpu_busy;   /* bit i: a running job holds GPU i */
} local_exec;

/* Where a job of `cores` cores is pinned: the first run of `cores` CPUs
 * (cyclically, as facility/proc pins) that no job uses, else the least busy
 * such run. */
static int choose_cpus(const local_exec *x, int cores)
{
    int best = 0, best_load = -1;
    for (int o = 0; o < x->ncpus; o++) {
        int load = 0;
        for (int i = 0; i < cores && i < x->ncpus; i++) load += x->busy[(o + i) % x->ncpus];
        if (best_load < 0 || load < best_load) { best = o; best_load = load; }
        if (load == 0) break;
    }
    return best;
}

static void mark_cpus(local_exec *x, int offset, int cores, int delta)
{
    if (cores >= x->ncpus) return;             /* not pinned (facility/proc pins only a part of the machine) */
    for (int i = 0; i < cores; i++) x->busy[(offset + i) % x->ncpus] += delta;
}

/* gf train and its arguments. */
static int train_args(const gf_exec_request *r, int threads, char *buf, size_t cap, const char **argv, int max)
{
    const gf_jobspec *s = r->spec;
    size_t used = 0;
    int n = 0;
#define ARG(...) do { \
        int w_ = snprintf(buf + used, cap - used, __VA_ARGS__); \
        if (w_ < 0 || (size_t)w_ >= cap - used || n + 2 > max) return -1; \
        argv[n++] = buf + used; used += (size_t)w_ + 1; } while (0)
    ARG("%s", r->gf_path);
    ARG("train");
    ARG("--model"); ARG("%s", s->model);
    ARG("--dataset"); ARG("%s", r->dataset);
    ARG("--epochs"); ARG("%d", s->epochs);
    ARG("--batch"); ARG("%d", s->batch);
    ARG("--optim"); ARG("%s", gf_optim_type_name(s->optim.type));
    ARG("--lr"); ARG("%.9g", (double)s->optim.lr);
    if (s->optim.type == GF_OPTIM_SGD) { ARG("--momentum"); ARG("%.9g", (double)s->optim.momentum); }
    ARG("--weight-decay"); ARG("%.9g", (double)s->optim.weight_decay);
    ARG("--seed"); ARG("%" PRIu64, s->seed);
    ARG("--threads"); ARG("%d", threads);
    ARG("--out"); ARG("%s/model.safetensors", r->job_dir);
    ARG("--metrics"); ARG("%s/metrics.jsonl", r->job_dir);
#undef ARG
    argv[n] = NULL;
    return 0;
}

/* With processes > 1, gf train behind Debian's OpenMPI mpirun, as a program
 * job's ranks (facility/sandbox.h): -n N --oversubscribe --bind-to none, as
 * the scheduler (or Slurm) holds the job's cores and pins the tree to them; the
 * shared-memory transport only (one machine) without its single-copy
 * mechanism, which containers often forbid; ranks that wait in the
 * all-reduce yield their core (a spinning rank starves the one it waits for
 * when a core is shared: one epoch of an MLP on Fashion-MNIST took 9.4 s
 * spinning against 1.7 s yielding on 2 loaded cores); --allow-run-as-root only when
 * the coordinator is root (gf train is not sandboxed: it runs as the
 * coordinator's user). Rank 0 alone writes the metrics and the model
 * (train/dist.h); a rank that fails makes mpirun stop the rest and exit
 * non-zero. */
const char *gf_exec_train_env(int processes, char *buf, size_t cap)
{
#if defined(__SANITIZE_ADDRESS__)
    const char *ao = getenv("ASAN_OPTIONS");
    if (processes > 1 && snprintf(buf, cap, "ASAN_OPTIONS=%s%sdetect_leaks=0", ao ? ao : "", ao && *ao ? ":" : "") < (int)cap)
        return buf;
#else
    (void)processes, (void)buf, (void)cap;
#endif
    return NULL;
}

int gf_exec_train_argv(const gf_exec_request *r, int threads, char *buf, size_t cap, const char **argv, int max)
{
    int n = 0, nproc = r->spec->resources.processes;
    if (nproc > 1) {
        static const char *const mpi[] = { GF_SANDBOX_MPIRUN, "--oversubscribe", "--bind-to", "none",
            "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
            "--mca", "mpi_yield_when_idle", "1" };
        int k = (int)(sizeof mpi / sizeof mpi[0]);
        if (k + 4 > max) return -1;
        for (int i = 0; i < k; i++) argv[n++] = mpi[i];
        if (geteuid() == 0) argv[n++] = "--allow-run-as-root";
        int w = snprintf(buf, cap, "%d", nproc);
        if (w < 0 || (size_t)w + 1 >= cap) return -1;
        argv[n++] = "-n";
        argv[n++] = buf;
        buf += w + 1;
        cap -= (size_t)w + 1;
    }
    return train_args(r, threads, buf, cap, argv + n, max - n);
}

/* The fields of /proc/PID/stat from field 3 on (after the command name,
 * which may hold spaces), split in place: *n of them into f[]. 0 if gone. */
static int stat_fields(pid_t pid, char line[1024], char *f[64], int *n)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *fp = fopen(p, "r");
    if (!fp) return 0;
    size_t len = fread(line, 1, 1023, fp);
    fclose(fp);
    line[len] = 0;
    char *rp = strrchr(line, ')'), *save = NULL;
    if (!rp) return 0;
    *n = 0;
    for (char *tok = strtok_r(rp + 1, " \n", &save); tok && *n < 64; tok = strtok_r(NULL, " \n", &save)) f[(*n)++] = tok;
    return 1;
}

/* Field 22: the start time in clock ticks since boot (0 if gone). */
static unsigned long long proc_start_ticks(pid_t pid)
{
    char line[1024], *f[64];
    int n;
    return stat_fields(pid, line, f, &n) && n > 22 - 3 ? strtoull(f[22 - 3], NULL, 10) : 0;
}

/* Fields 14-17: CPU seconds of the process and its waited-for children. */
static double proc_cpu_seconds(pid_t pid)
{
    char line[1024], *f[64];
    int n;
    long hz = sysconf(_SC_CLK_TCK);
    if (!stat_fields(pid, line, f, &n) || n <= 17 - 3 || hz <= 0) return 0;
    double ticks = 0;
    for (int field = 14; field <= 17; field++) ticks += strtod(f[field - 3], NULL);
    return ticks / (double)hz;
}

static local_run *find_run(local_exec *x, int64_t id)
{
    for (int i = 0; i < x->nruns; i++)
        if (x->runs[i].job_id == id) return &x->runs[i];
    return NULL;
}

static gf_status local_start(gf_executor *base, const gf_exec_request *r, char handle[GF_EXEC_HANDLE_MAX + 1])
{
    local_exec *x = (local_exec *)base;
    local_run *runs = gf_grow(x->runs, x->nruns, &x->cap, sizeof *runs);
    if (!runs) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    x->runs = runs;
    int offset = choose_cpus(x, r->spec->resources.cores);
    gf_proc *p;
    gf_sandbox *sb = NULL;
    char *dir = NULL;
    gf_status st;
    int ngpus = r->spec->resources.gpus;
    int *gpu = calloc((size_t)(ngpus > 0 ? ngpus : 1), sizeof *gpu);
    if (!gpu) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    if (r->granted && r->granted_cap) r->granted[0] = 0;
    if (gf_gpus_take(&x->gpu_busy, x->gpus.n, ngpus, gpu)) {     /* the scheduler counts: not reached */
        free(gpu);
        return gf_errorf(GF_ERR_ARG, "job %lld: %d GPUs asked, fewer are free", (long long)r->job_id, ngpus);
    }
    if (r->spec->kind == GF_JOB_PROGRAM) {
        const char *devs[GF_GPUS_MAX];
        for (int i = 0; i < ngpus; i++) devs[i] = x->gpus.path[gpu[i]];
        gf_program_run pr;
        gf_program_run_of(r, &pr);
        pr.gpu_devices = devs;
        pr.gpu_index = gpu;
        pr.ngpus = ngpus;
        if (!(dir = strdup(r->job_dir))) st = gf_errorf(GF_ERR_NOMEM, "out of memory");
        else st = gf_program_spawn(&pr, offset, &p, &sb);
        if (st) { free(dir); gf_gpus_release(&x->gpu_busy, gpu, ngpus); free(gpu); return st; }
        goto started;
    }
    char buf[4096], out[PATH_MAX], err[PATH_MAX];
    const char *argv[60];
    int nproc = r->spec->resources.processes > 1 ? r->spec->resources.processes : 1;
    int threads = r->spec->resources.cores / nproc;          /* jobspec: processes divides cores */
    if (gf_exec_train_argv(r, threads, buf, sizeof buf, argv, 60)) {
        gf_gpus_release(&x->gpu_busy, gpu, ngpus);
        free(gpu);
        return gf_errorf(GF_ERR_ARG, "job %lld: its command line is too long", (long long)r->job_id);
    }
    snprintf(out, sizeof out, "%s/stdout.log", r->job_dir);
    snprintf(err, sizeof err, "%s/stderr.log", r->job_dir);
    gf_proc_spec ps = { .argv = argv, .workdir = r->job_dir, .stdout_path = out, .stderr_path = err,
                        .cores = r->spec->resources.cores, .cpu_offset = offset,
                        .memory_mb = r->spec->resources.memory_mb,
                        .time_limit_s = (double)r->spec->resources.time_limit_s };
#if defined(__SANITIZE_ADDRESS__)
    ps.memory_mb = 0;    /* AddressSanitizer reserves terabytes of address space: RLIMIT_AS cannot hold it */
#endif
    char cuda[GF_GPUS_MAX * 4 + 32];          /* gf train is not sandboxed: the granted GPUs by their index */
    char thr[3][48];                          /* each rank's thread pools: its share of the cores */
    snprintf(thr[0], sizeof thr[0], "OMP_NUM_THREADS=%d", threads);
    snprintf(thr[1], sizeof thr[1], "OPENBLAS_NUM_THREADS=%d", threads);
    snprintf(thr[2], sizeof thr[2], "GF_THREADS=%d", threads);
    const char *env[6] = { cuda, thr[0], thr[1], thr[2], NULL, NULL };
    char asan[1024];
    env[4] = gf_exec_train_env(nproc, asan, sizeof asan);
    size_t n = (size_t)snprintf(cuda, sizeof cuda, "CUDA_VISIBLE_DEVICES=");
    for (int i = 0; i < ngpus; i++) n += (size_t)snprintf(cuda + n, sizeof cuda - n, "%s%d", i ? "," : "", gpu[i]);
    ps.env = env;
    if ((st = gf_proc_start(&ps, &p))) { gf_gpus_release(&x->gpu_busy, gpu, ngpus); free(gpu); return st; }
started:
    x->runs[x->nruns++] = (local_run){ .job_id = r->job_id, .proc = p, .cpu_offset = offset,
                                       .cores = r->spec->resources.cores, .sb = sb, .job_dir = dir,
                                       .gpu = gpu, .ngpus = ngpus };
    if (r->granted && r->granted_cap && ngpus > 0) {
        size_t w = 0;
        for (int i = 0; i < ngpus && w < r->granted_cap; i++)
            w += (size_t)snprintf(r->granted + w, r->granted_cap - w, "%s%d (%s)", i ? ", " : "", gpu[i],
                                  x->gpus.path[gpu[i]]);
    }
    mark_cpus(x, offset, r->spec->resources.cores, +1);
    pid_t pid = gf_proc_pid(p);
    snprintf(handle, GF_EXEC_HANDLE_MAX + 1, "%d:%llu", (int)pid, proc_start_ticks(pid));
    return GF_OK;
}

static void fill_times(gf_store_usage *u, const gf_store_exec *run, double end, int cores, int gpus)
{
    u->wall_s = end > run->started_unix ? end - run->started_unix : 0;
    u->core_s = u->wall_s * cores;
    u->gpu_s = u->wall_s * gpus;
    u->ended_unix = end;
    snprintf(u->started_at, sizeof u->started_at, "%s", run->started_at);
    snprintf(u->executor, sizeof u->executor, "local");
}

static gf_status local_poll(gf_executor *base, const gf_store_exec *run, const gf_jobspec *spec, gf_exec_status *out)
{
    local_exec *x = (local_exec *)base;
    memset(out, 0, sizeof *out);
    local_run *lr = find_run(x, run->job_id);
    if (!lr) return gf_errorf(GF_ERR_ARG, "job %lld is not running here", (long long)run->job_id);
    int ended = 0;
    gf_status st = gf_proc_poll(lr->proc, &ended);
    if (st) return st;
    int64_t quota = x->base.max_job_folder_mb << 20;
    if (lr->job_dir && quota > 0 && !lr->over_bytes && (ended || gf_wall_now() - lr->quota_at >= QUOTA_EVERY_S)) {
        int64_t size = 0;
        lr->quota_at = gf_wall_now();
        if (!gf_folder_size(lr->job_dir, quota, &size) && size > quota) {
            lr->over_bytes = size;
            if (!ended) gf_proc_cancel(lr->proc);
        }
    }
    if (!ended) return GF_OK;
    gf_proc_usage pu;
    if ((st = gf_proc_usage_of(lr->proc, &pu))) return st;
    out->ended = 1;
    fill_times(&out->usage, run, gf_wall_now(), run->cores, run->gpus);
    out->usage.wall_s = pu.wall_s;
    out->usage.core_s = pu.wall_s * run->cores;
    out->usage.gpu_s = pu.wall_s * run->gpus;
    out->usage.cpu_s = pu.user_s + pu.sys_s;
    out->usage.peak_mem_kb = pu.max_rss_kb;
    if (lr->sb) gf_program_usage(lr->sb, &out->usage);
    if (lr->over_bytes) {
        out->state = GF_STORE_JOB_FAILED;
        snprintf(out->reason, sizeof out->reason, "job folder quota exceeded: its folder held more than %.1f MiB, "
                 "above the %lld MiB allowed (gf coordinator --max-job-folder-mb); its processes were stopped",
                 (double)lr->over_bytes / (1 << 20), (long long)x->base.max_job_folder_mb);
    } else if (pu.cancelled || run->cancel_requested) {
        out->state = GF_STORE_JOB_CANCELLED;
        snprintf(out->reason, sizeof out->reason, "cancelled; its processes were stopped");
    } else if (pu.timed_out) {
        out->state = GF_STORE_JOB_TIMED_OUT;
        snprintf(out->reason, sizeof out->reason, "time limit of %lld s reached; its processes were stopped",
                 (long long)spec->resources.time_limit_s);
    } else if (lr->sb) {
        int ok;
        gf_program_outcome(lr->sb, &pu, lr->job_dir, run->job_id, spec->resources.memory_mb,
                           spec->program ? spec->program->processes : 1, &ok, out->reason, sizeof out->reason);
        out->state = ok ? GF_STORE_JOB_SUCCEEDED : GF_STORE_JOB_FAILED;
    } else if (pu.exit_code == 0) {
        out->state = GF_STORE_JOB_SUCCEEDED;
        snprintf(out->reason, sizeof out->reason, "gf train exited with status 0");
    } else if (spec->resources.processes > 1) {
        out->state = GF_STORE_JOB_FAILED;
        snprintf(out->reason, sizeof out->reason, "a rank of gf train failed: mpirun (%d ranks) %s %d and stopped "
                 "the others; see gf logs %lld --stderr", spec->resources.processes,
                 pu.signal ? "was killed by signal" : "exited with status", pu.signal ? pu.signal : pu.exit_code,
                 (long long)run->job_id);
    } else if (pu.signal) {
        out->state = GF_STORE_JOB_FAILED;
        snprintf(out->reason, sizeof out->reason, "killed by signal %d (%s)%s", pu.signal, strsignal(pu.signal),
                 pu.signal == SIGKILL || pu.signal == SIGSEGV ? "; it may have run out of memory (memory_mb)" : "");
    } else {
        out->state = GF_STORE_JOB_FAILED;
        snprintf(out->reason, sizeof out->reason, "gf train exited with status %d; see gf logs %lld --stderr",
                 pu.exit_code, (long long)run->job_id);
    }
    gf_proc_free(lr->proc);
    gf_sandbox_free(lr->sb);
    free(lr->job_dir);
    mark_cpus(x, lr->cpu_offset, lr->cores, -1);
    gf_gpus_release(&x->gpu_busy, lr->gpu, lr->ngpus);
    free(lr->gpu);
    *lr = x->runs[--x->nruns];
    return GF_OK;
}

static gf_status local_cancel(gf_executor *base, const gf_store_exec *run)
{
    local_run *lr = find_run((local_exec *)base, run->job_id);
    if (!lr) return gf_errorf(GF_ERR_ARG, "job %lld is not running here", (long long)run->job_id);
    return gf_proc_cancel(lr->proc);
}

/* Latest modification time of the job's output files (when it last did
 * something), or 0. */
static double last_output(const char *job_dir)
{
    static const char *const names[] = {"stdout.log", "stderr.log", "metrics.jsonl", "model.safetensors"};
    double t = 0;
    char p[PATH_MAX];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", job_dir, names[i]);
        if (!stat(p, &sb)) {
            double m = (double)sb.st_mtim.tv_sec + 1e-9 * (double)sb.st_mtim.tv_nsec;
            if (m > t) t = m;
        }
    }
    return t;
}

static gf_status local_adopt(gf_executor *base, const gf_store_exec *run, const gf_jobspec *spec,
                             const char *job_dir, int *attached, gf_exec_status *out)
{
    (void)base;
    memset(out, 0, sizeof *out);
    *attached = 0;
    if (spec && spec->kind == GF_JOB_PROGRAM) gf_sandbox_remove_stale(run->job_id);   /* a dead coordinator's */
    int pid = 0;
    unsigned long long ticks = 0;
    if (sscanf(run->handle, "%d:%llu", &pid, &ticks) != 2 || pid <= 1)
        return gf_errorf(GF_ERR_FORMAT, "job %lld: bad local handle \"%s\"", (long long)run->job_id, run->handle);
    out->ended = 1;
    out->state = GF_STORE_JOB_FAILED;
    double end = gf_wall_now();
    int alive = ticks && proc_start_ticks(pid) == ticks;
    if (alive) {                   /* still running, as an orphan: stop it */
        out->usage.cpu_s = proc_cpu_seconds(pid);
        kill(-pid, SIGKILL);
        snprintf(out->reason, sizeof out->reason, "the coordinator restarted while the job ran; its processes "
                 "(group %d) were stopped, as their exit status could not be read any more", pid);
    } else {
        double t = last_output(job_dir);
        if (t > run->started_unix && t < end) end = t;
        snprintf(out->reason, sizeof out->reason, "the job's processes ended while the coordinator was down; "
                 "its exit status is unknown");
    }
    double cpu = out->usage.cpu_s;
    fill_times(&out->usage, run, end, run->cores, run->gpus);
    out->usage.cpu_s = cpu;
    if (run->cancel_requested) {
        out->state = GF_STORE_JOB_CANCELLED;
        snprintf(out->reason, sizeof out->reason, "cancelled; the coordinator restarted before the job's end "
                 "was seen, its processes were stopped");
    }
    return GF_OK;
}

static void local_free(gf_executor *base)
{
    local_exec *x = (local_exec *)base;
    if (!x) return;
    for (int i = 0; i < x->nruns; i++) {
        gf_proc_free(x->runs[i].proc);
        gf_sandbox_free(x->runs[i].sb);
        free(x->runs[i].job_dir);
        free(x->runs[i].gpu);
    }
    free(x->runs);
    free(x->busy);
    free(x);
}

gf_status gf_executor_local(int cores, const gf_gpu_list *gpus, gf_executor **out)
{
    *out = NULL;
    if (cores < 1 || (gpus && (gpus->n < 0 || gpus->n > GF_GPUS_MAX)))
        return gf_errorf(GF_ERR_ARG, "local executor: needs cores >= 1 and 0..%d GPUs", GF_GPUS_MAX);
    local_exec *x = calloc(1, sizeof *x);
    cpu_set_t allowed;
    int n = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
    if (x) x->busy = calloc((size_t)(n > 0 ? n : 1), sizeof *x->busy);
    if (!x || !x->busy) { free(x); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    x->ncpus = n > 0 ? n : 1;
    if (gpus) x->gpus = *gpus;
    x->base = (gf_executor){ .name = "local", .queues_itself = 0, .cores = cores, .gpus = x->gpus.n,
                             .start = local_start, .poll = local_poll, .cancel = local_cancel,
                             .adopt = local_adopt, .free = local_free };
    *out = &x->base;
    return GF_OK;
}
