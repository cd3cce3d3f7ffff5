// softmax.c: row-wise softmax (max-subtracted) along the last dimension.
#include <math.h>

#include "layers/layers.h"
#include "layers/vmath.h"

void softmax_forward(float *out, const float *inp, int rows, int n) {
#pragma omp parallel for if ((long)rows * n > 16384) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (long)r * n;
        float *o = out + (long)r * n;
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int i = 0; i < n; i++) {
            o[i] = vexpf(x[i] - mx);
            s += o[i];
        }
        float inv = 1.0f / s;
        for (int i = 0; i < n; i++) o[i] *= inv;
    }
}

// dinp_i += p_i * (dout_i - sum_j p_j dout_j)
void softmax_backward(float *dinp, const float *dout, const float *out, int rows, int n) {
#pragma omp parallel for if ((long)rows * n > 32768) schedule(static)
    for (int r = 0; r < rows; r++) {
        const float *p = out + (long)r * n, *d = dout + (long)r * n;
        float *dx = dinp + (long)r * n;
        float dot = 0;
        for (int i = 0; i < n; i++) dot += p[i] * d[i];
        for (int i = 0; i < n; i++) dx[i] += p[i] * (d[i] - dot);
    }
}
