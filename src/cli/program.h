/* Program jobs at the CLI (program.c): bundles, outputs, metrics. */
#ifndef GF_CLI_PROGRAM_H
#define GF_CLI_PROGRAM_H

#include <jansson.h>
#include "cli/fed.h"

/* POST /v1/jobs/bundle: SPEC + files_dir as a tar stream, or the tar file
 * `bundle` as is. Prints the job id; the exit status. */
int  cli_program_submit(const cli_api *a, const char *spec_path, const char *files_dir, const char *bundle,
                         long *id);
/* Every output (or the one named `file`) into the folder a->out. */
int  cli_program_download(const cli_api *a, long id, const char *file);
void cli_program_status_print(long id, json_t *status);
/* gf program-batch (program_batch.c): a program job's sandbox inside a
 * Slurm batch script or srun task. */
int  cmd_program_batch(int argc, char **argv);

#endif
