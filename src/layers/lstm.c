// lstm.c: PyTorch LSTMCell (gate order i, f, g, o; both biases) unrolled over T steps, as an
// encoder (input x_t at every step) and as the MIRD decoder (input z at step 0, then its own
// previous hidden state, so D == H). Layout [B, T, *]; a step's rows are strided views
// (row stride T*4H for gates, T*H for h and c) so every product is one GEMM:
//   forward:  the encoder's input projection of ALL steps is one GEMM into act, then per step one
//             GEMM adds h_{t-1} Whh^T in place before the gate non-linearities overwrite act;
//   backward: d(gates) of every step are kept in scratch [B, T, 4H] (one GEMM per step for the
//             recurrent dh_{t-1}), then dx, dWih, dWhh are single GEMMs over all B*T rows.
#include <math.h>
#include <string.h>

#include "core/matmul.h"
#include "layers/layers.h"
#include "layers/vmath.h"

long lstm_encoder_scratch_size(int B, int T, int H) { return (long)B * T * 4 * H + 2L * B * H; }
long lstm_decoder_scratch_size(int B, int T, int H) { return (long)B * T * 4 * H + 2L * B * H + 4L * H * H; }

// act[b, 0..T) = bih + bhh for every step
static void fill_bias(float *act, const float *bih, const float *bhh, long rows, int G) {
#pragma omp parallel for if (rows * G > 65536) schedule(static)
    for (long r = 0; r < rows; r++) {
        float *a = act + r * G;
        for (int j = 0; j < G; j++) a[j] = bih[j] + bhh[j];
    }
}

// One cell of the forward: activates the gates of row a in place, writes c_t and h_t.
static inline void cell_forward(float *a, float *ct, float *ht, int H, int j, float cprev) {
    float ig = vsigmoidf(a[j]), fg = vsigmoidf(a[H + j]), gg = vtanhf(a[2 * H + j]), og = vsigmoidf(a[3 * H + j]);
    a[j] = ig, a[H + j] = fg, a[2 * H + j] = gg, a[3 * H + j] = og;
    float cc = fg * cprev + ig * gg;
    ct[j] = cc;
    ht[j] = og * vtanhf(cc);
}

// Step t's pre-activations in act[:, t] -> activated gates (in place), c[:, t], h[:, t].
// Two loops so that c_{t-1} is never read at t = 0 (no conditional loads in the vector loop).
static void step_forward(float *act, float *c, float *h, int B, int T, int H, int t) {
    int G = 4 * H;
#pragma omp parallel for if (B * H > 8192) schedule(static)
    for (int b = 0; b < B; b++) {
        float *a = act + ((long)b * T + t) * G;
        float *ct = c + ((long)b * T + t) * H, *ht = h + ((long)b * T + t) * H;
        if (t) {
            const float *cp = ct - H; // c_{t-1}
#pragma omp simd
            for (int j = 0; j < H; j++) cell_forward(a, ct, ht, H, j, cp[j]);
        } else {
#pragma omp simd
            for (int j = 0; j < H; j++) cell_forward(a, ct, ht, H, j, 0.0f);
        }
    }
}

void lstm_encoder_forward(float *h, float *c, float *act, const float *x, const float *Wih, const float *Whh,
                          const float *bih, const float *bhh, int B, int T, int D, int H) {
    int G = 4 * H;
    fill_bias(act, bih, bhh, (long)B * T, G);
    matmul(0, 1, B * T, G, D, 1.0f, x, D, Wih, D, 1.0f, act, G); // all steps' x_t Wih^T at once
    for (int t = 0; t < T; t++) {
        if (t) matmul(0, 1, B, G, H, 1.0f, h + (long)(t - 1) * H, T * H, Whh, H, 1.0f, act + (long)t * G, T * G);
        step_forward(act, c, h, B, T, H, t);
    }
}

void lstm_decoder_forward(float *h, float *c, float *act, const float *z, const float *Wih, const float *Whh,
                          const float *bih, const float *bhh, int B, int T, int H) {
    int G = 4 * H;
    fill_bias(act, bih, bhh, (long)B * T, G);
    for (int t = 0; t < T; t++) {
        float *at = act + (long)t * G;
        if (t == 0) {
            matmul(0, 1, B, G, H, 1.0f, z, H, Wih, H, 1.0f, at, T * G);
        } else { // input and hidden state are both h_{t-1}
            const float *hp = h + (long)(t - 1) * H;
            matmul(0, 1, B, G, H, 1.0f, hp, T * H, Wih, H, 1.0f, at, T * G);
            matmul(0, 1, B, G, H, 1.0f, hp, T * H, Whh, H, 1.0f, at, T * G);
        }
        step_forward(act, c, h, B, T, H, t);
    }
}

// One cell of the backward (see step_backward).
static inline void cell_backward(float *dg, float *dhb, float *dcb, const float *a, const float *ct,
                                 const float *dht, int H, int j, float cprev) {
    float ig = a[j], fg = a[H + j], gg = a[2 * H + j], og = a[3 * H + j];
    float tc = vtanhf(ct[j]);
    float dhh = dht[j] + dhb[j];                        // dL/dh_t: from outside + from step t+1
    float dc = dcb[j] + dhh * og * (1.0f - tc * tc);    // dL/dc_t: from step t+1 + through h_t
    dg[j] = dc * gg * ig * (1.0f - ig);                 // input gate
    dg[H + j] = dc * cprev * fg * (1.0f - fg);          // forget gate
    dg[2 * H + j] = dc * ig * (1.0f - gg * gg);         // cell candidate
    dg[3 * H + j] = dhh * tc * og * (1.0f - og);        // output gate
    dcb[j] = dc * fg;                                   // dL/dc_{t-1}
}

