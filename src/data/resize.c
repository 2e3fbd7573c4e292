/* The resize rule of image folders (gf_image_resize, data/image.h):
 * separable, each axis on its own, area averaging where it shrinks and
 * bilinear (half-pixel centres, edge-clamped) where it grows. Each output
 * index of an axis reads a contiguous run of at most `taps` source indices
 * with precomputed weights that sum to 1. Weights and sums are double: an
 * area average over thousands of pixels summed in float drifts past the
 * range of its inputs. */
#include "data/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int taps;
    int *first;       /* (out): first source index */
    double *wt;       /* (out, taps): weights, 0 past the run */
} axis_plan;

static void plan_free(axis_plan *p)
{
    free(p->first);
    free(p->wt);
}

static int plan_make(int in, int out, axis_plan *p)
{
    double s = (double)in / out;
    p->taps = out < in ? (int)ceil(s) + 2 : 2;
    p->first = malloc(sizeof *p->first * (size_t)out);
    p->wt = calloc((size_t)out * (size_t)p->taps, sizeof *p->wt);
    if (!p->first || !p->wt) return -1;
    for (int o = 0; o < out; o++) {
        double *w = p->wt + (size_t)o * p->taps;
        if (out < in) {                        /* area: overlap of [o s, (o+1) s) with each pixel */
            double lo = o * s, hi = (o + 1) * s;
            int i0 = (int)floor(lo);
            p->first[o] = i0;
            for (int i = i0, k = 0; i < in && i < hi && k < p->taps; i++, k++) {
                double a = lo > i ? lo : i, b = hi < i + 1 ? hi : i + 1;
                if (b > a) w[k] = (b - a) / s;
            }
        } else {                               /* bilinear, half-pixel centres */
            double x = (o + 0.5) * s - 0.5;
            if (x < 0) x = 0;
            int i0 = (int)floor(x);
            if (i0 > in - 1) i0 = in - 1;
            double f = x - i0;
            p->first[o] = i0;
            w[0] = 1.0 - f;
            if (i0 + 1 < in) w[1] = f;
            else w[0] = 1.0;
        }
    }
    return 0;
}

/* One axis: src (outer, n_in, inner) -> dst (outer, n_out, inner), each
 * output row summed in acc (inner) before it is rounded to float. */
static void resample(const float *src, float *dst, int64_t outer, int n_in, int n_out, int64_t inner,
                     const axis_plan *p, double *acc)
{
    for (int64_t o = 0; o < outer; o++) {
        const float *s = src + o * n_in * inner;
        float *d = dst + o * n_out * inner;
        for (int j = 0; j < n_out; j++) {
            const double *w = p->wt + (size_t)j * p->taps;
            for (int64_t i = 0; i < inner; i++) acc[i] = 0;
            for (int k = 0; k < p->taps; k++) {
                int si = p->first[j] + k;
                if (w[k] == 0.0 || si >= n_in) continue;
                const float *srow = s + (int64_t)si * inner;
                for (int64_t i = 0; i < inner; i++) acc[i] += w[k] * srow[i];
            }
            float *row = d + (int64_t)j * inner;
            for (int64_t i = 0; i < inner; i++) row[i] = (float)acc[i];
        }
    }
}

gf_status gf_image_resize(const float *in, int c, int ih, int iw, float *out, int oh, int ow)
{
    /* the order with the smaller intermediate: at most sqrt(in pixels * out pixels) per channel */
    int rows_first = (int64_t)oh * iw <= (int64_t)ih * ow;
    size_t mid = (size_t)c * (rows_first ? (size_t)oh * iw : (size_t)ih * ow);
    axis_plan py = {0}, px = {0};
    float *tmp = malloc(sizeof *tmp * (mid ? mid : 1));   /* (c, oh, iw) or (c, ih, ow) */
    double *acc = malloc(sizeof *acc * (size_t)(iw > ow ? iw : ow));   /* (inner) */
    if (!tmp || !acc || plan_make(ih, oh, &py) || plan_make(iw, ow, &px)) {
        free(tmp);
        free(acc);
        plan_free(&py);
        plan_free(&px);
        return gf_errorf(GF_ERR_NOMEM, "out of memory resizing a %dx%d image to %dx%d", ih, iw, oh, ow);
    }
    if (rows_first) {
        resample(in, tmp, c, ih, oh, iw, &py, acc);                  /* (c, oh, iw) */
        resample(tmp, out, (int64_t)c * oh, iw, ow, 1, &px, acc);    /* (c, oh, ow) */
    } else {
        resample(in, tmp, (int64_t)c * ih, iw, ow, 1, &px, acc);     /* (c, ih, ow) */
        resample(tmp, out, c, ih, oh, ow, &py, acc);                 /* (c, oh, ow) */
    }
    free(tmp);
    free(acc);
    plan_free(&py);
    plan_free(&px);
    return GF_OK;
}
