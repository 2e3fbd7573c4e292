/* Finiteness checks over float vectors (see finite.h). */
#include "core/finite.h"

#include <math.h>
#include <string.h>

/* values per block: one branch per block, and a bad block is scanned again
 * for the exact index */
#define BLOCK 1024

int64_t gf_first_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i += BLOCK) {
        const float *b = x + i;
        const int64_t m = n - i < BLOCK ? n - i : BLOCK;
        uint32_t bad = 0;
        for (int64_t k = 0; k < m; k++) {     /* exponent all ones: an infinity or a NaN */
            uint32_t u;
            memcpy(&u, b + k, sizeof u);
            bad |= (u & 0x7f800000u) == 0x7f800000u;
        }
        if (bad)
            for (int64_t k = 0; k < m; k++)
                if (!isfinite(b[k])) return i + k;
    }
    return -1;
}

float gf_max_abs(const float *x, int64_t n)
{
    /* for finite floats the magnitude's bits order as unsigned integers do */
    uint32_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, x + i, sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    float f;
    memcpy(&f, &m, sizeof f);
    return f;
}
