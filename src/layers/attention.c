// attention.c: the scaled dot-product core of multi-head self-attention, one (sequence, head) pair
// per OpenMP task; every product is a GEMM on strided views of q, k, v (row stride C), so no head
// transposes are materialised. oneDNN's sgemm runs single-threaded inside the parallel region.
// Sequences may have different lengths (packed rows, seq_off): the pads of a masked batch need not
// be computed at all.
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

// o[j] = y[j] * mask(base + j) for j < n (o may be y): a stored mask, or a key's (vectorised run).
static void drop_row(float *o, const float *y, long n, const DropSrc *d, uint64_t base) {
    if (!d->mask) {
        dropout_run(o, NULL, y, n, &d->key, base);
        return;
    }
    for (long j = 0; j < n; j++) o[j] = y[j] * d->mask[base + j];
}

// First row and length of sequence b.
static inline void seq_span(const int *off, int b, int T, long *r0, int *len) {
    if (off) *r0 = off[b], *len = off[b + 1] - off[b];
    else *r0 = (long)b * T, *len = T;
}

void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const float *mask, const DropSrc *drop, const int *seq_off, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    long TT = (long)T * T;
#pragma omp parallel for schedule(dynamic, 4) if (B * NH > 1 && (long)B * NH * T * T * hs > ATT_PAR_MIN)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, L;
        long r0;
        seq_span(seq_off, b, T, &r0, &L);
        if (L <= 0) continue;
        long off = r0 * C + (long)h * hs;
        const float *qb = q + off, *kb = k + off, *vb = v + off;
        float *ob = out + off;
        float *P = probs + bh * TT; // row stride T
        matmul(0, 1, L, L, hs, scale, qb, C, kb, C, 0.0f, P, T); // S = q k^T / sqrt(hs)
        const float *mk = mask ? mask + r0 : NULL;
        for (int i = 0; i < L; i++) { // + key mask, softmax (max-subtracted) in place
            float *row = P + (long)i * T;
            if (mk)
                for (int j = 0; j < L; j++) row[j] += mk[j];
            float mx = -INFINITY;
            for (int j = 0; j < L; j++) mx = row[j] > mx ? row[j] : mx;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < L; j++) {
                row[j] = vexpf(row[j] - mx);
                s += row[j];
            }
            float inv = 1.0f / s;
            for (int j = 0; j < L; j++) row[j] *= inv;
        }
        if (!drop) {
            matmul(0, 0, L, hs, L, 1.0f, P, T, vb, C, 0.0f, ob, C); // out = P v
            continue;
        }
        float tile[ATT_TILE];
        int cb = L < ATT_TILE ? L : ATT_TILE; // key columns per tile
        int rb = ATT_TILE / cb;               // query rows per tile
        for (int i0 = 0; i0 < L; i0 += rb) {
            int ni = L - i0 < rb ? L - i0 : rb;
            for (int j0 = 0; j0 < L; j0 += cb) {
                int nj = L - j0 < cb ? L - j0 : cb;
                for (int i = 0; i < ni; i++) {
                    long pi = (long)(i0 + i) * T + j0; // in P; the mask index adds the block's start
                    drop_row(tile + i * nj, P + pi, nj, drop, (uint64_t)(bh * TT + pi));
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
                        const DropSrc *drop, const float *q, const float *k, const float *v, const int *seq_off,
                        int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
    long TT = (long)T * T;
#pragma omp parallel for schedule(dynamic, 4) if (B * NH > 1 && (long)B * NH * T * T * hs > ATT_PAR_MIN)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, L;
        long r0;
        seq_span(seq_off, b, T, &r0, &L);
        if (L <= 0) continue;
        long off = r0 * C + (long)h * hs;
        const float *P = probs + bh * TT;
        float *S = scratch + bh * TT;
        if (dv) {
            const float *A = P;
            if (drop) {
                for (int i = 0; i < L; i++) drop_row(S + (long)i * T, P + (long)i * T, L, drop, (uint64_t)(bh * TT + (long)i * T));
                A = S;
            }
            matmul(1, 0, L, hs, L, 1.0f, A, T, dout + off, C, 1.0f, dv + off, C);
        }
        if (!dq && !dk) continue;
        matmul(0, 1, L, L, hs, 1.0f, dout + off, C, v + off, C, 0.0f, S, T); // dA = dout v^T
        for (int i = 0; i < L; i++) {
            float *d = S + (long)i * T;
            const float *p = P + (long)i * T;
            if (drop) drop_row(d, d, L, drop, (uint64_t)(bh * TT + (long)i * T));
            float dot = 0;
            for (int j = 0; j < L; j++) dot += p[j] * d[j];
            for (int j = 0; j < L; j++) d[j] = p[j] * (d[j] - dot);
        }
        if (dq) matmul(0, 0, L, hs, L, scale, S, T, k + off, C, 1.0f, dq + off, C);
        if (dk) matmul(1, 0, L, hs, L, scale, S, T, q + off, C, 1.0f, dk + off, C);
    }
}
