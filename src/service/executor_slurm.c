/* The Slurm executor (executor.h): every central job goes at once to a real
 * slurmctld with sbatch (facility/slurm), under the Slurm account of its
 * tenant (created, and its shares kept equal to the tenant's, before the
 * first job). Slurm queues and prioritises the jobs with its own fair share;
 * its state and its accounting (sacct: CPUTimeRAW, GPU-seconds, MaxRSS,
 * Elapsed) are read back, so the ledger reconciles with sacct exactly.
 *
 * Account names: tenants may use A-Z and '.', Slurm accounts not (sacctmgr
 * lowercases); a tenant's account is its name lowercased with '_' as "__"
 * and '.' as "_d" (account_of: one account per tenant, never shared). */
#include "service/executor.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/grow.h"
#include "core/timer.h"
#include "facility/slurm.h"
#include "jobspec/jobspec_program.h"
#include "facility/program_slurm.h"
#include "service/program.h"

typedef struct { char name[GF_SLURM_ACCOUNT_MAX + 1]; int64_t shares; } known_account;

typedef struct {
    gf_executor    base;
    gf_slurm       slurm;
    char          *conf;
    char          *gpu_devices; /* the nodes' GPU device files in gres.conf's order (gf program-batch); NULL none */
    known_account *accounts;    /* (naccounts) set up with these shares */
    int            naccounts, cap;
} slurm_exec;

static gf_status ensure_account(slurm_exec *x, const char *account, int64_t shares)
{
    for (int i = 0; i < x->naccounts; i++)
        if (!strcmp(x->accounts[i].name, account) && x->accounts[i].shares == shares) return GF_OK;
    gf_status st = gf_slurm_account_set(&x->slurm, account, (int)shares);
    if (st) return st;
    for (int i = 0; i < x->naccounts; i++)
        if (!strcmp(x->accounts[i].name, account)) { x->accounts[i].shares = shares; return GF_OK; }
    known_account *p = gf_grow(x->accounts, x->naccounts, &x->cap, sizeof *p);
    if (!p) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    x->accounts = p;
    snprintf(x->accounts[x->naccounts].name, sizeof x->accounts[0].name, "%s", account);
    x->accounts[x->naccounts++].shares = shares;
    return GF_OK;
}

static gf_status slurm_start(gf_executor *base, const gf_exec_request *r, char handle[GF_EXEC_HANDLE_MAX + 1])
{
    slurm_exec *x = (slurm_exec *)base;
    char account[GF_SLURM_ACCOUNT_MAX + 1], name[80], out[4200], err[4200], buf[4096];
    gf_slurm_account_of_tenant(r->tenant, account);
    gf_status st = ensure_account(x, account, r->tenant_shares);
    if (st) return st;
    const char *argv[60];
    gf_program_batch pb = { 0 };            /* a program job's: gf program-batch in its sandbox */
    int cores = r->spec->resources.cores, ntasks = 1;
    if (r->spec->kind == GF_JOB_PROGRAM) {
        gf_program_run pr;
        gf_program_run_of(r, &pr);
        if ((st = gf_program_batch_make(&pr, x->gpu_devices, &pb))) return st;
        cores = pb.cores_per_task;
        ntasks = r->spec->program->processes > 0 ? r->spec->program->processes : 1;
    } else {
        /* processes > 1: N tasks of cores / N CPUs on one node; the batch script runs mpirun,
         * which starts the N ranks of gf train inside the allocation (executor_local.c) */
        ntasks = r->spec->resources.processes > 1 ? r->spec->resources.processes : 1;
        cores = r->spec->resources.cores / ntasks;
        if (gf_exec_train_argv(r, cores, buf, sizeof buf, argv, 60))
            return gf_errorf(GF_ERR_ARG, "job %lld: its command line is too long", (long long)r->job_id);
    }
    snprintf(name, sizeof name, "gf-%lld", (long long)r->job_id);
    snprintf(out, sizeof out, "%s/stdout.log", r->job_dir);
    snprintf(err, sizeof err, "%s/stderr.log", r->job_dir);
    gf_slurm_job job = { .account = account, .name = name, .workdir = r->job_dir, .stdout_path = out,
                         .stderr_path = err, .cores = cores, .ntasks = ntasks, .gpus = r->spec->resources.gpus,
                         .memory_mb = r->spec->resources.memory_mb, .time_limit_s = r->spec->resources.time_limit_s,
                         .argv = pb.argv ? pb.argv : (char *const *)argv };
    char asan[1024];
    char *const train_env[] = { (char *)gf_exec_train_env(ntasks, asan, sizeof asan), NULL };
    if (!pb.argv && train_env[0]) job.env = train_env;
    int64_t id = 0;
    st = gf_slurm_submit(&x->slurm, &job, &id);
    gf_program_batch_free(&pb);
    if (st) return st;
    snprintf(handle, GF_EXEC_HANDLE_MAX + 1, "%" PRId64, id);
    return GF_OK;
}

