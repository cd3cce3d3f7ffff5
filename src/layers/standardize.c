// standardize.c: per-column standardisation over the rows of a batch (batch normalisation without
// the affine part). Used when the CLUB estimators see standardised latents (mird.h club_std):
// then a latent's scale cannot change an estimate, only its dependence on the other latent can.
#include <math.h>

#include "layers/layers.h"

void standardize_forward(float *out, float *mean, float *rstd, const float *x, int N, int D, float eps) {
    for (int d = 0; d < D; d++) {
        double m = 0, v = 0; // two passes in double: latents can be tiny (std 1e-4) next to their mean
        for (int i = 0; i < N; i++) m += x[(long)i * D + d];
        m /= N;
        for (int i = 0; i < N; i++) {
            double e = x[(long)i * D + d] - m;
            v += e * e;
        }
        v /= N;
        double s = 1.0 / sqrt(v + eps);
        for (int i = 0; i < N; i++) out[(long)i * D + d] = (float)((x[(long)i * D + d] - m) * s);
        mean[d] = (float)m;
        rstd[d] = (float)s;
    }
}

// With y = (x - mean) * rstd over the rows:  dx += rstd * (dy - mean_i dy - y * mean_i(dy * y)).
void standardize_backward(float *dx, const float *dout, const float *out, const float *rstd, int N, int D) {
    for (int d = 0; d < D; d++) {
        double g = 0, gy = 0;
        for (int i = 0; i < N; i++) {
            g += dout[(long)i * D + d];
            gy += (double)dout[(long)i * D + d] * out[(long)i * D + d];
        }
        g /= N;
        gy /= N;
        for (int i = 0; i < N; i++) {
            long j = (long)i * D + d;
            dx[j] += (float)(rstd[d] * (dout[j] - g - out[j] * gy));
        }
    }
}
