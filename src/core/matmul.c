// matmul.c: the single GEMM entry point, backed by oneDNN's dnnl_sgemm (row-major API) or by
// OpenBLAS's cblas_sgemm. Measured on this Zen 5 machine (OpenBLAS forced to its Haswell kernels
// by OPENBLAS_CORETYPE), dnnl_sgemm is about 2x faster on BERT-sized shapes, so it is the default.
#include "matmul.h"

#include "timer.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(MIRD_BLAS_OPENBLAS)
#include <cblas.h>
#else
#include <oneapi/dnnl/dnnl.h>
#endif

// Products smaller than this many FLOPs run on the calling thread alone (about half a millisecond
// of one core): on 2 cores shared with other processes, a parallel region costs a barrier that
// waits for a descheduled partner thread (milliseconds), far more than it saves on small products
// such as the LSTM steps' [B,H] x [H,4H]. Measured with mird bench (docs/performance.md).
#define MATMUL_PAR_MIN_FLOPS 5e7

static void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc) {
    double flops = 2.0 * M * N * K;
    if (flops < MATMUL_PAR_MIN_FLOPS && flops > 0 && !omp_in_parallel()) {
        int nt = omp_get_max_threads();
        if (nt > 1) { // the backends size their teams by omp_get_max_threads()
            omp_set_num_threads(1);
            gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
            omp_set_num_threads(nt);
            return;
        }
    }
    gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
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
