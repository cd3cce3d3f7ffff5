// gemm_probe.c: see gemm_probe.h.
#include "gemm_probe.h"

#include <stdlib.h>

#include "common.h"
#include "rng.h"
#include "timer.h"

void gemm_probe_shapes(GemmShape out[GEMM_PROBE_NSHAPES], int R) {
    const GemmShape s[GEMM_PROBE_NSHAPES] = {
        {"qkv/out fwd   [R,768]x[768,768]^T", 0, 1, R, 768, 768},
        {"ffn-up fwd    [R,768]x[3072,768]^T", 0, 1, R, 3072, 768},
        {"ffn-down fwd  [R,3072]x[768,3072]^T", 0, 1, R, 768, 3072},
        {"ffn-up dinp   [R,3072]x[3072,768]", 0, 0, R, 768, 3072},
        {"ffn-up dW     [R,3072]^Tx[R,768]", 1, 0, 3072, 768, R},
        {"vocab fwd     [R,128]x[30522,128]^T", 0, 1, R, 30522, 128},
    };
    for (int i = 0; i < GEMM_PROBE_NSHAPES; i++) out[i] = s[i];
}

double gemm_probe_run(GemmFn fn, int R, int reps, double per_shape[GEMM_PROBE_NSHAPES]) {
    GemmShape shapes[GEMM_PROBE_NSHAPES];
    gemm_probe_shapes(shapes, R);
    Rng rng;
    rng_seed(&rng, 7, 0);
    double flops_all = 0, time_all = 0;
    for (int si = 0; si < GEMM_PROBE_NSHAPES; si++) {
        const GemmShape *s = &shapes[si];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = falloc(na), *B = falloc(nb), *C = falloc(nc);
        for (size_t i = 0; i < na; i++) A[i] = rng_uniform(&rng) - 0.5f;
        for (size_t i = 0; i < nb; i++) B[i] = rng_uniform(&rng) - 0.5f;
        int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
        double flops = 2.0 * s->M * s->N * s->K, best = 1e30;
        for (int r = 0; r <= reps; r++) { // r == 0: warm-up
            double t0 = timer_now();
            fn(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
            double t = timer_now() - t0;
            if (r > 0 && t < best) best = t;
        }
        if (per_shape) per_shape[si] = flops / best * 1e-9;
        flops_all += flops, time_all += best;
        free(A), free(B), free(C);
    }
    return flops_all / time_all * 1e-9;
}
