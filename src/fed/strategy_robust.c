/* finish_round of the robust strategies, which buffer the round's n updates
 * (max_sites, d) and ignore the weights (unweighted, as in the papers):
 *   Coordinate-wise median (Yin et al. 2018, "Byzantine-Robust Distributed
 *     Learning: Towards Optimal Statistical Rates"): per coordinate the median
 *     of the n values, the mean of the two middle ones for even n.
 *   Coordinate-wise trimmed mean (same paper): per coordinate drop the
 *     k = floor(trim_ratio * n) smallest and k largest values, average the
 *     n - 2k left.
 *   Krum (Blanchard et al. 2017, "Machine Learning with Adversaries:
 *     Byzantine Tolerant Gradient Descent"): score_i = sum of the squared L2
 *     distances from update i to its n - f - 2 nearest other updates; the
 *     aggregate is the update with the lowest score (ties: lowest index).
 *     Needs n >= 2f + 3.
 *   Multi-Krum (same paper): the mean of the m lowest-score updates (scores
 *     computed once over all n; ties: lowest index); m = multikrum_m, 0 meaning
 *     n - f, clamped to n.
 * Then global += aggregate (no server_lr). Per-coordinate order statistics
 * use quickselect on a per-thread copy of the n values; distances and sums
 * are in double, each one in a fixed order, so the result does not depend on
 * the thread count. */
#include "fed/strategy_impl.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

static inline void swapf(float *a, int i, int j) { float t = a[i]; a[i] = a[j]; a[j] = t; }

/* Partially order a[0..n-1] so that a[k] is its k-th smallest value (from 0),
 * a[< k] <= a[k] <= a[> k]: Hoare partitioning around a median of three,
 * insertion sort below 16 values. Values are finite. */
static void select_k(float *a, int n, int k)
{
    int lo = 0, hi = n - 1;
    while (hi - lo > 16) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swapf(a, lo, mid);
        if (a[hi] < a[lo]) swapf(a, lo, hi);
        if (a[hi] < a[mid]) swapf(a, mid, hi);
        const float p = a[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) { swapf(a, i, j); i++; j--; }
        }
        /* a[lo..j] <= p, a[j+1..i-1] == p, a[i..hi] >= p */
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
    for (int i = lo + 1; i <= hi; i++) {
        float x = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > x) { a[j + 1] = a[j]; j--; }
        a[j + 1] = x;
    }
}

static double median_of(float *a, int n)
{
    const int h = n / 2;
    select_k(a, n, h);
    if (n & 1) return (double)a[h];
    float lo = a[0];
    for (int i = 1; i < h; i++) if (a[i] > lo) lo = a[i];
    return 0.5 * ((double)lo + (double)a[h]);
}

/* mean of a[0..n-1] without its k smallest and k largest values, n - 2k >= 1 */
static double trimmed_mean_of(float *a, int n, int k)
{
    if (k > 0) {
        select_k(a, n, k);                      /* a[0..k-1]: the k smallest */
        select_k(a + k, n - k, n - 2 * k - 1);  /* a[n-k..n-1]: the k largest */
    }
    double sum = 0.0;
    for (int i = k; i < n - k; i++) sum += (double)a[i];
    return sum / (double)(n - 2 * k);
}

