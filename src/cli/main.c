/* gf: the Gigafactory command-line tool. Dispatches to subcommands. */
#include <stdio.h>
#include <string.h>
#include "cli/audit.h"
#include "cli/cli.h"
#include "cli/dp.h"
#include "cli/fed.h"
#include "cli/program.h"
#include "cli/provision.h"

static void usage(FILE *f)
{
    fputs("usage: gf COMMAND [OPTIONS]\n"
          "\n"
          "Train neural networks fast and deterministically (libgf).\n"
          "\n"
          "commands:\n"
          "  train      train a model on a dataset, optionally save/resume a checkpoint\n"
          "  eval       evaluate a saved checkpoint on a dataset's test split\n"
          "  sample     continue a text prompt with a language-model checkpoint\n"
          "  provision  create a federation's certificate authority, coordinator\n"
          "             certificate and site kits; add or revoke sites\n"
          "  audit      verify an audit log's hash chain; append an entry\n"
          "  dp         epsilon of a DP-SGD run; noise multiplier for a target epsilon\n"
          "\n"
          "federation:\n"
          "  coordinator  run the rounds of federated jobs and serve the HTTPS API\n"
          "  site         train on local data for the coordinator; only updates leave\n"
          "  submit       submit a job spec (JSON: federated or central); prints its id\n"
          "  status       a job's state and per-round (per-epoch) metrics\n"
          "  cancel       cancel a job\n"
          "  download     save a job's model (safetensors)\n"
          "\n"
          "facility:\n"
          "  tenant       add, change or list tenants (shares, quotas)\n"
          "  dataset      register (operator) or list the datasets jobs may read\n"
          "  site-grant   grant a tenant the use of a site, revoke it, list the grants\n"
          "  token        create or revoke API tokens\n"
          "  usage        the usage ledger (core-, CPU-, GPU-seconds, memory, bytes)\n"
          "  logs         a central job's stdout or stderr (--follow)\n"
          "  queue        queued central jobs in priority order; the fair-share tree\n"
          "\n"
          "Run 'gf COMMAND --help' for the options of a command.\n", f);
}

int main(int argc, char **argv)
{
    if (argc < 2) { usage(stderr); return 2; }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) { usage(stdout); return 0; }
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample")) return cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "provision")) return cmd_provision(argc - 1, argv + 1);
    if (!strcmp(cmd, "audit")) return cmd_audit(argc - 1, argv + 1);
    if (!strcmp(cmd, "dp")) return cmd_dp(argc - 1, argv + 1);
    if (!strcmp(cmd, "coordinator")) return cmd_coordinator(argc - 1, argv + 1);
    if (!strcmp(cmd, "site")) return cmd_site(argc - 1, argv + 1);
    if (!strcmp(cmd, "submit")) return cmd_submit(argc - 1, argv + 1);
    if (!strcmp(cmd, "status")) return cmd_status(argc - 1, argv + 1);
    if (!strcmp(cmd, "cancel")) return cmd_cancel(argc - 1, argv + 1);
    if (!strcmp(cmd, "download")) return cmd_download(argc - 1, argv + 1);
    if (!strcmp(cmd, "tenant")) return cmd_tenant(argc - 1, argv + 1);
    if (!strcmp(cmd, "dataset")) return cmd_dataset(argc - 1, argv + 1);
    if (!strcmp(cmd, "site-grant")) return cmd_site_grant(argc - 1, argv + 1);
    if (!strcmp(cmd, "token")) return cmd_token(argc - 1, argv + 1);
    if (!strcmp(cmd, "usage")) return cmd_usage(argc - 1, argv + 1);
    if (!strcmp(cmd, "logs")) return cmd_logs(argc - 1, argv + 1);
    if (!strcmp(cmd, "queue")) return cmd_queue(argc - 1, argv + 1);
    if (!strcmp(cmd, "program-batch")) return cmd_program_batch(argc - 1, argv + 1);   /* Slurm's side */
    fprintf(stderr, "gf: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
