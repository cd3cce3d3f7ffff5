// attention.c: the scaled dot-product core of multi-head self-attention, one (batch, head) pair per
// OpenMP task; every product is a GEMM on strided views of q, k, v (row stride C), so no head
// transposes are materialised. oneDNN's sgemm runs single-threaded inside the parallel region.
#include <math.h>
#include <stddef.h>

#include "core/matmul.h"
#include "layers/layers.h"
#include "layers/vmath.h"

// Work space for probs * drop_mask in the forward, on the stack of each thread (16 KiB):
// the product (P o M) V is taken in blocks of rows x key columns that fit it.
#define ATT_TILE 4096
// Below this much work (B * NH * T * T * hs multiply-adds) a parallel region costs more than it saves.
#define ATT_PAR_MIN 100000L

void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const float *mask, const float *drop_mask, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if (B * NH > 1 && (long)B * NH * T * T * hs > ATT_PAR_MIN)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        long off = (long)b * T * C + (long)h * hs;
        const float *qb = q + off, *kb = k + off, *vb = v + off;
        float *ob = out + off;
        float *P = probs + (long)bh * T * T;
        matmul(0, 1, T, T, hs, scale, qb, C, kb, C, 0.0f, P, T); // S = q k^T / sqrt(hs)
        const float *mk = mask ? mask + (long)b * T : NULL;
        for (int i = 0; i < T; i++) { // + key mask, softmax (max-subtracted) in place
            float *row = P + (long)i * T;
            if (mk)
                for (int j = 0; j < T; j++) row[j] += mk[j];
            float mx = -INFINITY;
            for (int j = 0; j < T; j++) mx = row[j] > mx ? row[j] : mx;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < T; j++) {
                row[j] = vexpf(row[j] - mx);
                s += row[j];
            }
            float inv = 1.0f / s;
            for (int j = 0; j < T; j++) row[j] *= inv;
        }
        if (!drop_mask) {
            matmul(0, 0, T, hs, T, 1.0f, P, T, vb, C, 0.0f, ob, C); // out = P v
            continue;
        }
        const float *M = drop_mask + (long)bh * T * T;
        float tile[ATT_TILE];
        int cb = T < ATT_TILE ? T : ATT_TILE; // key columns per tile
        int rb = ATT_TILE / cb;               // query rows per tile
        for (int i0 = 0; i0 < T; i0 += rb) {
            int ni = T - i0 < rb ? T - i0 : rb;
            for (int j0 = 0; j0 < T; j0 += cb) {
                int nj = T - j0 < cb ? T - j0 : cb;
                for (int i = 0; i < ni; i++)
                    for (int j = 0; j < nj; j++) {
                        long idx = (long)(i0 + i) * T + j0 + j;
                        tile[i * nj + j] = P[idx] * M[idx];
                    }
                // out[i0:i0+ni] (+)= tile @ v[j0:j0+nj]
                matmul(0, 0, ni, hs, nj, 1.0f, tile, nj, vb + (long)j0 * C, C, j0 ? 1.0f : 0.0f,
                       ob + (long)i0 * C, C);
            }
        }
    }
}

// With A = P o M (M = 1 without dropout):  dv += A^T dout ; dA = dout v^T ; dP = dA o M ;
// dS = P o (dP - rowsum(P o dP)) ; dq += dS k / sqrt(hs) ; dk += dS^T q / sqrt(hs).
// The additive mask is a constant: no gradient.
void attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *probs,
                        const float *drop_mask, const float *q, const float *k, const float *v, int B, int T,
                        int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    long TT = (long)T * T;
#pragma omp parallel for schedule(static) if (B * NH > 1 && (long)B * NH * T * T * hs > ATT_PAR_MIN)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        long off = (long)b * T * C + (long)h * hs;
        const float *P = probs + bh * TT;
        const float *M = drop_mask ? drop_mask + bh * TT : NULL;
        float *S = scratch + bh * TT;
        if (dv) {
            const float *A = P;
            if (M) {
                for (long i = 0; i < TT; i++) S[i] = P[i] * M[i];
                A = S;
            }
            matmul(1, 0, T, hs, T, 1.0f, A, T, dout + off, C, 1.0f, dv + off, C);
        }
        if (!dq && !dk) continue;
        matmul(0, 1, T, T, hs, 1.0f, dout + off, C, v + off, C, 0.0f, S, T); // dA = dout v^T
        for (int i = 0; i < T; i++) {
            float *d = S + (long)i * T;
            const float *p = P + (long)i * T;
            if (M) {
                const float *m = M + (long)i * T;
                for (int j = 0; j < T; j++) d[j] *= m[j];
            }
            float dot = 0;
            for (int j = 0; j < T; j++) dot += p[j] * d[j];
            for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - dot);
        }
        if (dq) matmul(0, 0, T, hs, T, scale, S, T, k + off, C, 1.0f, dq + off, C);
        if (dk) matmul(1, 0, T, hs, T, scale, S, T, q + off, C, 1.0f, dk + off, C);
    }
}