/* agg (d) = per-coordinate median or trimmed mean of the n buffered updates */
static void coordinatewise(gf_strategy *s)
{
    const int64_t d = s->d;
    const int n = s->n;
    const int median = s->cfg.type == GF_STRAT_MEDIAN;
    const int k = median ? 0 : (int)floor(s->cfg.trim_ratio * (double)n);
    const float *u = s->updates;   /* (n, d) */
    double *agg = s->agg;
    #pragma omp parallel num_threads(s->nthreads) if (d * n > 65536)
    {
        float *a = s->scratch + (size_t)omp_get_thread_num() * (size_t)s->max_sites;
        #pragma omp for schedule(static)
        for (int64_t j = 0; j < d; j++) {
            for (int i = 0; i < n; i++) a[i] = u[(size_t)i * (size_t)d + (size_t)j];
            agg[j] = median ? median_of(a, n) : trimmed_mean_of(a, n, k);
        }
    }
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* agg (d) = Krum's pick, or Multi-Krum's mean; needs n >= 2f + 3 (checked) */
static void krum(gf_strategy *s)
{
    const int64_t d = s->d;
    const int n = s->n, f = s->cfg.krum_f;
    const float *u = s->updates;   /* (n, d) */
    double *dist = s->dist;        /* (n, n) */
    double *row = s->row, *score = s->row + s->max_sites;

    /* pairwise squared distances: each pair summed by one thread, in order */
    #pragma omp parallel for schedule(dynamic, 1) if ((int64_t)n * n * d > (1 << 20))
    for (int i = 0; i < n; i++) {
        const float *ui = u + (size_t)i * (size_t)d;
        for (int j = i + 1; j < n; j++) {
            const float *uj = u + (size_t)j * (size_t)d;
            double acc = 0.0;
            for (int64_t t = 0; t < d; t++) {
                double diff = (double)ui[t] - (double)uj[t];
                acc += diff * diff;
            }
            dist[(size_t)i * (size_t)n + (size_t)j] = dist[(size_t)j * (size_t)n + (size_t)i] = acc;
        }
    }
    /* score_i: sum of the n - f - 2 smallest distances to the others */
    const int nearest = n - f - 2;
    for (int i = 0; i < n; i++) {
        int c = 0;
        for (int j = 0; j < n; j++) if (j != i) row[c++] = dist[(size_t)i * (size_t)n + (size_t)j];
        qsort(row, (size_t)c, sizeof(double), cmp_double);
        double sc = 0.0;
        for (int r = 0; r < nearest; r++) sc += row[r];
        score[i] = sc;
    }
    /* select the m lowest scores (ties: lowest index), marking them with -1 */
    int m = 1;
    if (s->cfg.type == GF_STRAT_MULTIKRUM) {
        m = s->cfg.multikrum_m ? s->cfg.multikrum_m : n - f;
        if (m > n) m = n;
    }
    for (int r = 0; r < m; r++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (score[i] >= 0.0 && (best < 0 || score[i] < score[best])) best = i;
        score[best] = -1.0;
    }
    /* mean of the selected updates, summed in index order */
    #pragma omp parallel for schedule(static) if (d > 65536)
    for (int64_t t = 0; t < d; t++) {
        double sum = 0.0;
        for (int i = 0; i < n; i++)
            if (score[i] < 0.0) sum += (double)u[(size_t)i * (size_t)d + (size_t)t];
        s->agg[t] = sum / (double)m;
    }
}

gf_status gf_strategy_finish_robust(gf_strategy *s, const float *from, float *to)
{
    const gf_strategy_type t = s->cfg.type;
    const char *name = gf_strategy_type_name(t);
    const int64_t d = s->d;
    if (t == GF_STRAT_KRUM || t == GF_STRAT_MULTIKRUM) {
        const int f = s->cfg.krum_f;
        if ((int64_t)s->n < 2 * (int64_t)f + 3)
            return gf_errorf(GF_ERR_ARG, "%s: %d updates are too few for krum_f = %d "
                             "(needs n >= 2f + 3 = %d)", name, s->n, f, 2 * f + 3);
        krum(s);
    } else {
        coordinatewise(s);
    }
    const double *agg = s->agg;
    int bad = 0;
    #pragma omp parallel for schedule(static) reduction(|:bad) if (d > 65536)
    for (int64_t j = 0; j < d; j++) bad |= !isfinite((float)((double)from[j] + agg[j]));
    if (bad)
        return gf_errorf(GF_ERR_NUMERIC, "%s: the aggregate overflows float; global model left "
                         "unchanged", name);
    #pragma omp parallel for schedule(static) if (d > 65536)
    for (int64_t j = 0; j < d; j++) to[j] = (float)((double)from[j] + agg[j]);
    return GF_OK;
}