/* Slurm's local "YYYY-MM-DDTHH:MM:SS" as Unix time (0 if unknown). */
static double local_to_unix(const char *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (sscanf(t, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    return (double)mktime(&tm);
}

static gf_status slurm_poll(gf_executor *base, const gf_store_exec *run, const gf_jobspec *spec, gf_exec_status *out)
{
    slurm_exec *x = (slurm_exec *)base;
    memset(out, 0, sizeof *out);
    gf_slurm_info in;
    gf_status st = gf_slurm_query(&x->slurm, strtoll(run->handle, NULL, 10), &in);
    if (st) return st;
    if (in.state == GF_SLURM_PENDING) {
        snprintf(out->reason, sizeof out->reason, "%s", in.reason);
        return GF_OK;
    }
    if (in.state == GF_SLURM_RUNNING || in.state == GF_SLURM_OTHER) return GF_OK;
    out->ended = 1;
    gf_store_usage *u = &out->usage;
    u->wall_s = in.elapsed_s;
    u->core_s = in.core_s;
    u->gpu_s = in.gpu_s;
    u->cpu_s = 0;                        /* measured CPU time: not collected without a jobacct plugin */
    u->peak_mem_kb = in.max_rss_kb > 0 ? in.max_rss_kb : 0;
    double end = local_to_unix(in.end);
    u->ended_unix = end > 0 ? end : gf_wall_now();
    snprintf(u->executor, sizeof u->executor, "slurm");
    snprintf(u->started_at, sizeof u->started_at, "%s", run->started_at);   /* submitted; Slurm's start if known */
    double start = local_to_unix(in.start);
    struct tm tm;
    time_t ts = (time_t)start;
    if (start > 0 && gmtime_r(&ts, &tm)) strftime(u->started_at, sizeof u->started_at, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    switch (in.state) {
    case GF_SLURM_COMPLETED:
        out->state = GF_STORE_JOB_SUCCEEDED;
        snprintf(out->reason, sizeof out->reason, "Slurm job %s COMPLETED (exit 0)", run->handle);
        break;
    case GF_SLURM_CANCELLED:
        out->state = GF_STORE_JOB_CANCELLED;
        snprintf(out->reason, sizeof out->reason, "Slurm job %s CANCELLED", run->handle);
        break;
    case GF_SLURM_TIMEOUT:
        out->state = GF_STORE_JOB_TIMED_OUT;
        snprintf(out->reason, sizeof out->reason, "Slurm job %s TIMEOUT: time limit of %lld s (rounded up to "
                 "minutes for Slurm) reached", run->handle, (long long)spec->resources.time_limit_s);
        break;
    default:
        out->state = run->cancel_requested ? GF_STORE_JOB_CANCELLED : GF_STORE_JOB_FAILED;
        if (!strcmp(in.state_name, "OUT_OF_MEMORY") && !run->cancel_requested) {   /* task/cgroup's OOM kill */
            snprintf(out->reason, sizeof out->reason, "out of memory: Slurm job %s OUT_OF_MEMORY: the job used its "
                     "whole memory_mb (%lld MiB) and the kernel killed it", run->handle,
                     (long long)spec->resources.memory_mb);
            break;
        }
        snprintf(out->reason, sizeof out->reason, "Slurm job %s %s (exit %d%s%s)", run->handle, in.state_name,
                 in.exit_code, in.signal ? ", signal " : "", in.signal ? strsignal(in.signal) : "");
    }
    return GF_OK;
}

static gf_status slurm_cancel(gf_executor *base, const gf_store_exec *run)
{
    slurm_exec *x = (slurm_exec *)base;
    return gf_slurm_cancel(&x->slurm, strtoll(run->handle, NULL, 10));
}

static gf_status slurm_adopt(gf_executor *base, const gf_store_exec *run, const gf_jobspec *spec, const char *job_dir,
                             int *attached, gf_exec_status *out)
{
    (void)base;
    (void)spec;
    (void)job_dir;
    memset(out, 0, sizeof *out);
    char *end;
    long long id = strtoll(run->handle, &end, 10);
    if (id <= 0 || *end) return gf_errorf(GF_ERR_FORMAT, "job %lld: bad Slurm job id \"%s\"", (long long)run->job_id, run->handle);
    *attached = 1;                      /* Slurm kept it: follow it on */
    return GF_OK;
}

static void slurm_free(gf_executor *base)
{
    slurm_exec *x = (slurm_exec *)base;
    if (!x) return;
    free(x->conf);
    free(x->gpu_devices);
    free(x->accounts);
    free(x);
}

gf_status gf_executor_slurm(const char *conf, const char *gpu_devices, gf_executor **out)
{
    *out = NULL;
    slurm_exec *x = calloc(1, sizeof *x);
    if (!x) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    if ((conf && !(x->conf = strdup(conf))) || (gpu_devices && gpu_devices[0] && !(x->gpu_devices = strdup(gpu_devices)))) {
        free(x->conf);
        free(x);
        return gf_errorf(GF_ERR_NOMEM, "out of memory");
    }
    x->slurm.conf = x->conf;
    x->base = (gf_executor){ .name = "slurm", .queues_itself = 1, .start = slurm_start, .poll = slurm_poll,
                             .cancel = slurm_cancel, .adopt = slurm_adopt, .free = slurm_free };
    *out = &x->base;
    return GF_OK;
}
