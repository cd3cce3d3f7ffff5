// gradtest.h: small helpers shared by the layer tests (header-only, static).
// Gradient checks follow one pattern: loss = random projection of the layer output, computed in
// double (dot_d); every gradient buffer is PRE-FILLED with random values and backward is called
// TWICE, so (grad - prefill) / 2 must equal the finite-difference gradient: this checks that the
// kernels accumulate (+=) rather than overwrite, and that they do not depend on the buffer's contents.
#pragma once
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "testutil.h"

// Default finite-difference settings (fp32 forward, double loss):
//   eps = 1e-3 (central differences), rtol = 1e-2, atol = 1e-3 * max|analytic grad| of the tensor.
// Truncation error is O(eps^2) ~ 1e-6 relative; fp32 rounding noise in the loss divided by 2 eps is
// ~1e-4 for the sizes used here, well under atol. A sign-flipped backward term changes a gradient
// by at least several percent of the tensor's scale in these tests, far above both tolerances.
#define GC_EPS 1e-3
#define GC_RTOL 1e-2
#define GC_ATOL_FRAC 1e-3

static inline float *gt_copy(const float *x, long n) {
    float *y = falloc((size_t)n);
    memcpy(y, x, sizeof(float) * (size_t)n);
    return y;
}

// A buffer of n random values used to pre-fill a gradient buffer (and kept to subtract later).
static inline float *gt_prefill(float *g, long n, Rng *r) {
    fill_normal(g, n, 0.7f, r);
    return gt_copy(g, n);
}

// After two accumulating backward calls: g = (g - pre) / 2, frees pre.
static inline void gt_unaccum(float *g, float *pre, long n) {
    for (long i = 0; i < n; i++) g[i] = (g[i] - pre[i]) * 0.5f;
    free(pre);
}

static inline double gt_maxabs(const float *x, long n) {
    double m = 0;
    for (long i = 0; i < n; i++) m = fabs(x[i]) > m ? fabs(x[i]) : m;
    return m;
}

// gradcheck with the default tolerances; checks every entry when n <= max_checks.
static inline int gt_check(const char *name, LossFn f, void *ctx, float *param, const float *grad, long n,
                           long max_checks) {
    double atol = GC_ATOL_FRAC * gt_maxabs(grad, n) + 1e-7;
    return gradcheck(name, f, ctx, param, grad, n, GC_EPS, GC_RTOL, atol, max_checks);
}
