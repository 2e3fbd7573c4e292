/* Program jobs on the Slurm executor: the command line of a program job's
 * batch script. The script (facility/slurm.h: the job's folder, its logs, its
 * resources, under the tenant's account) runs `gf program-batch` as root,
 * which runs the program as the tenant's uid in the same bubblewrap sandbox
 * as the local executor (cli/program_batch.c), inside the cgroups Slurm's
 * task/cgroup gives the job (--mem, --cpus-per-task). With "processes" N > 1
 * it gets --ranks N: it picks a free MASTER_PORT on the batch host, then
 * runs itself through `srun --ntasks=N`, one sandbox per rank.
 *
 * Why not `sbatch --uid`: it needs the tenant's uid in the passwd database
 * and as a Slurm user associated with the account, and slurmstepd would
 * still meet the coordinator's 0700 data folder above the job's; the
 * script instead drops to the uid right before bwrap, like the local
 * executor, after staging the job folder in a private mount namespace. */
#ifndef GF_FACILITY_PROGRAM_SLURM_H
#define GF_FACILITY_PROGRAM_SLURM_H

#include "core/error.h"
#include "facility/program.h"

typedef struct {
    char **argv;     /* (n + 1) malloc'd, NULL-terminated */
    int    n, cap;
    int    oom;
    int    cores_per_task;
} gf_program_batch;

/* Creates the job's work folder (work/, work/output) handed to the tenant's
 * uid, and the batch command line: GF program-batch [--ranks N] ... -- ARGV.
 * gpu_devices (NULL: none): the nodes' GPU device files in the order of
 * gres.conf's File= (gf coordinator --gpu-devices), given to a job with
 * GPUs as --gpu-devices: its sandbox binds those Slurm allotted. */
gf_status gf_program_batch_make(const gf_program_run *r, const char *gpu_devices, gf_program_batch *b);
void gf_program_batch_free(gf_program_batch *b);

#endif
