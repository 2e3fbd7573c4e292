/* Data parallelism over OpenMPI (train/dist.h); without GF_HAVE_MPI, the
 * one-process stand-in that refuses MPI runs. */
#include "train/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#ifdef GF_HAVE_MPI
#include <mpi.h>
#endif

int gf_dist_available(void)
{
#ifdef GF_HAVE_MPI
    return 1;
#else
    return 0;
#endif
}

int gf_dist_launched(void)
{
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    return s && *s;
}

void gf_dist_shard(const gf_dist *d, int64_t n, int64_t *first, int64_t *count)
{
    int64_t lo = n * d->rank / d->size, hi = n * (d->rank + 1) / d->size;
    *first = lo;
    *count = hi - lo;
}

#ifdef GF_HAVE_MPI

static int env_int(const char *name, int dflt)
{
    const char *s = getenv(name);
    char *end;
    long v = s && *s ? strtol(s, &end, 10) : 0;
    return s && *s && !*end && v > 0 && v < INT_MAX ? (int)v : dflt;
}

gf_status gf_dist_init(int force, gf_dist *d)
{
    *d = (gf_dist){ .rank = 0, .size = 1, .local_size = 1, .mpi = 0 };
    if (!force && !gf_dist_launched()) return GF_OK;
    int inited = 0, provided = 0;
    MPI_Initialized(&inited);
    /* OpenMP threads compute; only the main thread calls MPI */
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return gf_errorf(GF_ERR_IO, "MPI_Init failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    d->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    d->mpi = !inited;
    return GF_OK;
}

void gf_dist_finalize(gf_dist *d)
{
    if (d->mpi) MPI_Finalize();
    d->mpi = 0;
}

void gf_dist_abort(const gf_dist *d, int code)
{
    if (d->size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

gf_status gf_dist_sum_f32(const gf_dist *d, float *buf, int64_t n)
{
    if (d->size <= 1) return GF_OK;
    for (int64_t i = 0; i < n; i += 1 << 30) {      /* MPI counts are int */
        int k = (int)(n - i < (1 << 30) ? n - i : (1 << 30));
        if (MPI_Allreduce(MPI_IN_PLACE, buf + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gf_errorf(GF_ERR_IO, "MPI_Allreduce of %d floats failed", k);
    }
    return GF_OK;
}

gf_status gf_dist_sum_f64(const gf_dist *d, double *buf, int n)
{
    if (d->size <= 1) return GF_OK;
    if (MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return gf_errorf(GF_ERR_IO, "MPI_Allreduce of %d doubles failed", n);
    return GF_OK;
}

gf_status gf_dist_agree(const gf_dist *d, const uint64_t *v, int n, int *same)
{
    enum { MAXV = 16 };
    if (n > MAXV) return gf_errorf(GF_ERR_ARG, "gf_dist_agree: at most %d values", MAXV);
    uint64_t lo[MAXV], hi[MAXV];
    memcpy(lo, v, sizeof(uint64_t) * n);
    memcpy(hi, v, sizeof(uint64_t) * n);
    if (d->size > 1 &&
        (MPI_Allreduce(MPI_IN_PLACE, lo, n, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS ||
         MPI_Allreduce(MPI_IN_PLACE, hi, n, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS))
        return gf_errorf(GF_ERR_IO, "MPI_Allreduce of the ranks' fingerprints failed");
    for (int i = 0; i < n; i++) same[i] = lo[i] == hi[i];
    return GF_OK;
}

#else  /* no MPI in this build: one process */

gf_status gf_dist_init(int force, gf_dist *d)
{
    *d = (gf_dist){ .rank = 0, .size = 1, .local_size = 1, .mpi = 0 };
    if (force || gf_dist_launched())
        return gf_errorf(GF_ERR_ARG, "this gf was built without MPI (install libopenmpi-dev and "
                         "rebuild) but %s", force ? "--mpi was given" : "it was started by mpirun");
    return GF_OK;
}

void gf_dist_finalize(gf_dist *d) { d->mpi = 0; }
void gf_dist_abort(const gf_dist *d, int code) { (void)d; (void)code; }
gf_status gf_dist_sum_f32(const gf_dist *d, float *buf, int64_t n) { return GF_OK; }
gf_status gf_dist_sum_f64(const gf_dist *d, double *buf, int n) { return GF_OK; }
gf_status gf_dist_agree(const gf_dist *d, const uint64_t *v, int n, int *same)
{
    for (int i = 0; i < n; i++) same[i] = 1;
    return GF_OK;
}

#endif
