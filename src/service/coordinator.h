/* The coordinator process of a federation: an HTTPS API (docs/api.md) for the
 * operator (submit, list, status, cancel, download) and for the sites (long-
 * poll for a task, download the round's model, upload the update), the
 * rounds of every running federated job driven by one thread, state in
 * SQLite and checkpoints as safetensors under the data folder, and every
 * decision and refusal in the hash-chained audit log.
 *
 * Data folder layout: state.db (the store), audit.log, artifacts/job-ID/
 * round-R.safetensors (the global model and strategy state after round R;
 * the latest two are kept).
 *
 * Crash safety: a round's checkpoint is written (atomically) before the
 * store marks the round completed, and the store is the truth: after a
 * kill -9 the coordinator resumes every running job from the round the
 * store says completed, aborts the round that was open (its updates were
 * only in memory), and sites carry on by polling again. */
#ifndef GF_SERVICE_COORDINATOR_H
#define GF_SERVICE_COORDINATOR_H

#include <stddef.h>
#include "core/error.h"

typedef struct {
    const char *data_dir;        /* created 0700 when missing */
    const char *tls_dir;         /* provisioning folder (gf provision --out) */
    const char *listen_host;     /* NULL: all interfaces */
    int         port;            /* 0: ephemeral (gf_coordinator_port) */
    size_t      max_body;        /* largest upload; 0: 64 MiB + the model size of the job */
    int         body_slots;      /* upload bodies held at once (the memory bound); 0: 1 */
    int         body_timeout_s;  /* a request's body must arrive within this many seconds of
                                    its headers; 0: 300 */
    int         header_timeout_s;   /* a connection's TLS handshake and first headers; 0: 10 */
    int         per_ip_connections; /* connections from one address at once; 0: 64 */
    double      site_timeout_s;  /* a site unseen this long is offline; 0: 60 */
    int         eval_threads;    /* threads of the held-out evaluation; 0: 1 */
    int         aggregation_threads;   /* OpenMP threads of the coordinator's own loops (aggregation,
                                    central noise, unmasking) on its driver and request threads;
                                    0: 1 (a service shares its machine with the jobs it runs) */
    int64_t     eval_memory_mb;  /* its address-space limit (it runs as a child, facility/fedeval.h); 0: 8192,
                                    none in sanitizer builds (they reserve terabytes of address space) */
    double      eval_time_limit_s;   /* its time limit per round; 0: 600 */
    /* federated jobs (jobspec/fedcaps.h): checked at submission and again at
     * bring-up; the operator's own jobs (no tenant) are not counted */
    int64_t     max_model_params;         /* a model's parameters; 0: 50 million */
    int         max_fed_jobs_per_tenant;  /* a tenant's queued + running federated jobs; 0: 8 */
    void      (*log)(const char *line);   /* progress lines; may be NULL */
    /* central jobs */
    const char *executor;        /* "local" (default) | "slurm" */
    int         cores, gpus;     /* the local executor's slots; cores 0: all of this machine's;
                                    gpus: 0 or the number of gpu_devices (else refused) */
    const char *gpu_devices;     /* the local executor's GPUs: their device files, comma-separated
                                    (facility/gpus.h); NULL or "": none. Slurm: the nodes' GPU
                                    files in gres.conf's order, checked on the node by gf
                                    program-batch, which binds those Slurm allotted */
    int64_t     memory_mb;       /* the local executor's memory for jobs (MiB, against each job's
                                    memory_mb); 0: this machine's (MemTotal of /proc/meminfo) */
    const char *slurm_conf;      /* SLURM_CONF for the Slurm executor; NULL: Slurm's default */
    double      fairshare_half_life_s;  /* usage decay; 0: 7 days (Slurm's default) */
    const char *gf_path;         /* the gf binary central jobs run; NULL: /proc/self/exe */
    int64_t     max_job_folder_mb;   /* a program job's folder (files, outputs, logs) on the local
                                        executor, checked while it runs; 0: 10240 MiB */
    int64_t     max_bundle_bytes;/* a program job's bundle, unpacked (facility/bundle.h); 0: 256 MiB */
} gf_coordinator_config;

typedef struct gf_coordinator gf_coordinator;

/* Opens the store and the audit log, resumes running jobs, starts serving.
 * GF_ERR_IO when the address cannot be bound or the data folder is
 * unusable. */
gf_status gf_coordinator_start(const gf_coordinator_config *cfg, gf_coordinator **out);
int       gf_coordinator_port(const gf_coordinator *c);
/* Stops serving (wakes long-polls), stops the driver, closes everything.
 * Open rounds stay open in the store; the next start aborts and reruns them. */
void      gf_coordinator_stop(gf_coordinator *c);

#endif
