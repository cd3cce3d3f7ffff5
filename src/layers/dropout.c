// dropout.c: inverted dropout with counter-based masks (layers.h DropKey).
#include "layers/layers.h"

DropKey dropkey_draw(float p, Rng *rng) {
    DropKey d = {0, 0, 1.0f};
    if (!rng || p <= 0.0f) return d;
    d.key = rng_u64(rng);
    // p >= 1 drops everything (as PyTorch does): every 24-bit value is below 2^24
    d.thr = p >= 1.0f ? (1u << 24) : (uint32_t)((double)p * 16777216.0);
    if (d.thr == 0) d.thr = 1; // p under 2^-24: still dropout on (a 2^-24 rate)
    d.keep = p >= 1.0f ? 0.0f : 1.0f / (1.0f - p);
    return d;
}

void dropout_forward(float *out, float *mask, const float *inp, long n, float p, Rng *rng) {
    DropKey d = dropkey_draw(p, rng);
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) {
        float m = dropkey_mask(&d, (uint64_t)i);
        mask[i] = m;
        out[i] = inp[i] * m;
    }
}

void dropout_backward(float *dinp, const float *dout, const float *mask, long n) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

void dropout_apply(float *out, const float *inp, long n, const DropKey *d) {
    if (!d->thr) {
        if (out != inp)
            for (long i = 0; i < n; i++) out[i] = inp[i];
        return;
    }
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) out[i] = inp[i] * dropkey_mask(d, (uint64_t)i);
}
