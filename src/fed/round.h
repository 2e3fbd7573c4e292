/* The decisions of a federated round, free of any I/O so they can be tested
 * alone: which of the available sites take part, and when the round closes. */
#ifndef GF_FED_ROUND_H
#define GF_FED_ROUND_H

#include <stdint.h>
#include "core/error.h"

/* How many of n available sites a round takes: ceil(fraction * n), at least
 * min_sites, at most n. */
int gf_round_sample_size(int n, double fraction, int min_sites);

/* Marks chosen[i] = 1 for the gf_round_sample_size() sites of names[0..n)
 * whose hash of (seed, round, name) is smallest: a reproducible draw that
 * does not depend on the order of names. */
void gf_round_sample(const char *const *names, int n, double fraction, int min_sites, uint64_t seed,
                     int64_t round, unsigned char *chosen /* (n) */);

typedef enum {
    GF_ROUND_WAIT,      /* keep collecting */
    GF_ROUND_CLOSE,     /* aggregate what arrived */
    GF_ROUND_RETRY,     /* deadline passed with fewer than min_sites: abort, run it again */
} gf_round_verdict;

/* received: updates that arrived; answered: those plus the sites that
 * declined (could not train). Everyone answered, or the deadline passed:
 * close with at least min_sites updates (and at least one), else retry.
 * Otherwise wait. */
gf_round_verdict gf_round_verdict_at(int received, int answered, int participants, int min_sites, double now,
                                     double deadline);

#endif
