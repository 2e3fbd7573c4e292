/* Shamir secret sharing (Shamir 1979) of a 32-byte secret, threshold t among
 * up to 65535 holders, as secure aggregation (privacy/secagg.h) uses it for
 * the self-mask seeds and the pairwise-mask secret keys.
 *
 * Field: GF(p), p = 2^31 - 1. The secret is cut into 16 limbs of 16 bits
 * (little-endian byte pairs), and each limb is shared independently with its
 * own random polynomial of degree t - 1 whose constant term is the limb; the
 * other coefficients are uniform in [0, p) from libsodium's randombytes.
 * Holder h (0-based) gets the evaluations at x = h + 1 (never 0).
 *
 * Share encoding, GF_SHAMIR_SHARE_BYTES = 66 bytes, constant size:
 *   bytes 0..1   x, uint16 little-endian, 1..65535
 *   bytes 2..65  16 evaluations y_0..y_15, uint32 little-endian, each < p
 *
 * Any t distinct shares give the secret exactly (Lagrange interpolation at 0
 * over all the shares passed). Fewer than t shares give a value independent
 * of the secret; the scheme cannot tell, so callers must count shares
 * themselves and refuse to combine fewer than t. As a sanity check,
 * gf_shamir_combine fails with GF_ERR_MISMATCH when an interpolated limb is
 * not a 16-bit value: a uniformly random result (too few shares, or more
 * than t with a share replaced by random values) passes only with
 * probability 2^-240. It is no integrity check: a small change to a share
 * can interpolate to another valid-looking secret, and exactly t shares are
 * never checked, so authenticate shares (and verify what they rebuild)
 * where that matters. */
#ifndef GF_PRIVACY_SHAMIR_H
#define GF_PRIVACY_SHAMIR_H

#include <stdint.h>
#include "core/error.h"

#define GF_SHAMIR_SECRET_BYTES 32
#define GF_SHAMIR_SHARE_BYTES 66
#define GF_SHAMIR_MAX_HOLDERS 65535
#define GF_SHAMIR_PRIME 2147483647u   /* 2^31 - 1 */

/* Split `secret` into n shares (n, GF_SHAMIR_SHARE_BYTES), holder h at
 * x = h + 1, threshold t: 1 <= t <= n <= GF_SHAMIR_MAX_HOLDERS. */
gf_status gf_shamir_split(const uint8_t secret[GF_SHAMIR_SECRET_BYTES], int t, int n,
                          uint8_t *shares /* (n, GF_SHAMIR_SHARE_BYTES) */);

/* Interpolate the secret from `count` >= 1 shares. Rejects (GF_ERR_FORMAT)
 * an x of 0, a repeated x, a y >= p; GF_ERR_MISMATCH when the result is not
 * a valid secret (see above). On failure `secret` is zeroed. */
gf_status gf_shamir_combine(const uint8_t *shares /* (count, GF_SHAMIR_SHARE_BYTES) */, int count,
                            uint8_t secret[GF_SHAMIR_SECRET_BYTES]);

#endif
