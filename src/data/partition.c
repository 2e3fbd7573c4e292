/* Splitting a dataset's sample indices into shards (one per simulated site):
 * IID (shuffled, equal sizes) and label skew (per-class Dirichlet(alpha)
 * proportions). Both are deterministic functions of (dataset labels, shards,
 * alpha, seed). */
#include "data/dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"

/* Stream ids mixed into the seed, so partitions and epoch shuffles that share
 * a user seed do not share random numbers. */
#define PART_STREAM_IID       0x11D0C0DEull
#define PART_STREAM_DIRICHLET 0xD1C1E7ull

void gf_partition_free(gf_partition *p)
{
    if (!p) return;
    free(p->offset);
    free(p->index);
    memset(p, 0, sizeof *p);
}

static gf_status part_check(const gf_dataset *d, int shards, const char *who, gf_partition *out)
{
    if (!out) return gf_errorf(GF_ERR_ARG, "%s: no output partition", who);
    memset(out, 0, sizeof *out);
    if (!d || d->n <= 0)
        return gf_errorf(GF_ERR_ARG, "%s: empty dataset", who);
    if (shards < 1 || shards > d->n)
        return gf_errorf(GF_ERR_ARG, "%s: %d shards for %lld samples (need 1 <= shards <= samples)",
                         who, shards, (long long)d->n);
    return GF_OK;
}

static gf_status part_alloc(const gf_dataset *d, int shards, const char *who, gf_partition *out)
{
    out->shards = shards;
    out->offset = malloc((size_t)(shards + 1) * sizeof *out->offset);   /* (shards + 1) */
    out->index = malloc((size_t)d->n * sizeof *out->index);             /* (n) */
    if (!out->offset || !out->index) {
        gf_partition_free(out);
        return gf_errorf(GF_ERR_NOMEM, "%s: out of memory for %lld indices", who, (long long)d->n);
    }
    return GF_OK;
}

gf_status gf_partition_iid(const gf_dataset *d, int shards, uint64_t seed, gf_partition *out)
{
    gf_status st = part_check(d, shards, "iid partition", out);
    if (!st) st = part_alloc(d, shards, "iid partition", out);
    if (st) return st;
    gf_shuffle(d->n, gf_hash64(seed, PART_STREAM_IID), 0, out->index);
    for (int i = 0; i <= shards; i++) out->offset[i] = d->n * i / shards;
    return GF_OK;
}

gf_status gf_partition_dirichlet(const gf_dataset *d, int shards, double alpha,
                                 uint64_t seed, gf_partition *out)
{
    const char *who = "dirichlet partition";
    gf_status st = part_check(d, shards, who, out);
    if (st) return st;
    if (!(alpha > 0) || !isfinite(alpha))
        return gf_errorf(GF_ERR_ARG, "%s: alpha must be a positive finite number, got %g", who, alpha);
    if (d->tokens) return gf_errorf(GF_ERR_ARG, "%s: a token dataset has no per-sample label", who);
    int k = d->num_classes;
    if (k < 1) return gf_errorf(GF_ERR_ARG, "%s: dataset has %d classes", who, k);
    for (int64_t i = 0; i < d->n; i++)
        if (d->y[i] < 0 || d->y[i] >= k)
            return gf_errorf(GF_ERR_ARG, "%s: sample %lld has label %d outside 0..%d",
                             who, (long long)i, d->y[i], k - 1);

    int64_t n = d->n;
    int64_t *class_start = calloc((size_t)k + 1, sizeof *class_start);  /* (k + 1) */
    int64_t *by_class = malloc((size_t)n * sizeof *by_class);           /* (n) sample ids grouped by class */
    int     *shard_of = malloc((size_t)n * sizeof *shard_of);           /* (n) */
    double  *prop = malloc((size_t)shards * sizeof *prop);              /* (shards) */
    int64_t *size = calloc((size_t)shards, sizeof *size);               /* (shards) */
    int64_t *cursor = malloc((size_t)k * sizeof *cursor);               /* (k) */
    if (!class_start || !by_class || !shard_of || !prop || !size || !cursor) {
        st = gf_errorf(GF_ERR_NOMEM, "%s: out of memory", who);
        goto done;
    }
    st = part_alloc(d, shards, who, out);
    if (st) goto done;

    /* counting sort of sample ids by class (ascending id within a class) */
    for (int64_t i = 0; i < n; i++) class_start[d->y[i] + 1]++;
    for (int c = 0; c < k; c++) class_start[c + 1] += class_start[c];
    memcpy(cursor, class_start, (size_t)k * sizeof *cursor);
    for (int64_t i = 0; i < n; i++) by_class[cursor[d->y[i]]++] = i;

    gf_rng rng;
    gf_rng_seed(&rng, gf_hash64(seed, PART_STREAM_DIRICHLET));
    for (int c = 0; c < k; c++) {
        int64_t *ids = by_class + class_start[c], m = class_start[c + 1] - class_start[c];
        if (m == 0) continue;
        for (int64_t i = m - 1; i > 0; i--) {   /* shuffle the class's samples */
            int64_t j = (int64_t)gf_rng_below(&rng, (uint64_t)i + 1);
            int64_t t = ids[i]; ids[i] = ids[j]; ids[j] = t;
        }
        /* proportions ~ Dirichlet(alpha): normalised Gamma(alpha, 1) draws */
        double sum = 0;
        for (int s = 0; s < shards; s++) sum += prop[s] = gf_rng_gamma(&rng, alpha);
        if (!(sum > 0) || !isfinite(sum)) {     /* every draw underflowed (tiny alpha) */
            for (int s = 0; s < shards; s++) prop[s] = 0;
            prop[gf_rng_below(&rng, (uint64_t)shards)] = sum = 1;
        }
        /* shard s takes the samples between its cumulative-proportion cut points */
        double cum = 0;
        int64_t from = 0;
        for (int s = 0; s < shards; s++) {
            cum += prop[s];
            int64_t to = s == shards - 1 ? m : (int64_t)llround(cum / sum * (double)m);
            if (to > m) to = m;
            if (to < from) to = from;
            for (int64_t i = from; i < to; i++) shard_of[ids[i]] = s;
            size[s] += to - from;
            from = to;
        }
    }

    /* No shard may be empty (a site with no data cannot train): each empty
     * shard takes the last sample (by id) of the currently largest shard.
     * shards <= n guarantees a shard with two or more samples exists. */
    for (int s = 0; s < shards; s++) {
        if (size[s] > 0) continue;
        int big = 0;
        for (int t = 1; t < shards; t++) if (size[t] > size[big]) big = t;
        for (int64_t i = n - 1; i >= 0; i--)
            if (shard_of[i] == big) { shard_of[i] = s; break; }
        size[big]--; size[s]++;
    }

    /* shard i = its sample ids in ascending order */
    out->offset[0] = 0;
    for (int s = 0; s < shards; s++) out->offset[s + 1] = out->offset[s] + size[s];
    for (int s = 0; s < shards; s++) size[s] = out->offset[s];    /* cursors */
    for (int64_t i = 0; i < n; i++) out->index[size[shard_of[i]]++] = i;
done:
    if (st) gf_partition_free(out);
    free(class_start);
    free(by_class);
    free(shard_of);
    free(prop);
    free(size);
    free(cursor);
    return st;
}
