// gemm_probe.h: the GEMM yardstick. A training step's speed is judged against what the BLAS backend
// reaches on the products that dominate it: BERT-base layers over R token rows (a paper batch is
// 144 clips x 50 = 7200 rows), their backward transposes and the decoder's vocabulary projection.
// `mird bench` times it in the same run as the steps (a shared machine's speed drifts), and
// tools/gemm_probe.c prints it per shape beside mird's matmul() and OpenBLAS.
#pragma once

typedef struct {
    const char *what;
    int ta, tb, M, N, K;
} GemmShape;

#define GEMM_PROBE_ROWS (144 * 50)
#define GEMM_PROBE_NSHAPES 6
// The probe's shapes over R rows.
void gemm_probe_shapes(GemmShape out[GEMM_PROBE_NSHAPES], int R);

// fn: the product to time (matmul_reference for the backend's own rate). Each shape is timed reps
// times after a warm-up; returns the aggregate rate: total FLOPs / sum of each shape's best time
// (GFLOP/s). per_shape (may be NULL): each shape's best rate.
typedef void (*GemmFn)(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);
double gemm_probe_run(GemmFn fn, int R, int reps, double per_shape[GEMM_PROBE_NSHAPES]);
