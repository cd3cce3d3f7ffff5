// layernorm.c: LayerNorm over the last dimension, PyTorch semantics (biased variance, eps inside sqrt).
#include <math.h>

#include "layers/layers.h"

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps) {
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (long)n * C;
        float *o = out + (long)n * C;
        float m = 0;
        for (int i = 0; i < C; i++) m += x[i];
        m /= C;
        float v = 0; // two-pass variance: sum of squared deviations, divided by C (biased)
        for (int i = 0; i < C; i++) {
            float d = x[i] - m;
            v += d * d;
        }
        v /= C;
        float s = 1.0f / sqrtf(v + eps);
        for (int i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
        mean[n] = m;
        rstd[n] = s;
    }
}

// With xhat = (x - mean) * rstd and g = dout * w:
//   dinp += rstd * (g - mean(g) - xhat * mean(g * xhat)) ; dw += sum_n dout * xhat ; db += sum_n dout
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C) {
    if (dinp) {
#pragma omp parallel for if ((long)N * C > 32768) schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (long)n * C, *d = dout + (long)n * C;
            float *dx = dinp + (long)n * C;
            float m = mean[n], s = rstd[n];
            float gmean = 0, gxmean = 0;
            for (int i = 0; i < C; i++) {
                float g = d[i] * w[i];
                gmean += g;
                gxmean += g * (x[i] - m) * s;
            }
            gmean /= C;
            gxmean /= C;
            for (int i = 0; i < C; i++) {
                float xh = (x[i] - m) * s;
                dx[i] += s * (d[i] * w[i] - gmean - xh * gxmean);
            }
        }
    }
    if (dw || db) { // reductions over rows: parallel over 64-column blocks
        int nblk = (C + 63) / 64;
#pragma omp parallel for if ((long)N * C > 65536) schedule(static)
        for (int bi = 0; bi < nblk; bi++) {
            int c0 = bi * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
            float aw[64] = {0}, ab[64] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (long)n * C, *d = dout + (long)n * C;
                float m = mean[n], s = rstd[n];
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
}
