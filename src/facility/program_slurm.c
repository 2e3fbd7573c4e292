/* The batch command line of a program job under Slurm (program_slurm.h). */
#include "facility/program_slurm.h"
#include "facility/sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/grow.h"

static void add(gf_program_batch *b, const char *s)
{
    if (b->oom) return;
    char **p = gf_grow(b->argv, b->n + 1, &b->cap, sizeof *p);   /* room for s and the closing NULL */
    if (!p) { b->oom = 1; return; }
    b->argv = p;
    if (!(b->argv[b->n] = strdup(s))) { b->oom = 1; return; }
    b->argv[++b->n] = NULL;
}

static void addf(gf_program_batch *b, const char *fmt, long long v)
{
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    add(b, buf);
}

gf_status gf_program_batch_make(const gf_program_run *r, const char *gpu_devices, gf_program_batch *b)
{
    memset(b, 0, sizeof *b);
    char work[PATH_MAX], output[PATH_MAX + 16], log[PATH_MAX + 16];
    gf_status st = gf_program_work_prepare(r, 0, work, output);
    if (st) return st;

    int procs = r->processes > 0 ? r->processes : 1;
    b->cores_per_task = r->cores / procs > 0 ? r->cores / procs : 1;
    add(b, r->gf_path);
    add(b, "program-batch");
    if (procs > 1) {                           /* it picks MASTER_PORT, then srun: one sandbox per rank */
        add(b, "--ranks");
        addf(b, "%lld", procs);
    }
    add(b, "--work");
    add(b, work);
    snprintf(log, sizeof log, "%s/stdout.log", r->job_dir);
    add(b, "--stdout");
    add(b, log);
    snprintf(log, sizeof log, "%s/stderr.log", r->job_dir);
    add(b, "--stderr");
    add(b, log);
    add(b, "--tenant-id");
    addf(b, "%lld", (long long)r->tenant_id);
    add(b, "--cores");
    addf(b, "%lld", b->cores_per_task);
    add(b, "--memory-mb");
    addf(b, "%lld", (long long)r->memory_mb);
    if (r->gpus > 0 && gpu_devices && gpu_devices[0]) {   /* Slurm's GPUs are bound by their files */
        add(b, "--gpu-devices");
        add(b, gpu_devices);
    }
    for (int i = 0; i < r->nenv; i++) { add(b, "--env"); add(b, r->env[i]); }
    for (int i = 0; i < r->ndata; i++) {
        const gf_sandbox_data *d = &r->data[i];
        add(b, d->is_dir ? "--data-dir" : "--data-file");
        add(b, d->name);
        add(b, d->path);
        if (!d->is_dir) add(b, d->test_path ? d->test_path : "");
    }
    add(b, "--");
    for (int i = 0; r->argv[i]; i++) add(b, r->argv[i]);
    if (b->oom) { gf_program_batch_free(b); return gf_errorf(GF_ERR_NOMEM, "out of memory"); }
    return GF_OK;
}

void gf_program_batch_free(gf_program_batch *b)
{
    for (int i = 0; i < b->n; i++) free(b->argv[i]);
    free(b->argv);
    memset(b, 0, sizeof *b);
}
