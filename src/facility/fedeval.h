/* Held-out evaluation of a federated job's global model, outside the
 * coordinator's process: a child `gf eval` reads the round's checkpoint and
 * the registered eval set (service/datasets.h), under a memory and a time limit,
 * with its stderr discarded. The coordinator reads back only the accuracy
 * from the child's JSON line; a failure is reported in our own words (exit
 * status, signal, time limit), never with the child's output, so no byte of
 * a data file can reach a job's reason, its state log or the audit log, and
 * a hostile or broken file cannot take the coordinator's memory. */
#ifndef GF_FACILITY_FEDEVAL_H
#define GF_FACILITY_FEDEVAL_H

#include <stddef.h>
#include <stdint.h>
#include "core/error.h"

typedef struct {
    const char *gf_path;      /* the gf binary */
    const char *model_file;   /* the round's checkpoint (gf eval --model-file) */
    const char *data_spec;    /* resolved reader spec of the eval set */
    int         train_split;  /* 1: evaluate the train split, else the test split */
    const char *out_path;     /* where the child's stdout goes (replaced each time) */
    int         threads;
    int64_t     memory_mb;    /* RLIMIT_AS of the child (0: none) */
    double      time_limit_s;
} gf_fedeval_request;

/* Runs the evaluation and waits for it: GF_OK with *accuracy, or an error
 * whose message is ours alone. */
gf_status gf_fedeval_run(const gf_fedeval_request *r, double *accuracy);

#endif
