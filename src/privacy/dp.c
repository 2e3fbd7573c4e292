/* Clipping, Gaussian noise and the spent budget of client-level DP (see dp.h). */
#include "privacy/dp.h"

#include <math.h>
#include <sodium.h>
#include "privacy/accountant.h"

double gf_dp_clip_scale(const float *x, int64_t n, double clip)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++) ss += (double)x[i] * (double)x[i];
    double norm = sqrt(ss);
    return norm > clip ? clip / norm : 1.0;
}

static double uniform_open(void)     /* in (0, 1) */
{
    uint64_t r;
    randombytes_buf(&r, sizeof r);
    return ((double)(r >> 11) + 0.5) * 0x1.0p-53;
}

gf_status gf_dp_gaussian(float *out, int64_t n, double stddev)
{
    if (n < 0 || !(stddev >= 0) || !isfinite(stddev)) return gf_errorf(GF_ERR_ARG, "gaussian noise: bad arguments");
    if (sodium_init() < 0) return gf_errorf(GF_ERR_IO, "libsodium could not initialise");
    for (int64_t i = 0; i < n; i += 2) {
        double r = sqrt(-2.0 * log(uniform_open())), a = 2.0 * M_PI * uniform_open();
        out[i] = (float)(stddev * r * cos(a));
        if (i + 1 < n) out[i + 1] = (float)(stddev * r * sin(a));
    }
    return GF_OK;
}

gf_status gf_dp_spent(const gf_dp_config *c, double q, int64_t rounds, double *eps, double *order)
{
    if (order) *order = NAN;
    if (rounds <= 0 || q <= 0) { *eps = 0.0; return GF_OK; }
    if (c->noise <= 0) { *eps = INFINITY; return GF_OK; }
    return gf_dp_epsilon(c->noise, q, rounds, c->delta, eps, order);
}
