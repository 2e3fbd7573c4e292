/* blas_select.c -- owns which BLAS kernels the engine runs: reads CPUID,
 * decides whether OpenBLAS's own core detection is to be trusted for this
 * CPU, loads the OpenMP build of OpenBLAS by path, and forwards the engine's
 * GEMMs to it. The rules and their reasons are in blas_select.h. */
#include "engine/blas_select.h"

#include <dlfcn.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifndef GF_OPENBLAS_OPENMP   /* set by the Makefile from the compiler's multiarch */
#define GF_OPENBLAS_OPENMP "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0"
#endif

void gf_cpuid_read(gf_cpuid *c)
{
    memset(c, 0, sizeof *c);
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, cx, d, max;
    if (!__get_cpuid(0, &max, &b, &cx, &d)) return;
    memcpy(c->vendor, &b, 4);
    memcpy(c->vendor + 4, &d, 4);
    memcpy(c->vendor + 8, &cx, 4);
    if (max >= 1 && __get_cpuid(1, &a, &b, &cx, &d)) {
        c->leaf1_eax = a;
        c->leaf1_ecx = cx;
    }
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c->leaf7_ebx = b;
    }
    if (c->leaf1_ecx & (1u << 27)) {   /* OSXSAVE: xgetbv is allowed */
        unsigned lo, hi;
        __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
        c->xcr0 = ((uint64_t)hi << 32) | lo;
    }
#endif
}

int gf_blas_version_of(const char *path)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) return 0;
    const char *r = strstr(real, "-r0.");   /* libopenblas[p|o]-r0.3.21.so */
    int major, minor;
    if (!r || sscanf(r, "-r0.%d.%d", &major, &minor) != 2 || major < 0 || minor < 0 || minor > 99)
        return 0;
    return major * 100 + minor;
}

/* The best core of OpenBLAS 0.3.21's names that the CPU and OS support. */
static const char *best_core(const gf_cpuid *c)
{
    int avx = (c->leaf1_ecx & (1u << 28)) && (c->xcr0 & 0x6) == 0x6;
    int fma = (c->leaf1_ecx >> 12) & 1;
    int avx2 = avx && ((c->leaf7_ebx >> 5) & 1);
    const uint32_t avx512 = (1u << 16) | (1u << 17) | (1u << 28) | (1u << 30) | (1u << 31);
    if (avx2 && fma && (c->leaf7_ebx & avx512) == avx512 && (c->xcr0 & 0xe0) == 0xe0) return "SkylakeX";
    if (avx2 && fma) return "Haswell";
    if (avx) return "Sandybridge";
    return NULL;
}

const char *gf_blas_core_for(const gf_cpuid *c, int version, int unknown_cpu)
{
    if (strcmp(c->vendor, "GenuineIntel") != 0 && !unknown_cpu) return NULL;
    unsigned family = (c->leaf1_eax >> 8) & 0xf, exmodel = (c->leaf1_eax >> 16) & 0xf;
    /* OpenBLAS's get_coretype() for Intel: family 6 switches on the extended
     * model and knows 0..10; until 0.3.25 an unknown one falls through into
     * the family-15 case, which (every release) answers Prescott. Where it
     * returns NULL instead, OpenBLAS picks by CPU features itself. */
    int generic = unknown_cpu || family == 0xf || (family == 6 && exmodel > 10 && version < 325);
    return generic ? best_core(c) : NULL;
}

/* The loaded library and what it reported. */
static struct {
    pthread_once_t once;
    gf_status status;
    char error[512];
    gf_blas_info info;
    char library[PATH_MAX];
    void (*sgemm)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint,
                  blasint, float, const float *, blasint, const float *, blasint, float, float *, blasint);
    void (*set_threads)(int);
} blas = { .once = PTHREAD_ONCE_INIT };

static void *sym(void *h, const char *name, int *missing)
{
    void *p = dlsym(h, name);
    if (!p) *missing = 1;
    return p;
}

static void blas_open(void)
{
    const char *path = GF_OPENBLAS_OPENMP;
    if (access(path, R_OK) != 0) path = "libopenblas.so.0";   /* the loader's choice */
    const char *user = getenv("OPENBLAS_CORETYPE");
    const char *set = NULL;
    if (!user) {   /* set, even empty, it is the user's: OpenBLAS reads it as given */
        gf_cpuid c;
        gf_cpuid_read(&c);
        const char *t = getenv("GF_TEST_BLAS_UNKNOWN_CPU");
        set = gf_blas_core_for(&c, gf_blas_version_of(path), t && strcmp(t, "1") == 0);
    }
    if (set) setenv("OPENBLAS_CORETYPE", set, 1);   /* read by the library's constructor */
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (set) unsetenv("OPENBLAS_CORETYPE");
    if (!h) {
        const char *e = dlerror();
        blas.status = gf_errorf(GF_ERR_IO, "cannot load OpenBLAS (%s): %s; install libopenblas0-openmp",
                                path, e ? e : "unknown error");
        snprintf(blas.error, sizeof blas.error, "%s", gf_last_error());
        return;
    }
    int missing = 0;
    char *(*config)(void) = (char *(*)(void))sym(h, "openblas_get_config", &missing);
    char *(*core)(void) = (char *(*)(void))sym(h, "openblas_get_corename", &missing);
    int (*parallel)(void) = (int (*)(void))sym(h, "openblas_get_parallel", &missing);
    *(void **)&blas.sgemm = sym(h, "cblas_sgemm", &missing);
    *(void **)&blas.set_threads = sym(h, "openblas_set_num_threads", &missing);
    if (missing) {
        blas.sgemm = NULL;
        blas.status = gf_errorf(GF_ERR_FORMAT, "%s is not OpenBLAS (no cblas_sgemm, "
                                "openblas_get_config, openblas_get_corename, openblas_get_parallel or "
                                "openblas_set_num_threads)", path);
        snprintf(blas.error, sizeof blas.error, "%s", gf_last_error());
        return;
    }
    Dl_info di;   /* the file actually mapped, also when the loader searched */
    snprintf(blas.library, sizeof blas.library, "%s",
             dladdr((void *)blas.sgemm, &di) && di.dli_fname ? di.dli_fname : path);
    int p = parallel();
    blas.info = (gf_blas_info){
        .library = blas.library, .config = config(), .core = core(),
        .threading = p == 2 ? "openmp" : p == 1 ? "pthreads" : "sequential",
        .core_source = user ? "OPENBLAS_CORETYPE" : set ? "gf" : "openblas",
    };
}

gf_status gf_blas_load(void)
{
    pthread_once(&blas.once, blas_open);
    return blas.status ? gf_errorf(blas.status, "%s", blas.error) : GF_OK;
}

const gf_blas_info *gf_blas_info_get(void)
{
    return gf_blas_load() ? NULL : &blas.info;
}

void gf_blas_set_threads(int threads)
{
    if (!gf_blas_load()) blas.set_threads(threads);
}

void gf_blas_sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb,
                   int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc)
{
    if (gf_blas_load()) {
        for (int i = 0; i < M; i++)   /* no BLAS: make the failure visible */
            for (int j = 0; j < N; j++)
                C[order == CblasRowMajor ? (size_t)i * ldc + j : (size_t)j * ldc + i] = NAN;
        return;
    }
    blas.sgemm(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
