// linear.c: fully connected layer, PyTorch weight layout W[OC, IC]. One GEMM per product.
#include "core/matmul.h"
#include "layers/layers.h"

// Column sums of a [N, C] matrix accumulated into db[C], parallel over 64-column blocks (no races).
static void colsum_acc(float *db, const float *d, int N, int C) {
    int nblk = (C + 63) / 64;
#pragma omp parallel for if ((long)N * C > 65536) schedule(static)
    for (int bi = 0; bi < nblk; bi++) {
        int c0 = bi * 64, c1 = c0 + 64 < C ? c0 + 64 : C;
        float acc[64] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = d + (long)n * C;
            for (int c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (int c = c0; c < c1; c++) db[c] += acc[c - c0];
    }
}

void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC, int OC) {
    if (b) { // out = b broadcast, then one GEMM with beta = 1
#pragma omp parallel for if ((long)N * OC > 65536) schedule(static)
        for (int n = 0; n < N; n++) {
            float *o = out + (long)n * OC;
            for (int c = 0; c < OC; c++) o[c] = b[c];
        }
    }
    matmul(0, 1, N, OC, IC, 1.0f, inp, IC, W, IC, b ? 1.0f : 0.0f, out, OC);
}

void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                     int N, int IC, int OC) {
    if (dinp) matmul(0, 0, N, IC, OC, 1.0f, dout, OC, W, IC, 1.0f, dinp, IC); // dout[N,OC] @ W[OC,IC]
    if (dW) matmul(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dW, IC);   // dout^T @ inp
    if (db) colsum_acc(db, dout, N, OC);
}
