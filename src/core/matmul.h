// matmul.h: THE matrix-multiply entry point. Every layer multiplies through this function.
// Row-major: C[M,N] = alpha * op(A)[M,K] @ op(B)[K,N] + beta * C.
// op(A) = A (A stored [M,K], lda >= K) or A^T (A stored [K,M], lda >= M) when transA; same for B.
// Backend chosen at build time (MIRD_BLAS=dnnl, the default, or openblas); see tools/gemm_probe.
#pragma once

void matmul(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
            const float *B, int ldb, float beta, float *C, int ldc);

// Name of the backend compiled in ("dnnl" or "openblas").
const char *matmul_backend(void);
