/* Forward and backward kernels of every op, over raw float pointers, batch
 * first (NCHW for images). Backward functions overwrite (never accumulate)
 * their outputs; a NULL input-gradient pointer means "not needed". All
 * reductions run in a fixed order, so results depend only on the inputs and
 * the thread count. */
#ifndef GF_ENGINE_OPS_H
#define GF_ENGINE_OPS_H

#include <stddef.h>
#include <stdint.h>

/* linear: x (B, K), w (N, K), b (N) -> y (B, N) */
void gf_linear_forward(int B, int K, int N, const float *x, const float *w,
                       const float *b, float *y);
/* dy (B, N) -> dw (N, K), db (N), dx (B, K) */
void gf_linear_backward(int B, int K, int N, const float *x, const float *w,
                        const float *dy, float *dw, float *db, float *dx);

/* conv2d: x (B, cin, h, w), weight (cout, cin, k, k), bias (cout)
 *      -> y (B, cout, ho, wo). Parallel over samples; each thread uses its
 * own slice of the workspace (gf_conv2d_workspace floats in all).
 * Optional per-sample hooks run on the same thread while the sample's data
 * is still in cache: `after(ctx, n)` once y_n is written (forward), and
 * `before(ctx, n)` before dy_n is read (backward). NULL for none. */
typedef struct { int cin, h, w, cout, k, stride, pad, ho, wo; } gf_conv_geom;
typedef void (*gf_sample_hook)(void *ctx, int n);
size_t gf_conv2d_workspace(const gf_conv_geom *g, int threads);
/* The same count in double: no overflow for absurd geometries (sizing checks). */
double gf_conv2d_workspace_floats(const gf_conv_geom *g, int threads);
void gf_conv2d_forward(const gf_conv_geom *g, int B, int threads, const float *x,
                       const float *w, const float *b, float *y, float *ws,
                       gf_sample_hook after, void *ctx);
void gf_conv2d_backward(const gf_conv_geom *g, int B, int threads, const float *x,
                        const float *w, const float *dy, float *dw, float *db,
                        float *dx, float *ws, gf_sample_hook before, void *ctx);

/* maxpool2d over planes: x (P, h, w) -> y (P, ho, wo), P = B * channels;
 * argmax (P, ho, wo) holds the winning input offset within its plane. */
void gf_maxpool2d_forward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                          const float *x, float *y, int32_t *argmax);
void gf_maxpool2d_backward(int64_t P, int h, int w, int k, int s, int ho, int wo,
                           const float *dy, const int32_t *argmax, float *dx);

/* elementwise over n values */
void gf_relu_forward(int64_t n, const float *x, float *y);
void gf_relu_backward(int64_t n, const float *x, const float *dy, float *dx);
void gf_gelu_forward(int64_t n, const float *x, float *y);     /* exact (erf) */
void gf_gelu_backward(int64_t n, const float *x, const float *dy, float *dx);
/* GELU, tanh approximation (GPT-2's):
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). dx may alias dy. */
void gf_gelu_tanh_forward(int64_t n, const float *x, float *y);
void gf_gelu_tanh_backward(int64_t n, const float *x, const float *dy, float *dx);
/* y = a + b over n values (y may alias a or b); acc += d over n values. */
void gf_add(int64_t n, const float *a, const float *b, float *y);
void gf_add_inplace(int64_t n, float *acc, const float *d);
/* inverted dropout; the mask of element i is a hash of (key, i), so the
 * backward pass recomputes it instead of storing it. */
void gf_dropout_forward(int64_t n, float p, uint64_t key, const float *x, float *y);
void gf_dropout_backward(int64_t n, float p, uint64_t key, const float *dy, float *dx);
/* The same for elements i0 .. i0+n-1 of a longer tensor (x, y, dy, dx point
 * at element i0): a data-parallel shard draws the masks of its place in the
 * whole batch. */
void gf_dropout_forward_at(int64_t n, int64_t i0, float p, uint64_t key, const float *x, float *y);
void gf_dropout_backward_at(int64_t n, int64_t i0, float p, uint64_t key, const float *dy, float *dx);

/* layernorm over the D features of each of B rows, eps 1e-5:
 * x (B, D), gamma (D), beta (D) -> y (B, D); saves mean (B), rstd (B). */
void gf_layernorm_forward(int B, int D, const float *x, const float *gamma,
                          const float *beta, float *y, float *mean, float *rstd);
void gf_layernorm_backward(int B, int D, const float *x, const float *gamma,
                           const float *mean, const float *rstd, const float *dy,
                           float *dx, float *dgamma, float *dbeta);

/* softmax cross-entropy, mean over the batch: logits (B, C), labels (B).
 * Returns the loss; writes dlogits (B, C) if not NULL and the number of
 * rows whose argmax equals the label to *correct if not NULL. */
double gf_softmax_ce(int B, int C, const float *logits, const int32_t *labels,
                     float *dlogits, int *correct);

/* token + position embedding: tok (B, T) ids in [0, V), wte (V, C),
 * wpe (maxT, C) -> x (B, T, C) = wte[tok] + wpe[t]. */
void gf_embedding_forward(int B, int T, int C, const int32_t *tok, const float *wte,
                          const float *wpe, float *x);
/* dx (B, T, C) -> dwpe (T rows, overwritten), dwte (V, C) += dx at each id's
 * row, in (b, t) order. Parallel over channel ranges, so the sums per row
 * run in the same order whatever the thread count. */
void gf_embedding_backward(int B, int T, int C, const int32_t *tok, const float *dx,
                           float *dwte, float *dwpe);

/* Causal multi-head self-attention over qkv (B, T, 3C) (q | k | v, head h
 * at columns h*hs .. (h+1)*hs of each, hs = C / H), scale 1/sqrt(hs):
 * out (B, T, C) heads concatenated; lse (B, H, T) the log-sum-exp of each
 * query's scaled scores, all that backward needs besides qkv and out (no
 * (T, T) matrix is stored: the forward runs over tiles of keys with an
 * online softmax, the backward recomputes the probabilities). Parallel over
 * (b, h) pairs, each owning its output slices: fixed order. */
void gf_attention_forward(int B, int T, int C, int H, const float *qkv, float *out, float *lse);
void gf_attention_backward(int B, int T, int C, int H, const float *qkv, const float *out,
                           const float *lse, const float *dout, float *dqkv);

/* matmul without bias for the tied head: x (M, K), w (N, K) -> y (M, N) = x w^T;
 * backward: dw (N, K) = dy^T x (overwritten), dx (M, K) = dy w (if not NULL). */
void gf_matmul_forward(int M, int K, int N, const float *x, const float *w, float *y);
void gf_matmul_backward(int M, int K, int N, const float *x, const float *w, const float *dy,
                        float *dw, float *dx);

/* Softmax cross-entropy over R rows (mean over rows) like gf_softmax_ce,
 * rows in parallel: row_loss (R) is scratch for the per-row losses, summed
 * in row order afterwards. dlogits may alias logits (each row's gradient
 * overwrites its logits). */
double gf_softmax_ce_rows(int64_t R, int C, const float *logits, const int32_t *labels,
                          float *dlogits, int64_t *correct, double *row_loss);

#endif
