// gemm_probe.c: matrix-multiply throughput on the shapes a MIRD training step runs (BERT-base
// layers over 144 rows x 50 tokens, their backward transposes, the decoder's vocabulary projection:
// core/gemm_probe.h), for mird's matmul() beside the raw oneDNN dnnl_sgemm and OpenBLAS cblas_sgemm,
// in ONE process so the ratios are comparable on a shared, noisy machine. This is how the BLAS
// backend was chosen; `mird bench` runs the dnnl_sgemm column in the same run as its steps.
//   make gemm-probe && build/gemm_probe [--threads T] [--reps R] [--rows R] [--precision fp32|bf16]
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm_probe.h"
#include "core/matmul.h"

void openblas_set_num_threads(int);

static void dnnl_fn(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                    int ldb, float beta, float *C, int ldc) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void openblas_fn(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                        int ldb, float beta, float *C, int ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda,
                B, ldb, beta, C, ldc);
}

int main(int argc, char **argv) {
    int threads = 2, reps = 5, rows = GEMM_PROBE_ROWS;
    MatmulPrecision prec = MATMUL_FP32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc) rows = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc && !matmul_precision_parse(argv[i + 1], &prec)) i++;
        else {
            fprintf(stderr, "usage: gemm_probe [--threads T] [--reps R] [--rows R] [--precision fp32|bf16]\n");
            return 2;
        }
    }
    if (threads < 1 || reps < 1 || rows < 1) {
        fprintf(stderr, "gemm_probe: --threads, --reps and --rows must be positive\n");
        return 2;
    }
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    prec = matmul_set_precision(prec);
    enum { NIMPL = 3 };
    const char *name[NIMPL] = {"mird", "dnnl_sgemm", "openblas"};
    GemmFn fn[NIMPL] = {matmul, dnnl_fn, openblas_fn};
    double per[NIMPL][GEMM_PROBE_NSHAPES], all[NIMPL];
    for (int k = 0; k < NIMPL; k++) all[k] = gemm_probe_run(fn[k], rows, reps, per[k]);
    GemmShape shapes[GEMM_PROBE_NSHAPES];
    gemm_probe_shapes(shapes, rows);
    printf("gemm probe: %d threads, %d rows, best of %d, mird's matmul in %s, GFLOP/s (higher is better)\n", threads,
           rows, reps, matmul_precision_name(prec));
    printf("%-40s %10s %10s %10s %12s\n", "shape", name[0], name[1], name[2], "mird/dnnl");
    for (int s = 0; s < GEMM_PROBE_NSHAPES; s++)
        printf("%-40s %10.1f %10.1f %10.1f %11.2fx\n", shapes[s].what, per[0][s], per[1][s], per[2][s],
               per[0][s] / per[1][s]);
    printf("%-40s %10.1f %10.1f %10.1f %11.2fx\n", "all shapes (total time)", all[0], all[1], all[2], all[0] / all[1]);
    printf("{\"threads\": %d, \"rows\": %d, \"backend\": \"%s\", \"precision\": \"%s\", \"gflops_mird\": %.1f, "
           "\"gflops_dnnl\": %.1f, \"gflops_openblas\": %.1f, \"mird_over_dnnl\": %.3f}\n",
           threads, rows, matmul_backend(), matmul_precision_name(prec), all[0], all[1], all[2], all[0] / all[1]);
    return 0;
}
