/* Program jobs on the local executor: what the coordinator does around the
 * sandbox (facility/sandbox.h) of a "kind": "program" job.
 *
 * A job's folder DATA/jobs/ID holds the coordinator's files (stdout.log,
 * stderr.log); its sub-folder work/ is the program's /job: the bundle's
 * files (facility/bundle.h), output/ ($GF_OUTPUT) and metrics.jsonl ($GF_METRICS),
 * handed to the job's Unix user. Everything under work/ is the program's:
 * the coordinator reads it only through gf_program_open_output (no link
 * followed, regular files only). */
#ifndef GF_SERVICE_PROGRAM_H
#define GF_SERVICE_PROGRAM_H

#include <limits.h>
#include <stdint.h>
#include "core/error.h"
#include "facility/proc.h"
#include "facility/sandbox.h"
#include "service/executor.h"
#include "jobspec/jobspec.h"
#include "service/store.h"

#define GF_PROGRAM_WORK "work"      /* DATA/jobs/ID/work: the program's /job */

/* The resolved datasets of a program job. */
typedef struct {
    gf_sandbox_data d[GF_SANDBOX_DATA_MAX];     /* (n) point into the arrays below */
    int  n;
    char name[GF_SANDBOX_DATA_MAX][GF_STORE_NAME_MAX + 1];
    char path[GF_SANDBOX_DATA_MAX][PATH_MAX];
    char test[GF_SANDBOX_DATA_MAX][PATH_MAX];
} gf_program_data;

/* Whether a queued program job's work folder is in place (the submission
 * creates it, with the bundle's files, once the job exists): the scheduler
 * starts no program job before. */
int gf_program_ready(const char *job_dir);

/* Resolves the spec's datasets for tenant_id (datasets.h's checks); *out is
 * malloc'd (free()). GF_ERR_ARG naming the dataset it may not read. */
gf_status gf_program_datasets(gf_store *s, const gf_jobspec *spec, int64_t tenant_id, gf_program_data **out);

/* Creates job_dir/work and work/output (kept when they exist: a bundle
 * unpacked there) and hands them to the tenant's sandbox user, then starts
 * the program in its sandbox. */
gf_status gf_program_spawn(const gf_exec_request *r, int cpu_offset, gf_proc **proc, gf_sandbox **sb);

/* How an ended program job ended (not cancelled, not timed out): state and
 * reason, from its out-of-memory kills, exit status and stderr. */
void gf_program_outcome(const gf_sandbox *sb, const gf_proc_usage *pu, const char *job_dir, int64_t job_id,
                        int64_t memory_mb, int processes, gf_exec_status *out);

/* Its CPU seconds and peak memory from its cgroups, where they are
 * accounted (else u keeps wait4's). */
void gf_program_usage(const gf_sandbox *sb, gf_store_usage *u);

/* Opens job_dir/work/rel (rel: "output/NAME..." or "metrics.jsonl") for
 * reading without following any link, refusing "..", absolute paths and
 * anything but a regular file. An fd, or -1 with errno (ENOENT, EINVAL for
 * a refused name, ELOOP for a link, EISDIR/EPERM for a non-regular file). */
int gf_program_open_output(const char *job_dir, const char *rel);

#endif
