// matmul.c: the single GEMM entry point, backed by oneDNN's dnnl_sgemm (row-major API) or by
// OpenBLAS's cblas_sgemm. Measured on this Zen 5 machine (OpenBLAS forced to its Haswell kernels
// by OPENBLAS_CORETYPE), dnnl_sgemm is about 2x faster on BERT-sized shapes, so it is the default.
#include "matmul.h"

#include "timer.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(MIRD_BLAS_OPENBLAS)
#include <cblas.h>
#else
#include <oneapi/dnnl/dnnl.h>
#endif

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { // C = beta * C (BLAS semantics with an empty inner dimension)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    if (timer_on_) timer_count_flops(2.0 * M * N * K); // profiling only (mird bench)
#if defined(MIRD_BLAS_OPENBLAS)
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                  ldb, beta, C, ldc);
    if (st != dnnl_success) {
        fprintf(stderr, "mird: dnnl_sgemm failed (status %d, M=%d N=%d K=%d)\n", (int)st, M, N, K);
        exit(1);
    }
#endif
}

const char *matmul_backend(void) {
#if defined(MIRD_BLAS_OPENBLAS)
    return "openblas";
#else
    return "dnnl";
#endif
}
