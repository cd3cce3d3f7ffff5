// linear.c: fully connected layer, PyTorch weight layout W[OC, IC]. One GEMM per product.
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/matmul.h"
#include "layers/layers.h"

// Column sums of a [N, C] matrix accumulated into db[C]. Each thread owns a contiguous range of
// columns (no races) and streams the rows through it, so memory is read in long runs (the vocabulary
// projection's [1200, 30522] gradient is read once, sequentially per thread); the partial sums of a
// range fit in cache.
static void colsum_acc(float *db, const float *d, int N, int C) {
    int par = (long)N * C > 65536 && C >= 128;
#pragma omp parallel if (par)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        int c0 = (int)((long)C * t / nt), c1 = (int)((long)C * (t + 1) / nt);
        for (int n = 0; n < N; n++) {
            const float *row = d + (long)n * C;
#pragma omp simd
            for (int c = c0; c < c1; c++) db[c] += row[c];
        }
    }
}

void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC, int OC) {
    matmul_bias(0, 1, N, OC, IC, 1.0f, inp, IC, W, IC, 0.0f, out, OC, b); // the bias fused where the backend can
}

void linear_forward_gelu(float *out, const float *pre, float *work, const float *W, const float *b, int N, int IC,
                         int OC) {
    MatmulMap g = {gelu_map, gelu_map_lowp, NULL};
    matmul_mapped(MATMUL_MAP_A, &g, work, 0, 1, N, OC, IC, 1.0f, pre, IC, W, IC, 0.0f, out, OC, b);
}

// inp, or map(inp) when map is set (work: its scratch).
static void lin_backward(float *dinp, float beta, float *dW, float *db, const float *dout, const float *inp,
                         const MatmulMap *map, float *work, const float *W, int N, int IC, int OC) {
    matmul_reuse_begin(); // dout is an input of both products (converted once in bf16)
    if (dW) // dout^T @ inp
        matmul_mapped(MATMUL_MAP_B, map, work, 1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dW, IC, NULL);
    if (db) colsum_acc(db, dout, N, OC);
    if (dinp) matmul(0, 0, N, IC, OC, 1.0f, dout, OC, W, IC, beta, dinp, IC); // dout[N,OC] @ W[OC,IC], last: see layers.h
    matmul_reuse_end();
}

void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                     int N, int IC, int OC) {
    lin_backward(dinp, 1.0f, dW, db, dout, inp, NULL, NULL, W, N, IC, OC);
}

void linear_backward_set(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                         int N, int IC, int OC) {
    lin_backward(dinp, 0.0f, dW, db, dout, inp, NULL, NULL, W, N, IC, OC);
}

void linear_backward_set_gelu(float *dinp, float *dW, float *db, float *dgelu, const float *dout, const float *pre,
                              float *work, const float *W, int N, int IC, int OC) {
    MatmulMap g = {gelu_grad_map, gelu_grad_map_lowp, dgelu};
    lin_backward(dinp, 0.0f, dW, db, dout, pre, &g, work, W, N, IC, OC);
}
