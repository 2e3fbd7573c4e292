/* Data-parallel training across processes (MPI): who this process is among
 * the ranks of one run, the sum of a flat buffer over all ranks, agreement
 * checks, and a clean stop of every rank on an error. The trainer uses it to
 * split each global batch into disjoint per-rank shards and to sum the one
 * flat gradient vector (DESIGN.md: a model is one flat vector).
 *
 * A build without OpenMPI (no `pkg-config ompi-c`, or `make MPI=0`) keeps
 * this interface: gf_dist_init then refuses a run launched by mpirun or
 * asked for with --mpi, and everything else runs as one process.
 *
 * A run is distributed when the launcher's environment says so
 * (OMPI_COMM_WORLD_SIZE, set by OpenMPI's mpirun) or when the caller forces
 * it (gf train --mpi); otherwise gf_dist_init gives the one-process view
 * {rank 0, size 1} and never calls MPI. */
#ifndef GF_TRAIN_DIST_H
#define GF_TRAIN_DIST_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int rank, size;          /* this process among `size` ranks */
    int local_size;          /* ranks on this machine (for a default thread count) */
    int mpi;                 /* MPI is initialised (finalise it at the end) */
} gf_dist;

/* 1 if this build has MPI. */
int gf_dist_available(void);
/* 1 if the environment says this process was started by mpirun. */
int gf_dist_launched(void);

/* Initialises MPI when launched by mpirun or when force is set; otherwise
 * (and never touching MPI) *d = {0, 1, 1, 0}. GF_ERR_ARG when MPI is
 * wanted but this build lacks it. */
gf_status gf_dist_init(int force, gf_dist *d);
/* Finalises MPI if gf_dist_init started it. */
void gf_dist_finalize(gf_dist *d);
/* Ends every rank of the run with exit status code (MPI_Abort); a no-op
 * returning for a one-process run. Used on errors so that no rank waits
 * forever for one that has stopped. */
void gf_dist_abort(const gf_dist *d, int code);

/* buf (n) := the element-wise sum of buf over all ranks, in place. */
gf_status gf_dist_sum_f32(const gf_dist *d, float *buf, int64_t n);
gf_status gf_dist_sum_f64(const gf_dist *d, double *buf, int n);
/* For each of the n values: same[i] = 1 iff every rank passed the same v[i]. */
gf_status gf_dist_agree(const gf_dist *d, const uint64_t *v, int n, int *same);

/* Rank r's shard of a global batch of n samples: [*first, *first + *count),
 * contiguous, disjoint, covering 0..n-1 over the ranks in order; sizes
 * differ by at most one and may be 0 when n < size. */
void gf_dist_shard(const gf_dist *d, int64_t n, int64_t *first, int64_t *count);

#endif
