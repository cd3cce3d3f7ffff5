// dropout.c: inverted dropout with counter-based masks (layers.h DropKey).
#include <stddef.h>

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

// One piece of a run whose indices share their high 32 bits: plain 32-bit lanes.
static void run32(float *o, const float *x, const float *y, long n, uint32_t klo, uint32_t khi, uint32_t thr,
                  float keep, uint32_t lo) {
    if (x) {
#pragma omp simd
        for (long i = 0; i < n; i++)
            o[i] = x[i] + y[i] * ((rng_hash32_lo(klo, khi, lo + (uint32_t)i) >> 8) < thr ? 0.0f : keep);
    } else {
#pragma omp simd
        for (long i = 0; i < n; i++) o[i] = y[i] * ((rng_hash32_lo(klo, khi, lo + (uint32_t)i) >> 8) < thr ? 0.0f : keep);
    }
}

void dropout_run(float *o, const float *x, const float *y, long n, const DropKey *d, uint64_t base) {
    if (!d->thr) { // dropout off: o = x + y, or y
        if (x) {
#pragma omp simd
            for (long i = 0; i < n; i++) o[i] = x[i] + y[i];
        } else if (o != y) {
#pragma omp simd
            for (long i = 0; i < n; i++) o[i] = y[i];
        }
        return;
    }
    while (n > 0) { // split where the index's high 32 bits change
        uint64_t room = 0x100000000ull - (base & 0xffffffffull);
        long m = (uint64_t)n < room ? n : (long)room;
        run32(o, x, y, m, (uint32_t)d->key, rng_hash32_hi(d->key, base), d->thr, d->keep, (uint32_t)base);
        o += m, y += m, x = x ? x + m : NULL, base += (uint64_t)m, n -= m;
    }
}

// Parallel over chunks of a long run (each chunk a dropout_run: the same values as one run).
static void dropout_par(float *o, const float *x, const float *y, long n, const DropKey *d) {
    const long CH = 16384;
#pragma omp parallel for if (n > 65536) schedule(static)
    for (long c = 0; c < (n + CH - 1) / CH; c++) {
        long a = c * CH, m = n - a < CH ? n - a : CH;
        dropout_run(o + a, x ? x + a : NULL, y + a, m, d, (uint64_t)a);
    }
}

void dropout_forward(float *out, float *mask, const float *inp, long n, float p, Rng *rng) {
    DropKey d = dropkey_draw(p, rng);
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) mask[i] = 1.0f;
    dropout_par(mask, NULL, mask, n, &d); // mask = 1 * mask
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

void dropout_backward(float *dinp, const float *dout, const float *mask, long n) {
#pragma omp parallel for simd if (n > 65536) schedule(static)
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}

void dropout_apply(float *out, const float *inp, long n, const DropKey *d) {
    if (d->thr || out != inp) dropout_par(out, NULL, inp, n, d);
}
