/* Finiteness checks (core/finite.h) against a plain scan, value by value:
 * every kind of non-finite float (both infinities, quiet and signalling
 * NaNs with either sign and any payload) at every position around the
 * block edges, next to the largest finite values and the subnormals, which
 * must pass; and the largest magnitude of a finite vector against fabsf. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "check.h"
#include "core/finite.h"

static float from_bits(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }

static int64_t plain_scan(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

int main(void)
{
    enum { N = 5000 };
    static float x[N];
    /* finite, and hard: the extremes of the range, subnormals, signed zeros */
    const float edge[] = { FLT_MAX, -FLT_MAX, FLT_MIN, from_bits(0x00000001u), from_bits(0x807fffffu), 0.0f, -0.0f };
    for (int i = 0; i < N; i++) x[i] = edge[i % 7] * (i % 3 ? 1.0f : 0.5f);
    CHECK(gf_first_nonfinite(x, N) == -1);
    CHECK(gf_first_nonfinite(x, 0) == -1);
    const uint32_t bad[] = { 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fbfffffu,
                             0xffffffffu };
    const int64_t at[] = { 0, 1, 1022, 1023, 1024, 1025, 2047, 2048, 4095, 4096, N - 2, N - 1 };
    const int64_t lens[] = { 1, 2, 1023, 1024, 1025, 2048, 4097, N };
    int wrong = 0, cases = 0;
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++)
        for (size_t a = 0; a < sizeof at / sizeof *at; a++) {
            float keep = x[at[a]];
            x[at[a]] = from_bits(bad[b]);
            for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
                cases++;
                wrong += gf_first_nonfinite(x, lens[l]) != plain_scan(x, lens[l]);
            }
            /* a second bad value after the first: the first is reported */
            if (at[a] + 7 < N) {
                x[at[a] + 7] = from_bits(0x7f800000u);
                cases++;
                wrong += gf_first_nonfinite(x, N) != at[a];
                x[at[a] + 7] = edge[(at[a] + 7) % 7] * ((at[a] + 7) % 3 ? 1.0f : 0.5f);
            }
            x[at[a]] = keep;
        }
    CHECK_MSG(wrong == 0, "%d of %d placements disagree with the plain scan", wrong, cases);
    CHECK(gf_first_nonfinite(x, N) == -1);

    CHECK(gf_max_abs(x, 0) == 0.0f);
    CHECK(gf_max_abs(x, N) == FLT_MAX);
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {   /* a NaN or an infinity anywhere: not finite */
        float keep = x[4095];
        x[4095] = from_bits(bad[b]);
        CHECK_MSG(!isfinite(gf_max_abs(x, N)), "bits %08x: max |x| = %g", bad[b], (double)gf_max_abs(x, N));
        x[4095] = keep;
    }
    const float small[] = { -0.0f, from_bits(0x80000001u), 1e-40f, -3.5f, 2.25f, -1e-3f };
    for (int n = 1; n <= 6; n++) {
        float want = 0;
        for (int i = 0; i < n; i++) want = fabsf(small[i]) > want ? fabsf(small[i]) : want;
        CHECK_MSG(gf_max_abs(small, n) == want, "n=%d: %g, want %g", n, (double)gf_max_abs(small, n), (double)want);
    }
    return check_summary();
}
