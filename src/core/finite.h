/* Finiteness checks over float vectors (model updates, aggregates): every
 * inbound vector is checked whole before it is used, so the check runs in
 * blocks that the compiler vectorises instead of one branch per value. */
#ifndef GF_CORE_FINITE_H
#define GF_CORE_FINITE_H

#include <stdint.h>

/* Index of the first NaN or infinity in x[0..n), or -1 when all are finite. */
int64_t gf_first_nonfinite(const float *x, int64_t n);

/* The largest |x[i]| (0 when n is 0); an infinity or a NaN when x holds one,
 * so that one pass both bounds a vector and says whether it is finite. */
float gf_max_abs(const float *x, int64_t n);

#endif