// Step t of the backward: dhn[B,H] holds dL/dh_t from step t+1 and dcn[B,H] dL/dc_t from step t+1
// (zeros at t = T-1). Writes d(pre-activation gates) into dG[:, t] and dcn := dL/dc_{t-1}.
static void step_backward(float *dG, float *dhn, float *dcn, const float *dh, const float *c, const float *act,
                          int B, int T, int H, int t) {
    int G = 4 * H;
#pragma omp parallel for if (B * H > 8192) schedule(static)
    for (int b = 0; b < B; b++) {
        long r = (long)b * T + t;
        const float *a = act + r * G, *ct = c + r * H, *dht = dh + r * H;
        float *dg = dG + r * G, *dhb = dhn + (long)b * H, *dcb = dcn + (long)b * H;
        if (t) {
            const float *cp = ct - H;
#pragma omp simd
            for (int j = 0; j < H; j++) cell_backward(dg, dhb, dcb, a, ct, dht, H, j, cp[j]);
        } else {
#pragma omp simd
            for (int j = 0; j < H; j++) cell_backward(dg, dhb, dcb, a, ct, dht, H, j, 0.0f);
        }
    }
}

// dW[G,H] (beta) += sum_b sum_{t>=1} dG[b,t]^T h[b,t-1]: one GEMM pairing flat row r of dG with
// flat row r-1 of h, minus the B-1 pairs that straddle two batch rows (dG[b,0] with h[b-1,T-1]).
static void recurrent_weight_grad(float *dW, float beta, const float *dG, const float *h, int B, int T, int H) {
    int G = 4 * H;
    matmul(1, 0, G, H, B * T - 1, 1.0f, dG + G, G, h, H, beta, dW, H);
    matmul(1, 0, G, H, B - 1, -1.0f, dG + (long)T * G, T * G, h + (long)(T - 1) * H, T * H, 1.0f, dW, H);
}

static void bias_grads(float *dbih, float *dbhh, const float *dG, long rows, int G) {
    if (!dbih && !dbhh) return;
    int nblk = (G + 63) / 64;
#pragma omp parallel for if (rows * G > 65536) schedule(static)
    for (int bi = 0; bi < nblk; bi++) {
        int c0 = bi * 64, c1 = c0 + 64 < G ? c0 + 64 : G;
        float acc[64] = {0};
        for (long r = 0; r < rows; r++)
            for (int j = c0; j < c1; j++) acc[j - c0] += dG[r * G + j];
        for (int j = c0; j < c1; j++) {
            if (dbih) dbih[j] += acc[j - c0];
            if (dbhh) dbhh[j] += acc[j - c0];
        }
    }
}

void lstm_encoder_backward(float *dx, float *dWih, float *dWhh, float *dbih, float *dbhh, float *scratch,
                           const float *dh, const float *x, const float *h, const float *c, const float *act,
                           const float *Wih, const float *Whh, int B, int T, int D, int H) {
    int G = 4 * H;
    long BT = (long)B * T;
    float *dG = scratch, *dhn = scratch + BT * G, *dcn = dhn + (long)B * H;
    memset(dhn, 0, sizeof(float) * 2 * (size_t)B * H);
    for (int t = T - 1; t >= 0; t--) {
        step_backward(dG, dhn, dcn, dh, c, act, B, T, H, t);
        if (t) matmul(0, 0, B, H, G, 1.0f, dG + (long)t * G, T * G, Whh, H, 0.0f, dhn, H); // dL/dh_{t-1}
    }
    if (dx) matmul(0, 0, (int)BT, D, G, 1.0f, dG, G, Wih, D, 1.0f, dx, D);
    if (dWih) matmul(1, 0, G, D, (int)BT, 1.0f, dG, G, x, D, 1.0f, dWih, D);
    if (dWhh) recurrent_weight_grad(dWhh, 1.0f, dG, h, B, T, H);
    bias_grads(dbih, dbhh, dG, BT, G);
}

void lstm_decoder_backward(float *dz, float *dWih, float *dWhh, float *dbih, float *dbhh, float *scratch,
                           const float *dh, const float *z, const float *h, const float *c, const float *act,
                           const float *Wih, const float *Whh, int B, int T, int H) {
    int G = 4 * H;
    long BT = (long)B * T;
    float *dG = scratch, *dhn = scratch + BT * G, *dcn = dhn + (long)B * H, *W = dcn + (long)B * H;
    memset(dhn, 0, sizeof(float) * 2 * (size_t)B * H);
    for (long i = 0; i < (long)G * H; i++) W[i] = Wih[i] + Whh[i]; // h_{t-1} enters through both
    for (int t = T - 1; t >= 0; t--) {
        step_backward(dG, dhn, dcn, dh, c, act, B, T, H, t);
        if (t) matmul(0, 0, B, H, G, 1.0f, dG + (long)t * G, T * G, W, H, 0.0f, dhn, H);
        else if (dz) matmul(0, 0, B, H, G, 1.0f, dG, T * G, Wih, H, 1.0f, dz, H);
    }
    if (dWih || dWhh) {
        recurrent_weight_grad(W, 0.0f, dG, h, B, T, H); // W now holds sum_{t>=1} dG_t^T h_{t-1}
        if (dWih) {
            for (long i = 0; i < (long)G * H; i++) dWih[i] += W[i];
            matmul(1, 0, G, H, B, 1.0f, dG, T * G, z, H, 1.0f, dWih, H); // step 0: input z
        }
        if (dWhh)
            for (long i = 0; i < (long)G * H; i++) dWhh[i] += W[i];
    }
    bias_grads(dbih, dbhh, dG, BT, G);
}
