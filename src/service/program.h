/* Program jobs at the coordinator: the facility runs them (facility/program.h,
 * facility/program_slurm.h); here is what needs the coordinator's own
 * state: their datasets resolved by the registry (datasets.h) for the
 * job's tenant, the executor's request made into a gf_program_run, and the
 * sandbox's accounting in a ledger row. */
#ifndef GF_SERVICE_PROGRAM_H
#define GF_SERVICE_PROGRAM_H

#include <limits.h>
#include <stdint.h>
#include "core/error.h"
#include "facility/program.h"
#include "facility/sandbox.h"
#include "jobspec/jobspec.h"
#include "service/executor.h"
#include "service/store.h"

/* The resolved datasets of a program job. */
typedef struct {
    gf_sandbox_data d[GF_SANDBOX_DATA_MAX];     /* (n) point into the arrays below */
    int  n;
    char name[GF_SANDBOX_DATA_MAX][GF_STORE_NAME_MAX + 1];
    char path[GF_SANDBOX_DATA_MAX][PATH_MAX];
    char test[GF_SANDBOX_DATA_MAX][PATH_MAX];
} gf_program_data;

/* Resolves the spec's datasets for tenant_id (datasets.h's checks); *out is
 * malloc'd (free()). GF_ERR_ARG naming the dataset it may not read. */
gf_status gf_program_datasets(gf_store *s, const gf_jobspec *spec, int64_t tenant_id, gf_program_data **out);

/* The program job of executor request r (a program spec), pointing into r. */
void gf_program_run_of(const gf_exec_request *r, gf_program_run *out);

/* Its CPU seconds and peak memory from its cgroups, where they are
 * accounted (else u keeps wait4's). */
void gf_program_usage(const gf_sandbox *sb, gf_store_usage *u);

#endif
