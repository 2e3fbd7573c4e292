/* Program jobs at the coordinator (see program.h): their datasets, their
 * request to the facility and their accounting. */
#include "service/program.h"
#include "service/datasets.h"
#include "jobspec/jobspec_program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gf_status gf_program_datasets(gf_store *s, const gf_jobspec *spec, int64_t tenant_id, gf_program_data **out)
{
    *out = NULL;
    const gf_program_spec *p = spec->program;
    if (!p) return gf_errorf(GF_ERR_ARG, "not a program job");
    gf_program_data *pd = calloc(1, sizeof *pd);
    if (!pd) return gf_errorf(GF_ERR_NOMEM, "out of memory");
    for (int i = 0; i < p->ndatasets; i++) {
        char rs[GF_DATASET_SPEC_MAX], msg[512];
        gf_status st = gf_datasets_resolve(s, p->datasets[i], tenant_id, rs, sizeof rs);
        if (st) {
            snprintf(msg, sizeof msg, "%s", gf_last_error());
            free(pd);
            return gf_errorf(st, "datasets[%d]: %s", i, msg);
        }
        if (strlen(rs) >= PATH_MAX) {                       /* a path that would be cut short */
            free(pd);
            return gf_errorf(GF_ERR_ARG, "datasets[%d]: its path is longer than %d bytes", i, PATH_MAX - 1);
        }
        gf_sandbox_data *d = &pd->d[pd->n];
        snprintf(pd->name[pd->n], sizeof pd->name[0], "%s", p->datasets[i]);
        d->name = pd->name[pd->n];
        d->path = pd->path[pd->n];
        if (!strcmp(rs, GF_DATASET_BUILTIN)) {                 /* Debian's dataset-fashion-mnist */
            snprintf(pd->path[pd->n], PATH_MAX, "/usr/share/datasets/fashion-mnist");
            d->is_dir = 1;
        } else if (!strncmp(rs, "idx:", 4)) {
            snprintf(pd->path[pd->n], PATH_MAX, "%.*s", PATH_MAX - 1, rs + 4);   /* fits: checked above */
            d->is_dir = 1;
        } else if (!strncmp(rs, "csv:", 4)) {                   /* csv:PATH,label=L[,test=T]; no ',' in paths */
            const char *comma = strchr(rs + 4, ','), *test = strstr(rs, ",test=");
            snprintf(pd->path[pd->n], PATH_MAX, "%.*s", (int)(comma ? comma - rs - 4 : (long)strlen(rs + 4)), rs + 4);
            if (test) {
                snprintf(pd->test[pd->n], PATH_MAX, "%s", test + 6);
                d->test_path = pd->test[pd->n];
            }
        } else {
            free(pd);
            return gf_errorf(GF_ERR_IO, "datasets[%d]: \"%s\" has a form program jobs cannot read", i, p->datasets[i]);
        }
        pd->n++;
    }
    *out = pd;
    return GF_OK;
}

void gf_program_run_of(const gf_exec_request *r, gf_program_run *out)
{
    const gf_jobspec *s = r->spec;
    *out = (gf_program_run){ .job_id = r->job_id, .tenant_id = r->tenant_id, .job_dir = r->job_dir,
                             .gf_path = r->gf_path, .argv = (const char *const *)s->program->argv,
                             .env = (const char *const *)s->program->env, .nenv = s->program->nenv,
                             .cores = s->resources.cores, .gpus = s->resources.gpus,
                             .processes = s->program->processes, .memory_mb = s->resources.memory_mb,
                             .time_limit_s = s->resources.time_limit_s, .data = r->data, .ndata = r->ndata,
                             .gpu_devices = r->gpu_devices, .gpu_index = r->gpu_index, .ngpus = r->ngpus };
}

void gf_program_usage(const gf_sandbox *sb, gf_store_usage *u)
{
    double cpu;
    int64_t peak;
    gf_sandbox_usage(sb, &cpu, &peak);
    if (cpu >= 0) u->cpu_s = cpu;
    if (peak >= 0) u->peak_mem_kb = peak;
}
