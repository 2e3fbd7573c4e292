/* Tests for the engine's BLAS choice (engine/blas_select.c):
 *  - the core chosen for recorded CPUID words: Intel family 6 model 207 (an
 *    Emerald Rapids Xeon, newer than OpenBLAS 0.3.21's table: Prescott there),
 *    Raptor Lake (AVX2 only, also unknown to 0.3.21), CPUs OpenBLAS knows
 *    (Sapphire Rapids, Haswell, AMD EPYC Genoa) left alone, a future Intel
 *    family, an OS that does not save ZMM registers, OpenBLAS releases that
 *    fixed the fall-through;
 *  - the version read from a library's real file name;
 *  - this process, nothing set: the OpenMP build is loaded (even where
 *    Debian's alternatives point libopenblas.so.0 at the pthreads build) and
 *    on a CPU with AVX2 the core is not a generic one; sgemm computes a GEMM;
 *  - child processes: with GF_TEST_BLAS_UNKNOWN_CPU=1 (the CPU treated as one
 *    OpenBLAS does not know, so the fallback runs on any machine) the core is
 *    the best one the CPU's /proc/cpuinfo flags allow and the environment is
 *    restored afterwards; a user's OPENBLAS_CORETYPE is respected. */
#include "engine/blas_select.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *str_or(const char *s) { return s ? s : "(none)"; }

static int streq(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

/* This machine's model 207: AVX-512 F/DQ/CD/BW/VL, OS saves ZMM (xcr0 0xe7). */
#define ECX_AVX 0xfffa3203u
#define EBX7_AVX512 0xf1bf2ffbu
#define EBX7_AVX2 0x239c27ebu   /* AVX2, no AVX-512 */

static void test_decision(void)
{
    static const struct {
        const char *what;
        gf_cpuid c;
        int version, unknown;
        const char *want;
    } cases[] = {
        {"model 207, 0.3.21", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0xe7}, 321, 0, "SkylakeX"},
        {"model 207, version unknown", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0xe7}, 0, 0, "SkylakeX"},
        {"model 207, 0.3.24", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0xe7}, 324, 0, "SkylakeX"},
        {"model 207, 0.3.26 picks by features itself", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0xe7}, 326, 0, NULL},
        {"model 207, OS without ZMM state", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0x07}, 321, 0, "Haswell"},
        {"model 207, AVX-512 without BW", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512 & ~(1u << 30), 0xe7}, 321, 0, "Haswell"},
        {"model 207, OS without YMM state", {"GenuineIntel", 0x000c06f2, ECX_AVX, EBX7_AVX512, 0x03}, 321, 0, NULL},
        {"Raptor Lake (model 183), 0.3.21", {"GenuineIntel", 0x000b0671, ECX_AVX, EBX7_AVX2, 0x07}, 321, 0, "Haswell"},
        {"Raptor Lake, 0.3.25", {"GenuineIntel", 0x000b0671, ECX_AVX, EBX7_AVX2, 0x07}, 325, 0, NULL},
        {"Sapphire Rapids (model 143), known", {"GenuineIntel", 0x000806f8, ECX_AVX, EBX7_AVX512, 0xe7}, 321, 0, NULL},
        {"Haswell (model 60), known", {"GenuineIntel", 0x000306c3, 0x7ffafbff, 0x000027ab, 0x07}, 321, 0, NULL},
        {"AMD EPYC Genoa, known", {"AuthenticAMD", 0x00a10f11, 0x7ef8320b, 0xf1bf03a9, 0xe7}, 321, 0, NULL},
        {"Intel family 19 (15 + 4), any release", {"GenuineIntel", 0x00410f01, ECX_AVX, EBX7_AVX512, 0xe7}, 328, 0, "SkylakeX"},
        {"Pentium 4, no AVX", {"GenuineIntel", 0x00000f41, 0x0000441d, 0, 0}, 321, 0, NULL},
        {"Sapphire Rapids treated as unknown", {"GenuineIntel", 0x000806f8, ECX_AVX, EBX7_AVX512, 0xe7}, 321, 1, "SkylakeX"},
        {"Genoa treated as unknown", {"AuthenticAMD", 0x00a10f11, 0x7ef8320b, 0xf1bf03a9, 0xe7}, 326, 1, "SkylakeX"},
        {"AVX-only Intel treated as unknown", {"GenuineIntel", 0x000206a7, 0x1fbae3ff, 0, 0x07}, 321, 1, "Sandybridge"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = gf_blas_core_for(&cases[i].c, cases[i].version, cases[i].unknown);
        CHECK_MSG(streq(got, cases[i].want), "%s: got %s, want %s", cases[i].what, str_or(got),
                  str_or(cases[i].want));
    }
}

static void test_version(void)
{
    char dir[] = "/tmp/gf-blas-XXXXXX", file[128], link[128], plain[128];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/libopenblasp-r0.3.21.so", dir);
    snprintf(link, sizeof link, "%s/libopenblas.so.0", dir);
    snprintf(plain, sizeof plain, "%s/libblas.so.3", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    f = fopen(plain, "w");
    if (f) fclose(f);
    CHECK(symlink("libopenblasp-r0.3.21.so", link) == 0);
    CHECK(gf_blas_version_of(link) == 321);     /* through the symlink */
    CHECK(gf_blas_version_of(file) == 321);
    CHECK(gf_blas_version_of(plain) == 0);      /* no version in the name */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nothing.so", dir);
    CHECK(gf_blas_version_of(missing) == 0);
    unlink(link); unlink(file); unlink(plain); rmdir(dir);
}

/* The best core of OpenBLAS's names that /proc/cpuinfo's flags allow (Linux
 * lists a flag only if the OS also supports its register state). */
static const char *core_from_cpuinfo(void)
{
    static char line[8192];
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return NULL;
    int found = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) { found = 1; break; }
    fclose(f);
    if (!found) return NULL;
    strcat(line, " ");
    const char *skx[] = {" avx512f ", " avx512bw ", " avx512dq ", " avx512vl ", " avx512cd ", " avx2 ", " fma "};
    int n = 0;
    for (int i = 0; i < 7; i++) n += strstr(line, skx[i]) != NULL;
    if (n == 7) return "SkylakeX";
    if (strstr(line, " avx2 ") && strstr(line, " fma ")) return "Haswell";
    if (strstr(line, " avx ")) return "Sandybridge";
    return NULL;
}

