// vmath.h: vectorisable float exp, tanh, sigmoid and the GELU cdf. glibc's expf/tanhf/erff are
// scalar calls (its SIMD variants need -ffast-math), so loops calling them do not vectorise; these
// are plain arithmetic, inlined into `#pragma omp simd` loops (16 lanes with AVX-512). The one exp of
// the project: softmax, attention, LSTM gates, GELU and the 30522-way vocabulary cross entropy (mird.c).
// Only standard C (no GCC-only builtins), so clang 14 (the fuzz build) compiles it as well.
// Accuracy (tests/test_layers.c sweeps them against double precision):
//   vexpf: Cephes-style range reduction (x = n ln2 + r) and degree-6 polynomial, under 1e-7
//          relative error in the normal range; exactly 0 below -104 (as expf underflows), inf above 88.72.
//   vtanhf: odd polynomial for |x| < 0.625, 1 - 2 / (exp(2|x|) + 1) above; ~2e-7 relative.
//   GELU cdf Phi(x) = erfc(-x / sqrt 2) / 2 through an erfc with < 1.2e-7 fractional error (plus
//          float rounding), so both GELU tails stay relatively accurate. This is the exact-erf GELU,
//          not the tanh approximation (whose error is ~1e-3).
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

// a * b + c as one fused multiply-add where the target has one (one rounding, and one instruction's
// latency per step of the Horner chains below instead of two: the GELU loops are latency-bound,
// gelu_forward 9.3 -> 6.8 ms over 14.7 M values on 2 threads); plain a * b + c elsewhere, where fmaf
// would be a slow library call. (The C11 build does not contract a * b + c by itself: ISO mode turns
// GCC's -ffp-contract off.)
#if defined(__FMA__) || defined(__aarch64__)
#define VM_FMA(a, b, c) fmaf(a, b, c)
#else
#define VM_FMA(a, b, c) ((a) * (b) + (c))
#endif

static inline float vm_pow2i(int n) { // 2^n for n in [-126, 127]
    uint32_t u = (uint32_t)(n + 127) << 23;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

// exp(hi + lo) where lo carries bits that hi + lo would lose in float (|lo| may be up to a few units).
static inline float vexpf_hl(float hi, float lo) {
    float x = hi + lo;
    float fn = (x > 88.8f ? 88.8f : (x < -104.0f ? -104.0f : x)) * 1.44269504088896341f;
    fn = (fn + 12582912.0f) - 12582912.0f; // round to nearest integer (1.5 * 2^23 trick)
    // r = x - n ln2, ln 2 split into a high part (exact products with n) and the low remainder
    float r = (hi - fn * 0.693359375f) + (lo - fn * -2.12194440e-4f);
    float p = 1.9875691500e-4f;
    p = VM_FMA(p, r, 1.3981999507e-3f);
    p = VM_FMA(p, r, 8.3334519073e-3f);
    p = VM_FMA(p, r, 4.1665795894e-2f);
    p = VM_FMA(p, r, 1.6666665459e-1f);
    p = VM_FMA(p, r, 5.0000001201e-1f);
    p = VM_FMA(p, r * r, r) + 1.0f;
    int n = (int)fn, n1 = n >> 1; // 2^n as two factors so that n = 128 and subnormals work
    float res = p * vm_pow2i(n1) * vm_pow2i(n - n1);
    return x < -104.0f ? 0.0f : res; // above 88.72 the product overflows to inf by itself
}

static inline float vexpf(float x) { return vexpf_hl(x, 0.0f); }

static inline float vsigmoidf(float x) { return 1.0f / (1.0f + vexpf(-x)); }

static inline float vtanhf(float x) {
    float ax = x < 0.0f ? -x : x;
    float z = x * x;
    float sp = VM_FMA(-5.70498872745e-3f, z, 2.06390887954e-2f);
    sp = VM_FMA(sp, z, -5.37397155531e-2f);
    sp = VM_FMA(sp, z, 1.33314422036e-1f);
    sp = VM_FMA(sp, z, -3.33332819422e-1f);
    float small = VM_FMA(sp * z, x, x);
    float big = 1.0f - 2.0f / (vexpf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
}

// erfc(a) for a >= 0: Chebyshev fit with fractional error < 1.2e-7 everywhere (Numerical Recipes'
// erfcc), so the GELU tail x -> -inf keeps its RELATIVE precision (no 1 - erf cancellation).
static inline float verfcf_pos(float a) {
    float t = 1.0f / (1.0f + 0.5f * a);
    float p = VM_FMA(t, 0.17087277f, -0.82215223f);
    p = VM_FMA(t, p, 1.48851587f);
    p = VM_FMA(t, p, -1.13520398f);
    p = VM_FMA(t, p, 0.27886807f);
    p = VM_FMA(t, p, -0.18628806f);
    p = VM_FMA(t, p, 0.09678418f);
    p = VM_FMA(t, p, 0.37409196f);
    p = VM_FMA(t, p, 1.00002368f);
    float a2 = a * a, a2err = fmaf(a, a, -a2); // a^2 = a2 + a2err exactly
    return t * vexpf_hl(-a2, VM_FMA(t, p, -1.26551223f) - a2err);
}

// GELU's Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2.
static inline float vgelu_cdf(float x) {
    float q = 0.5f * verfcf_pos((x < 0.0f ? -x : x) * 0.70710678118654752f);
    return x < 0.0f ? q : 1.0f - q;
}

// phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
static inline float vgelu_pdf(float x) {
    float h = 0.5f * x * x, herr = fmaf(0.5f * x, x, -h); // x^2 / 2 = h + herr exactly
    return 0.3989422804014327f * vexpf_hl(-h, -herr);
}

// Phi(x) and phi(x) for values that are rounded to bfloat16 next (2^-9 relative): about 5x cheaper than
// the two above (no division chain of exp and Chebyshev terms; 0.16 against 0.89 ns per GELU value on
// one core), absolute error under 1e-6 (tests/test_layers.c) where bfloat16's rounding of Phi near 1/2
// is 1e-3. Phi: Abramowitz & Stegun 7.1.28, erf(z) = 1 - (1 + a1 z + ... + a6 z^6)^-16 (error 3e-7 on
// erf; the float 16th power adds up to 1e-6). Relative accuracy in the far negative tail is not kept
// (x Phi(x) there is under 1e-3 in magnitude, with an absolute error under 1e-6 * |x|).
static inline float vgelu_cdf_lowp(float x) {
    float z = (x < 0.0f ? -x : x) * 0.70710678118654752f;
    float p = VM_FMA(z, 4.30638e-5f, 2.765672e-4f);
    p = VM_FMA(p, z, 1.520143e-4f);
    p = VM_FMA(p, z, 9.2705272e-3f);
    p = VM_FMA(p, z, 4.22820123e-2f);
    p = VM_FMA(p, z, 7.05230784e-2f);
    p = VM_FMA(p, z, 1.0f);
    p = p * p, p = p * p, p = p * p, p = p * p;
    float q = 0.5f / p; // erfc(z) / 2
    return x < 0.0f ? q : 1.0f - q;
}
static inline float vgelu_pdf_lowp(float x) { return 0.3989422804014327f * vexpf(-0.5f * x * x); }
