// gemm_probe.c: matrix-multiply throughput on the shapes a MIRD training step runs (BERT-base
// layers over 144 rows x 50 tokens, their backward transposes, the decoder's vocabulary projection),
// for mird's matmul() beside the raw oneDNN dnnl_sgemm and OpenBLAS cblas_sgemm, in ONE process so
// the ratios are comparable on a shared, noisy machine. This is how the BLAS backend was chosen.
//   make gemm-probe && build/gemm_probe [--threads T] [--reps R]
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/common.h"
#include "core/matmul.h"
#include "core/rng.h"

void openblas_set_num_threads(int);

typedef struct {
    const char *what;
    int ta, tb, M, N, K;
} Shape;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { IMPL_MIRD, IMPL_DNNL, IMPL_OPENBLAS, NIMPL };
static const char *IMPL_NAME[NIMPL] = {"mird", "dnnl_sgemm", "openblas"};

static void run(int impl, const Shape *s, const float *A, const float *B, float *C) {
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (impl == IMPL_MIRD)
        matmul(s->ta, s->tb, s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    else if (impl == IMPL_DNNL)
        dnnl_sgemm(s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
    else
        cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, s->M,
                    s->N, s->K, 1.0f, A, lda, B, ldb, 0.0f, C, s->N);
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: gemm_probe [--threads T] [--reps R]\n");
            return 2;
        }
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    const int R = 144 * 50; // rows of a paper batch: (48 labeled + 96 unlabeled) x Tl 50
    const Shape shapes[] = {
        {"qkv/out fwd   [R,768]x[768,768]^T", 0, 1, R, 768, 768},
        {"ffn-up fwd    [R,768]x[3072,768]^T", 0, 1, R, 3072, 768},
        {"ffn-down fwd  [R,3072]x[768,3072]^T", 0, 1, R, 768, 3072},
        {"ffn-up dinp   [R,3072]x[3072,768]", 0, 0, R, 768, 3072},
        {"ffn-up dW     [R,3072]^Tx[R,768]", 1, 0, 3072, 768, R},
        {"vocab fwd     [R,128]x[30522,128]^T", 0, 1, R, 30522, 128},
    };
    const int ns = sizeof(shapes) / sizeof(shapes[0]);
    Rng rng;
    rng_seed(&rng, 7, 0);
    printf("gemm probe: %d threads, best of %d, GFLOP/s (higher is better)\n", threads, reps);
    printf("%-40s %10s %10s %10s %12s\n", "shape", IMPL_NAME[0], IMPL_NAME[1], IMPL_NAME[2], "mird/dnnl");
    double tot[NIMPL] = {0}, flops_all = 0;
    for (int si = 0; si < ns; si++) {
        const Shape *s = &shapes[si];
        size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
        float *A = falloc(na), *B = falloc(nb), *C = falloc(nc);
        for (size_t i = 0; i < na; i++) A[i] = rng_uniform(&rng) - 0.5f;
        for (size_t i = 0; i < nb; i++) B[i] = rng_uniform(&rng) - 0.5f;
        double flops = 2.0 * s->M * s->N * s->K, gf[NIMPL];
        for (int impl = 0; impl < NIMPL; impl++) {
            run(impl, s, A, B, C); // warm-up
            double best = 1e30;
            for (int r = 0; r < reps; r++) {
                double t0 = now();
                run(impl, s, A, B, C);
                double t = now() - t0;
                if (t < best) best = t;
            }
            gf[impl] = flops / best * 1e-9;
            tot[impl] += best;
        }
        flops_all += flops;
        printf("%-40s %10.1f %10.1f %10.1f %11.2fx\n", s->what, gf[0], gf[1], gf[2], gf[0] / gf[1]);
        free(A), free(B), free(C);
    }
    printf("%-40s %10.1f %10.1f %10.1f %11.2fx\n", "all shapes (total time)", flops_all / tot[0] * 1e-9,
           flops_all / tot[1] * 1e-9, flops_all / tot[2] * 1e-9, tot[1] / tot[0]);
    printf("{\"threads\": %d, \"backend\": \"%s\", \"gflops_mird\": %.1f, \"gflops_dnnl\": %.1f, "
           "\"gflops_openblas\": %.1f, \"mird_over_dnnl\": %.3f}\n",
           threads, matmul_backend(), flops_all / tot[0] * 1e-9, flops_all / tot[1] * 1e-9,
           flops_all / tot[2] * 1e-9, tot[1] / tot[0]);
    return 0;
}
