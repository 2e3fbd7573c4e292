/* The resize rule of image folders (gf_image_resize, data/image.h):
 * separable, each axis on its own, area averaging where it shrinks and
 * bilinear (half-pixel centres, edge-clamped) where it grows. Each output
 * index of an axis reads a contiguous run of at most `taps` source indices
 * with precomputed weights that sum to 1. */
#include "data/image.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int taps;
    int *first;       /* (out): first source index */
    float *wt;        /* (out, taps): weights, 0 past the run */
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
        float *w = p->wt + (size_t)o * p->taps;
        if (out < in) {                        /* area: overlap of [o s, (o+1) s) with each pixel */
            double lo = o * s, hi = (o + 1) * s;
            int i0 = (int)floor(lo);
            p->first[o] = i0;
            for (int i = i0, k = 0; i < in && i < hi && k < p->taps; i++, k++) {
                double a = lo > i ? lo : i, b = hi < i + 1 ? hi : i + 1;
                if (b > a) w[k] = (float)((b - a) / s);
            }
        } else {                               /* bilinear, half-pixel centres */
            double x = (o + 0.5) * s - 0.5;
            if (x < 0) x = 0;
            int i0 = (int)floor(x);
            if (i0 > in - 1) i0 = in - 1;
            double f = x - i0;
            p->first[o] = i0;
            w[0] = (float)(1.0 - f);
            if (i0 + 1 < in) w[1] = (float)f;
            else w[0] = 1.0f;
        }
    }
    return 0;
}

gf_status gf_image_resize(const float *in, int c, int ih, int iw, float *out, int oh, int ow)
{
    axis_plan py = {0}, px = {0};
    float *tmp = malloc(sizeof *tmp * (size_t)c * (size_t)oh * (size_t)iw);   /* (c, oh, iw) */
    if (!tmp || plan_make(ih, oh, &py) || plan_make(iw, ow, &px)) {
        free(tmp);
        plan_free(&py);
        plan_free(&px);
        return gf_errorf(GF_ERR_NOMEM, "out of memory resizing a %dx%d image to %dx%d", ih, iw, oh, ow);
    }
    for (int ch = 0; ch < c; ch++) {
        const float *src = in + (size_t)ch * ih * iw;
        float *mid = tmp + (size_t)ch * oh * iw;
        for (int y = 0; y < oh; y++) {            /* vertical pass */
            float *row = mid + (size_t)y * iw;
            const float *w = py.wt + (size_t)y * py.taps;
            memset(row, 0, sizeof *row * (size_t)iw);
            for (int k = 0; k < py.taps; k++) {
                int sy = py.first[y] + k;
                if (w[k] == 0.0f || sy >= ih) continue;
                const float *s = src + (size_t)sy * iw;
                for (int x = 0; x < iw; x++) row[x] += w[k] * s[x];
            }
        }
        float *dst = out + (size_t)ch * oh * ow;
        for (int y = 0; y < oh; y++) {            /* horizontal pass */
            const float *row = mid + (size_t)y * iw;
            for (int x = 0; x < ow; x++) {
                const float *w = px.wt + (size_t)x * px.taps;
                float acc = 0;
                for (int k = 0; k < px.taps; k++) {
                    int sx = px.first[x] + k;
                    if (w[k] != 0.0f && sx < iw) acc += w[k] * row[sx];
                }
                dst[(size_t)y * ow + x] = acc;
            }
        }
    }
    free(tmp);
    plan_free(&py);
    plan_free(&px);
    return GF_OK;
}
