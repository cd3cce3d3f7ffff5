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

// Threading. On 2 cores shared with other processes, a backend's own parallel GEMM splits the work
// statically between its threads and then waits at a barrier for the slower one: when the partner
// thread is descheduled (milliseconds), the whole product waits. So matmul does its own splitting:
//  - products under MATMUL_PAR_MIN_FLOPS (about half a millisecond of one core, e.g. the LSTM steps'
//    [B,H] x [H,4H]) run on the calling thread, with no parallel region at all;
//  - larger ones are cut into MATMUL_CHUNKS_PER_THREAD pieces per thread along M or N (the side
//    whose other operand is smaller, so the re-read operand is the small one) and the pieces are
//    handed out dynamically to single-threaded backend calls: a descheduled thread delays the
//    product by at most one piece, the other thread takes the rest.
// Inside a caller's parallel region matmul runs single-threaded (the backends do so by themselves).
// Each output element's K-reduction is the backend's own, so results match the unsplit call up to
// the backend's blocking. Measured with mird bench (docs/performance.md).
#define MATMUL_PAR_MIN_FLOPS 5e7
#define MATMUL_CHUNKS_PER_THREAD 4

static void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc) {
    double flops = 2.0 * M * N * K;
    if (timer_on_ && flops > 0) timer_count_flops(flops); // profiling only (mird bench)
    int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (nt <= 1 || flops <= 0) {
        gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    omp_set_num_threads(1); // the backends size their teams by omp_get_max_threads()
    if (flops < MATMUL_PAR_MIN_FLOPS) {
        gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    } else {
        // split N when A (M x K) is the smaller operand (every piece reads all of A), else split M
        int splitN = (double)M * K <= (double)N * K ? 1 : 0;
        if (splitN ? N < 32 : M < 32) splitN = !splitN;
        int D = splitN ? N : M;
        int nch = nt * MATMUL_CHUNKS_PER_THREAD;
        int step = (D + nch - 1) / nch;
        step = (step + 15) & ~15; // multiples of 16 columns / rows
        if (step < 16) step = 16;
        nch = (D + step - 1) / step;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int ch = 0; ch < nch; ch++) {
            int d0 = ch * step, d1 = d0 + step < D ? d0 + step : D;
            if (splitN) { // C[:, d0:d1] = op(A) op(B)[:, d0:d1]
                const float *Bp = transB ? B + (size_t)d0 * ldb : B + d0;
                gemm(transA, transB, M, d1 - d0, K, alpha, A, lda, Bp, ldb, beta, C + d0, ldc);
            } else { // C[d0:d1, :] = op(A)[d0:d1, :] op(B)
                const float *Ap = transA ? A + d0 : A + (size_t)d0 * lda;
                gemm(transA, transB, d1 - d0, N, K, alpha, Ap, lda, B, ldb, beta, C + (size_t)d0 * ldc, ldc);
            }
        }
    }
    omp_set_num_threads(nt);
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
