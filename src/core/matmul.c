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

// Threading: products under MATMUL_PAR_MIN_FLOPS (about half a millisecond of one core, e.g. the
// LSTM steps' [B,H] x [H,4H]) run on the calling thread with no parallel region at all: on 2 cores
// shared with other processes, a parallel region costs a barrier that waits for a descheduled
// partner thread (milliseconds), far more than it saves on a small product. Larger products use
// the backend's own threading. Inside a caller's parallel region the backends run single-threaded.
// (Cutting large products into dynamically scheduled single-threaded pieces was tried and dropped:
// on the GEMM probe it reached only 0.80x of dnnl_sgemm's own threading, 0.48x on the [3072 x 768]
// weight gradient over 7200 rows, whose pieces each re-read the whole right-hand operand.)
#define MATMUL_PAR_MIN_FLOPS 5e7

static void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc) {
    double flops = 2.0 * M * N * K;
    if (timer_on_ && flops > 0) timer_count_flops(flops); // profiling only (mird bench)
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
