// layernorm.c: LayerNorm over the last dimension, PyTorch semantics (biased variance, eps inside sqrt),
// and BERT's fused "add & norm" (residual + dropout + LayerNorm) with counter-based dropout masks.
#include <math.h>
#include <stddef.h>

#include "layers/layers.h"

static const DropKey NO_DROP = {0, 0, 1.0f}; // dropout off

// One row: mean and biased variance by two passes (vectorised sums), out = (x - mean) * rstd * w + b.
static inline void ln_row(float *o, const float *x, const float *w, const float *b, int C, float eps, float *mean,
                          float *rstd) {
    float m = 0, v = 0;
#pragma omp simd reduction(+ : m)
    for (int i = 0; i < C; i++) m += x[i];
    m /= C;
#pragma omp simd reduction(+ : v)
    for (int i = 0; i < C; i++) v += (x[i] - m) * (x[i] - m);
    v /= C;
    float s = 1.0f / sqrtf(v + eps);
#pragma omp simd
    for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
    *mean = m, *rstd = s;
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
    for (int n = 0; n < N; n++) ln_row(out + (long)n * C, inp + (long)n * C, w, b, C, eps, mean + n, rstd + n);
}

// One row of the input gradient, with xhat = (x - mean) * rstd and g = dout * w:
//   rstd * (g - mean(g) - xhat * mean(g * xhat)), added to dx (acc) or written.
static inline void ln_row_backward(float *dx, const float *d, const float *x, const float *w, float m, float s, int C,
                                   int acc) {
    float gmean = 0, gxmean = 0;
#pragma omp simd reduction(+ : gmean, gxmean)
    for (int i = 0; i < C; i++) {
        float g = d[i] * w[i];
        gmean += g;
        gxmean += g * (x[i] - m) * s;
    }
    gmean /= C;
    gxmean /= C;
    if (acc) {
#pragma omp simd
        for (int i = 0; i < C; i++) dx[i] += s * (d[i] * w[i] - gmean - (x[i] - m) * s * gxmean);
    } else {
#pragma omp simd
        for (int i = 0; i < C; i++) dx[i] = s * (d[i] * w[i] - gmean - (x[i] - m) * s * gxmean);
    }
}

// dw += sum_n dout * xhat ; db += sum_n dout: reductions over rows, parallel over 64-column blocks
// (each column summed in row order whatever the thread count).
static void ln_param_grads(float *dw, float *db, const float *dout, const float *inp, const float *mean,
                           const float *rstd, int N, int C) {
    int nblk = (C + 63) / 64;
#pragma omp parallel for if ((long)N * C > 65536) schedule(static)
    for (int bi = 0; bi < nblk; bi++) {
        int c0 = bi * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
        float aw[64] = {0}, ab[64] = {0};
        for (int n = 0; n < N; n++) {
            const float *x = inp + (long)n * C, *d = dout + (long)n * C;
            float m = mean[n], s = rstd[n];
#pragma omp simd
            for (int i = c0; i < c1; i++) {
                aw[i - c0] += d[i] * (x[i] - m) * s;
                ab[i - c0] += d[i];
            }
        }
        for (int i = c0; i < c1; i++) {
            if (dw) dw[i] += aw[i - c0];
            if (db) db[i] += ab[i - c0];
        }
    }
}

void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
        for (int n = 0; n < N; n++)
            ln_row_backward(dinp + (long)n * C, dout + (long)n * C, inp + (long)n * C, w, mean[n], rstd[n], C, 1);
    }
    if (dw || db) ln_param_grads(dw, db, dout, inp, mean, rstd, N, C);
}

void residual_layernorm_forward(float *res, float *out, float *mean, float *rstd, const float *x, const float *y,
                                const DropKey *drop, const float *w, const float *b, int N, int C, float eps) {
    const DropKey *dk = drop ? drop : &NO_DROP;
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
    for (int n = 0; n < N; n++) {
        float *r = res + (long)n * C;
        dropout_run(r, x + (long)n * C, y + (long)n * C, C, dk, (uint64_t)n * C);
        ln_row(out + (long)n * C, r, w, b, C, eps, mean + n, rstd + n);
    }
}

void residual_layernorm_backward(float *dres, float *dy, float *dw, float *db, const float *dout,
                                 const float *res, const float *w, const float *mean, const float *rstd,
                                 const DropKey *drop, int N, int C) {
    const DropKey *dk = drop ? drop : &NO_DROP;
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
    for (int n = 0; n < N; n++) {
        float *dx = dres + (long)n * C;
        ln_row_backward(dx, dout + (long)n * C, res + (long)n * C, w, mean[n], rstd[n], C, 0);
        if (dy && dy != dres) dropout_run(dy + (long)n * C, NULL, dx, C, dk, (uint64_t)n * C);
    }
    if (dw || db) ln_param_grads(dw, db, dout, res, mean, rstd, N, C);
}
