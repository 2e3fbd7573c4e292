/* Which BLAS kernels the engine runs (src/engine/blas_select.c).
 *
 * The engine's GEMMs go through gf_blas_sgemm. The first call of any
 * function here loads OpenBLAS, once per process, choosing
 *  - the flavour: the OpenMP build by path (Debian's libopenblas0-openmp),
 *    whatever libopenblas.so.0 Debian's alternatives point at, so BLAS and
 *    the engine's OpenMP loops share one thread pool; the loader's
 *    libopenblas.so.0 only when that file is missing;
 *  - the core: OpenBLAS's DYNAMIC_ARCH build picks its kernels in its library
 *    constructor from a table of CPU models. Where that table sends the CPU
 *    to the generic pre-AVX Prescott kernels although the CPU has AVX (Intel
 *    family 6 models newer than the release knows, up to 0.3.24; Intel
 *    family 15 and above, every release), OPENBLAS_CORETYPE is set for the
 *    constructor to the best core the CPU supports (SkylakeX, Haswell,
 *    Sandybridge) and removed again right after, so child processes see the
 *    user's environment. A user's OPENBLAS_CORETYPE is never overridden.
 * The first call briefly changes the environment: make it before other
 * threads start (the CLI does, when it sets the thread count).
 *
 * GF_TEST_BLAS_UNKNOWN_CPU=1 (tests only) makes the choice treat the CPU as
 * one OpenBLAS does not know, so the fallback path runs on any machine. */
#ifndef GF_ENGINE_BLAS_SELECT_H
#define GF_ENGINE_BLAS_SELECT_H

#include <cblas.h>
#include <stdint.h>
#include "core/error.h"

/* The CPUID words the choice depends on. */
typedef struct {
    char vendor[13];      /* leaf 0: "GenuineIntel", "AuthenticAMD", ... */
    uint32_t leaf1_eax;   /* family, model, stepping */
    uint32_t leaf1_ecx;   /* FMA (12), OSXSAVE (27), AVX (28) */
    uint32_t leaf7_ebx;   /* AVX2 (5), AVX-512 F (16) DQ (17) CD (28) BW (30) VL (31) */
    uint64_t xcr0;        /* state the OS saves: YMM (bits 1-2), ZMM (5-7) */
} gf_cpuid;

/* What was loaded, for reports ("blas" fields of `gf train --json`). */
typedef struct {
    const char *library;     /* the file loaded */
    const char *config;      /* openblas_get_config() */
    const char *core;        /* openblas_get_corename() */
    const char *threading;   /* "openmp" | "pthreads" | "sequential" */
    const char *core_source; /* "openblas" (its own detection) | "gf" (set for a
                                CPU OpenBLAS does not know) | "OPENBLAS_CORETYPE" */
} gf_blas_info;

/* The CPUID words of the CPU this runs on (zeros off x86). */
void gf_cpuid_read(gf_cpuid *c);

/* Decimal OpenBLAS version in a library file's real name
 * (libopenblasp-r0.3.21.so -> 321), or 0 when it cannot be told. */
int gf_blas_version_of(const char *path);

/* The core to set for OpenBLAS `version` (321 = 0.3.21, 0 = unknown: assume
 * an old one) on CPU `c`, or NULL to leave OpenBLAS's own detection alone.
 * `unknown_cpu` forces the case of a model OpenBLAS's table lacks. */
const char *gf_blas_core_for(const gf_cpuid *c, int version, int unknown_cpu);

/* Loads OpenBLAS (once; later calls return the first result). */
gf_status gf_blas_load(void);

/* What was loaded, or NULL if loading failed (gf_last_error says why). */
const gf_blas_info *gf_blas_info_get(void);

/* BLAS threads outside parallel regions (loads first). */
void gf_blas_set_threads(int threads);

/* cblas_sgemm of the loaded library. If OpenBLAS cannot be loaded, C is set
 * to NaN (gf_blas_load reports why; gf_model_create fails before this). */
void gf_blas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                   int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc);

#endif