static int is_generic(const char *core)
{
    static const char *generic[] = {"Unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias",
                                    "Atom", "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon"};
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcmp(core, generic[i]) == 0) return 1;
    return 0;
}

/* sgemm of the loaded library against a plain triple loop. */
static void test_sgemm(void)
{
    enum { M = 7, N = 5, K = 9 };
    float a[M * K], b[K * N], c[M * N], want[M * N];
    for (int i = 0; i < M * K; i++) a[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5) % 13) - 6.0f;
    for (int i = 0; i < M * N; i++) c[i] = want[i] = (float)i;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float s = 0;
            for (int k = 0; k < K; k++) s += a[i * K + k] * b[k * N + j];
            want[i * N + j] = 2.0f * s + 0.5f * want[i * N + j];
        }
    gf_blas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 2.0f, a, K, b, N, 0.5f, c, N);
    for (int i = 0; i < M * N; i++) CHECK_NEAR(c[i], want[i], 1e-3);
}

/* This process: whatever the environment says. */
static void test_this_process(void)
{
    const gf_blas_info *b = gf_blas_info_get();
    CHECK_MSG(b != NULL, "%s", gf_last_error());
    if (!b) return;
    fprintf(stderr, "loaded %s: %s; core %s (%s), %s\n", b->library, b->config, b->core,
            b->core_source, b->threading);
    char sys[4096] = "";
    ssize_t n = readlink("/etc/alternatives/libopenblas.so.0-x86_64-linux-gnu", sys, sizeof sys - 1);
    if (n > 0) sys[n] = '\0';
    fprintf(stderr, "libopenblas.so.0 of the system: %s\n", n > 0 ? sys : "(no alternative)");
    CHECK_MSG(strcmp(b->threading, "openmp") == 0, "threading %s, want openmp", b->threading);
    CHECK(strstr(b->config, "USE_OPENMP") != NULL);
    CHECK(strstr(b->config, b->core) != NULL);   /* DYNAMIC_ARCH config names the core */
    const char *user = getenv("OPENBLAS_CORETYPE");
    if (user) {
        fprintf(stderr, "OPENBLAS_CORETYPE=%s set by the caller: nothing-set checks skipped\n", user);
        return;
    }
    CHECK(strcmp(b->core_source, "OPENBLAS_CORETYPE") != 0);
    const char *best = core_from_cpuinfo();
    if (best && strcmp(best, "Sandybridge") != 0)
        CHECK_MSG(!is_generic(b->core), "CPU supports %s, OpenBLAS runs %s", best, b->core);
    if (strcmp(b->core_source, "gf") == 0) CHECK_MSG(streq(b->core, best), "core %s, want %s", b->core, str_or(best));
    test_sgemm();
}

/* Runs this binary as "child MODE" with one variable added to the
 * environment; its exit status is its checks' verdict. */
static int run_child(const char *mode, const char *var, const char *val)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv(var, val, 1);
        if (strcmp(mode, "user-core") == 0) setenv("GF_TEST_BLAS_UNKNOWN_CPU", "1", 1);
        execl("/proc/self/exe", "test_blas_select", "child", mode, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int child(const char *mode)
{
    const gf_blas_info *b = gf_blas_info_get();
    CHECK_MSG(b != NULL, "%s", gf_last_error());
    if (!b) return check_summary();
    fprintf(stderr, "child %s: core %s (%s), %s\n", mode, b->core, b->core_source, b->threading);
    CHECK(strcmp(b->threading, "openmp") == 0);
    if (strcmp(mode, "unknown-cpu") == 0) {
        const char *best = core_from_cpuinfo();
        if (best) {
            CHECK(strcmp(b->core_source, "gf") == 0);
            CHECK_MSG(strcmp(b->core, best) == 0, "core %s, want %s", b->core, best);
        } else {
            CHECK(strcmp(b->core_source, "openblas") == 0);
        }
        CHECK(getenv("OPENBLAS_CORETYPE") == NULL);   /* the environment is the caller's again */
        test_sgemm();
    } else if (strcmp(mode, "user-core") == 0) {
        CHECK(strcmp(b->core_source, "OPENBLAS_CORETYPE") == 0);
        CHECK_MSG(strcmp(b->core, "Nehalem") == 0, "core %s, want the user's Nehalem", b->core);
        CHECK(streq(getenv("OPENBLAS_CORETYPE"), "Nehalem"));
        test_sgemm();
    } else {
        CHECK_MSG(0, "unknown child mode %s", mode);
    }
    return check_summary();
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
    test_decision();
    test_version();
    test_this_process();
    if (!getenv("OPENBLAS_CORETYPE")) {
        CHECK(run_child("unknown-cpu", "GF_TEST_BLAS_UNKNOWN_CPU", "1") == 0);
        /* a user's setting wins, also over the test hook */
        CHECK(run_child("user-core", "OPENBLAS_CORETYPE", "Nehalem") == 0);
    }
    return check_summary();
}
