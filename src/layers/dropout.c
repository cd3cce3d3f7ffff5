// dropout.c: inverted dropout with an explicit mask (saved for backward).
#include "layers/layers.h"

void dropout_forward(float *out, float *mask, const float *inp, long n, float p, Rng *rng) {
    if (p <= 0.0f || !rng) {
        for (long i = 0; i < n; i++) mask[i] = 1.0f, out[i] = inp[i];
        return;
    }
    // Drawn sequentially from the one stream so a run is reproducible whatever the thread count.
    // p >= 1 drops everything (as PyTorch does).
    float keep = p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
    for (long i = 0; i < n; i++) {
        float m = rng_uniform(rng) < p ? 0.0f : keep;
        mask[i] = m;
        out[i] = inp[i] * m;
    }
}

void dropout_backward(float *dinp, const float *dout, const float *mask, long n) {
#pragma omp parallel for if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}
