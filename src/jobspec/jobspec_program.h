/* Program jobs ("kind": "program"): a tenant's own program, run by the
 * facility in a sandbox (facility/sandbox.h) with the files of its bundle (facility/bundle.h).
 *
 *   {"kind": "program", "name": "fmnist-torch", "tenant": "acme",
 *    "command": ["/usr/bin/python3", "train.py", "--epochs", "2"],
 *    "env": {"TORCH_NUM_THREADS": "2"},
 *    "datasets": ["fashion-mnist"],
 *    "resources": {"cores": 2, "gpus": 0, "memory_mb": 4096,
 *                  "time_limit_s": 3600, "processes": 1}}
 *
 * "command" (required): the argv, 1..256 non-empty strings of < 4096 bytes;
 * never a shell string: nothing is split or expanded. command[0] is an
 * absolute path inside the sandbox, a path relative to the job's folder
 * (/job, the working directory) or a bare name looked up in PATH.
 * "env": additions to the sandbox's clean environment, an object of at most
 * 64 NAME: "value" (< 4096 bytes) pairs, NAME of [A-Za-z_][A-Za-z0-9_]*
 * (at most 128). Refused: the dynamic loader's LD_* (LD_PRELOAD, ...), HOME
 * and GF_* (the facility sets them), RANK, WORLD_SIZE, LOCAL_RANK,
 * LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (set per process). PATH may be set (it only changes where
 * the sandbox looks for programs); other names are free.
 * "datasets": registered dataset names (service/datasets.h) the job reads, at most
 * 16, unique; each appears read-only at /data/NAME. Whether the tenant may
 * read them is checked by the coordinator.
 * "resources": as a central job's (jobspec.h), plus "processes" (1..cores:
 * the ranks the local executor starts under mpirun, facility/sandbox.h); "gpus" at most
 * what the executor has (checked at submission, service/api.c): the sandbox
 * binds the granted GPUs' device files only (facility/gpus.h). */
#ifndef GF_JOBSPEC_JOBSPEC_PROGRAM_H
#define GF_JOBSPEC_JOBSPEC_PROGRAM_H

#include <jansson.h>
#include "core/error.h"
#include "jobspec/jobspec.h"

#define GF_PROGRAM_ARGS_MAX     256
#define GF_PROGRAM_ENV_MAX      64
#define GF_PROGRAM_DATASETS_MAX 16
#define GF_PROGRAM_STR_MAX      4095    /* an argument or an env value, bytes */

struct gf_program_spec {
    char **argv;          /* (argc + 1) malloc'd strings, NULL-terminated */
    int    argc;
    char **env;           /* (nenv) malloc'd "NAME=VALUE", sorted by NAME */
    int    nenv;
    char (*datasets)[GF_JOBSPEC_NAME_MAX + 1];   /* (ndatasets) */
    int    ndatasets;
    int    processes;     /* 1..cores */
};

/* Parses the keys of a program job (root is the spec's top-level object)
 * into out->program and out->resources, with jobspec.h's rules and message
 * style. */
gf_status gf_jobspec_program_parse(const json_t *root, gf_jobspec *out);

/* The canonical JSON of a program spec (keys in a fixed order, env sorted),
 * malloc'd into *out. */
gf_status gf_jobspec_program_json(const gf_jobspec *j, char **out);

void gf_program_spec_free(gf_program_spec *p);

#endif
