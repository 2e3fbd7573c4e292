/* Client-level differential privacy of federated rounds (DP-FedAvg,
 * McMahan et al. 2018, with central noise): each site's update is clipped
 * to L2 norm `clip` and counts with weight 1; Gaussian noise of standard
 * deviation noise * clip is added to the round's sum before the mean. The
 * RDP accountant turns (noise, sample rate, rounds, delta) into epsilon; a
 * budget stops the job before the round that would exceed it. */
#ifndef GF_PRIVACY_DP_H
#define GF_PRIVACY_DP_H

#include <stdint.h>
#include "core/error.h"

typedef struct {
    int    enabled;
    double clip;       /* S > 0: L2 bound of one site's update */
    double noise;      /* sigma >= 0: noise multiplier (std = sigma * S) */
    double delta;      /* 0 < delta < 1 (default 1e-5) */
    double epsilon;    /* budget > 0, or 0: none (then epsilon is only reported) */
} gf_dp_config;

/* min(1, clip / ||x||_2) over x (n): the factor that clips x (1 for 0). */
double gf_dp_clip_scale(const float *x, int64_t n, double clip);

/* n independent N(0, stddev^2) values from libsodium's CSPRNG (Box-Muller
 * on 53-bit uniforms): unpredictable to anyone, the coordinator included. */
gf_status gf_dp_gaussian(float *out, int64_t n, double stddev);

/* Epsilon spent after `rounds` rounds at sample rate q (0 when rounds == 0;
 * +inf when noise == 0). order (may be NULL) gets the best RDP order. */
gf_status gf_dp_spent(const gf_dp_config *c, double q, int64_t rounds, double *eps, double *order);

#endif
