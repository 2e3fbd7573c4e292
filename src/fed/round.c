/* Site sampling and closing rules of a federated round (see round.h). */
#include "fed/round.h"

#include <math.h>
#include <stdlib.h>
#include "core/rng.h"

int gf_round_sample_size(int n, double fraction, int min_sites)
{
    int k = (int)ceil(fraction * n - 1e-9);
    if (k < min_sites) k = min_sites;
    return k > n ? n : k;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (; *s; s++) h = gf_hash64(h, (unsigned char)*s);
    return h;
}

void gf_round_sample(const char *const *names, int n, double fraction, int min_sites, uint64_t seed,
                     int64_t round, unsigned char *chosen)
{
    int k = gf_round_sample_size(n, fraction, min_sites);
    uint64_t key = gf_hash64(seed, (uint64_t)round);
    for (int i = 0; i < n; i++) chosen[i] = 0;
    /* k passes of "smallest unchosen rank": n is the number of sites, small */
    for (int taken = 0; taken < k; taken++) {
        int best = -1;
        uint64_t best_rank = 0;
        for (int i = 0; i < n; i++) {
            if (chosen[i]) continue;
            uint64_t r = gf_hash64(key, name_hash(names[i]));
            if (best < 0 || r < best_rank) { best = i; best_rank = r; }
        }
        chosen[best] = 1;
    }
}

gf_round_verdict gf_round_verdict_at(int received, int answered, int participants, int min_sites, double now,
                                     double deadline)
{
    if (answered < participants && now < deadline) return GF_ROUND_WAIT;
    return received >= min_sites && received > 0 ? GF_ROUND_CLOSE : GF_ROUND_RETRY;
}
