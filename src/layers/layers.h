// layers.h: the layer kernels. Each layer is a forward/backward pair in the llm.c style:
// plain float buffers with shapes in comments, no allocation inside (callers pass every
// activation and scratch buffer), and backward functions ACCUMULATE (+=) into every gradient
// buffer they are given (a NULL gradient pointer means "not needed", e.g. no dinp for the first
// layer). Row-major everywhere; "N" is the number of rows (batch * time when flattened).
// Every matrix product goes through core/matmul.h; element-wise loops are OpenMP-parallel above a
// size threshold. Outputs may alias inputs only where a comment says so.
// Tests: tests/test_layers.c, test_attention.c, test_lstm.c (finite differences, double references),
// tests/test_layers_golden.c (PyTorch), tools/mutation_check.py (sign flips in every backward).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "../core/rng.h"

// ---- linear: out[N,OC] = inp[N,IC] @ W[OC,IC]^T + b[OC]   (PyTorch layout; b may be NULL)
void linear_forward(float *out, const float *inp, const float *W, const float *b, int N, int IC, int OC);
// dinp[N,IC] += dout @ W ; dW[OC,IC] += dout^T @ inp ; db[OC] += sum_n dout
void linear_backward(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                     int N, int IC, int OC);
// The same with dinp WRITTEN (dinp = dout @ W) instead of accumulated: no zeroing pass before it.
// dinp is written last, so it may be the inp buffer itself (the input is no longer needed then).
void linear_backward_set(float *dinp, float *dW, float *db, const float *dout, const float *inp, const float *W,
                         int N, int IC, int OC);
// linear_forward and linear_backward_set with inp = gelu(pre) (BERT's feed-forward down-projection),
// the GELU applied as the products read pre (matmul_mapped: in bfloat16 on the way to the bfloat16
// copy, with no float32 pass over it); the backward also writes dgelu[N,IC] = gelu'(pre) (for
// gelu_backward_cached). work [N,IC]: scratch, contents undefined after; dinp may be work.
void linear_forward_gelu(float *out, const float *pre, float *work, const float *W, const float *b, int N, int IC,
                         int OC);
void linear_backward_set_gelu(float *dinp, float *dW, float *db, float *dgelu, const float *dout, const float *pre,
                              float *work, const float *W, int N, int IC, int OC);

// ---- layer norm over the last dimension C: out = (x - mean) * rstd * w + b, PyTorch semantics:
// biased variance (divide by C), rstd = 1 / sqrt(var + eps). mean[N], rstd[N] are saved for backward.
// out may alias inp in the forward (but the backward needs inp).
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                       int N, int C, float eps);
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

// ---- standardisation of each column over the N rows (batch norm without affine, biased variance):
// out[i,d] = (x[i,d] - mean[d]) * rstd[d], rstd = 1 / sqrt(var + eps); x, out [N,D]; mean, rstd [D]
// saved for backward. Statistics in double.
void standardize_forward(float *out, float *mean, float *rstd, const float *x, int N, int D, float eps);
// dx[N,D] += rstd * (dout - mean_rows(dout) - out * mean_rows(dout * out))   (needs the forward's out)
void standardize_backward(float *dx, const float *dout, const float *out, const float *rstd, int N, int D);

// ---- element-wise activations over n values. Backward: dinp += dout * f'(.)
// Forwards may run in place (out == inp); each backward takes what its comment names (inp or out).
// GELU is the exact erf form x * Phi(x) = x * 0.5 * (1 + erf(x / sqrt 2)) (not the tanh approximation);
// exp/erf/tanh/sigmoid come from layers/vmath.h (vectorisable; errors listed there, ~1e-7 relative).
void gelu_forward(float *out, const float *inp, long n);
void gelu_backward(float *dinp, const float *dout, const float *inp, long n);
// The maps (core/matmul.h MatmulMap) of the products that read gelu(x) (linear_*_gelu), over n values
// with no parallel region: dst = gelu(src), the same values as gelu_forward; gelu_grad_map also writes
// the derivative Phi(x) + x phi(x) to ((float *)ctx)[off + i]. Then d *= that derivative
// (gelu_backward_cached, in place) turns d gelu(x) into d x.
// The _lowp pair evaluates Phi and phi with vmath.h's bfloat16-grade formulas (absolute error under
// 1e-6): the maps' fn_bf16, used where the values are rounded to bfloat16 next.
void gelu_map(float *dst, const float *src, int n, void *ctx, size_t off);
void gelu_grad_map(float *dst, const float *src, int n, void *ctx, size_t off);
void gelu_map_lowp(float *dst, const float *src, int n, void *ctx, size_t off);
void gelu_grad_map_lowp(float *dst, const float *src, int n, void *ctx, size_t off);
void gelu_backward_cached(float *d, const float *dgelu, long n);
void relu_forward(float *out, const float *inp, long n);
void relu_backward(float *dinp, const float *dout, const float *out, long n); // uses out > 0
void tanh_forward(float *out, const float *inp, long n);
void tanh_backward(float *dinp, const float *dout, const float *out, long n);
void sigmoid_forward(float *out, const float *inp, long n);
void sigmoid_backward(float *dinp, const float *dout, const float *out, long n);

// ---- softmax / sparsemax along the last dimension of a [rows, n] matrix
// softmax: exp(x - max) / sum (max-subtracted, so large logits are safe); may run in place.
void softmax_forward(float *out, const float *inp, int rows, int n);
void softmax_backward(float *dinp, const float *dout, const float *out, int rows, int n);
// Sparsemax (Martins & Astudillo 2016): Euclidean projection onto the simplex: sort descending,
// k = max{k : 1 + k z_(k) > sum_{j<=k} z_(j)}, tau = (sum_{j<=k} z_(j) - 1) / k, out = max(z - tau, 0).
// No scratch: the sort runs in the out row, so out must NOT alias inp.
void sparsemax_forward(float *out, const float *inp, int rows, int n);
// Jacobian on the support S (out > 0) is I - 1 1^T / |S|: dinp_i += [i in S] (dout_i - mean_{S} dout)
void sparsemax_backward(float *dinp, const float *dout, const float *out, int rows, int n);

// ---- inverted dropout. Masks are counter-based (core/rng.h rng_hash32): a DropKey holds one key
// drawn from the dropout stream, and element i of its mask is 0 with probability p (to 2^-24), else
// 1/(1-p). So a mask can be regenerated in the backward instead of stored, is filled in parallel,
// and is the same whatever the thread count.
typedef struct {
    uint64_t key;
    uint32_t thr;   // drop element i iff (rng_hash32(key, i) >> 8) < thr; 0 = dropout off
    float keep;     // 1 / (1 - p), 0 when p >= 1
} DropKey;
// The key of one dropout call: draws one u64 from rng. rng NULL (eval) or p <= 0: dropout off
// (nothing drawn).
DropKey dropkey_draw(float p, Rng *rng);
static inline float dropkey_mask(const DropKey *d, uint64_t i) {
    return d->thr == 0 ? 1.0f : (rng_hash32(d->key, i) >> 8) < d->thr ? 0.0f : d->keep;
}
// A run of n consecutive mask elements from index base: o[i] = x[i] + y[i] * mask(base + i), or
// y[i] * mask(base + i) when x is NULL (WRITTEN; o may be x or y). The loop gcc vectorises (32-bit
// lanes; dropkey_mask element by element does not vectorise).
void dropout_run(float *o, const float *x, const float *y, long n, const DropKey *d, uint64_t base);
// A dropout mask given either explicitly (mask != NULL, values 0 or 1/(1-p): the golden tests pass
// PyTorch's) or by a key (mask NULL).
typedef struct {
    const float *mask;
    DropKey key;
} DropSrc;

// With a stored mask: mask[n] gets the mask of dropkey_draw(p, rng); out = inp * mask.
// p == 0 (or rng == NULL, i.e. eval mode) fills mask with 1 and copies; p >= 1 drops everything.
// May run in place.
void dropout_forward(float *out, float *mask, const float *inp, long n, float p, Rng *rng);
void dropout_backward(float *dinp, const float *dout, const float *mask, long n);
// With a key: out = inp * mask (WRITTEN; may run in place). The forward, and also the backward
// (d inp = d out * mask).
void dropout_apply(float *out, const float *inp, long n, const DropKey *d);

// ---- residual + dropout + LayerNorm in one pass (BERT's "add & norm"), masks by key:
// res[N,C] = x + dropout(y) (saved: the LayerNorm's input), out = LayerNorm(res) as layernorm_forward.
// Mask element index n * C + c. out may not alias res; x may alias y only without dropout.
void residual_layernorm_forward(float *res, float *out, float *mean, float *rstd, const float *x, const float *y,
                                const DropKey *drop, const float *w, const float *b, int N, int C, float eps);
// Backward: dres[N,C] = gradient w.r.t. res (WRITTEN, not accumulated) = d x; dy[N,C] = dres * mask
// (WRITTEN; may be NULL; may be dres itself only without dropout); dw, db accumulate.
void residual_layernorm_backward(float *dres, float *dy, float *dw, float *db, const float *dout,
                                 const float *res, const float *w, const float *mean, const float *rstd,
                                 const DropKey *drop, int N, int C);

// ---- embedding lookup: out[N,C] = table[ids[n], :]
void embedding_forward(float *out, const int32_t *ids, const float *table, int N, int C);
// dtable[ids[n]] += dout[n] for every n with ids[n] != padding_idx (use -1 for none)
void embedding_backward(float *dtable, const float *dout, const int32_t *ids, int N, int C, int padding_idx);

// ---- multi-head self-attention core (the Q/K/V/output projections are linear layers around it)
// q, k, v, out: [rows, C], C = NH * hs, head h uses channels [h*hs, (h+1)*hs).
// Sequences: seq_off NULL = B sequences of T rows each (sequence b = rows b*T .. b*T+T-1); otherwise
// sequence b = rows seq_off[b] .. seq_off[b+1]-1, at most T of them (variable lengths, packed).
// mask: [rows] additive term on the KEY axis (e.g. (1 - m) * -10000), or NULL.
// probs: [B, NH, T, T] (sequence b, head h: a Tb x Tb block at (b * NH + h) * T * T, row stride T)
// = softmax(q k^T / sqrt(hs) + mask), saved for backward.
// drop: dropout on probs, mask element index ((b * NH + h) * T + i) * T + j, or NULL for none;
// out = (probs * mask) v per head. probs keeps the UNdropped softmax (the backward needs it).
// No scratch: the dropped product uses a 16 KiB tile on each thread's stack. OpenMP over B * NH.
void attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                       const float *mask, const DropSrc *drop, const int *seq_off, int B, int T, int C, int NH);
// scratch: [B, NH, T, T] work buffer (contents on entry do not matter). The mask is a constant (no
// gradient). dq, dk, dv may each be NULL; they ACCUMULATE.
void attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout, const float *probs,
                        const DropSrc *drop, const float *q, const float *k, const float *v, const int *seq_off,
                        int B, int T, int C, int NH);

// ---- LSTMCell unrolled over T steps, PyTorch gate order (i, f, g, o), h0 = c0 = 0:
//   gates = x_t Wih^T + bih + h_{t-1} Whh^T + bhh ; i,f,o = sigmoid ; g = tanh
//   c_t = f * c_{t-1} + i * g ; h_t = o * tanh(c_t)
// Saved state for backward (all [B, T, *]): act[B,T,4H] activated gates, c[B,T,H], h[B,T,H].
// Wih[4H,D], Whh[4H,H], bih[4H], bhh[4H] as in PyTorch's state_dict (gate rows i, f, g, o).
// Backward: dh is read-only; every gradient pointer may be NULL; nothing is allocated.
// Encoder: inputs x[B,T,D]; the caller reads the last state h[:, T-1, :]. The input projection of all
// T steps is one GEMM into act, then one GEMM per step adds h_{t-1} Whh^T.
void lstm_encoder_forward(float *h, float *c, float *act, const float *x, const float *Wih, const float *Whh,
                          const float *bih, const float *bhh, int B, int T, int D, int H);
// dh[B,T,H]: gradient arriving at each h_t from outside (zeros except the last step for an encoder).
// scratch: at least lstm_encoder_scratch_size(B, T, H) = B*T*4H + 2*B*H floats (d(gates) of every
// step, then the running dh/dc), so the weight gradients are single GEMMs after the recurrence.
void lstm_encoder_backward(float *dx, float *dWih, float *dWhh, float *dbih, float *dbhh, float *scratch,
                           const float *dh, const float *x, const float *h, const float *c, const float *act,
                           const float *Wih, const float *Whh, int B, int T, int D, int H);
long lstm_encoder_scratch_size(int B, int T, int H);
long lstm_decoder_scratch_size(int B, int T, int H);
// Decoder: input z[B,H] (D == H) at step 0, then its own previous hidden state h_{t-1}.
void lstm_decoder_forward(float *h, float *c, float *act, const float *z, const float *Wih, const float *Whh,
                          const float *bih, const float *bhh, int B, int T, int H);
// scratch: at least lstm_decoder_scratch_size(B, T, H) = B*T*4H + 2*B*H + 4H*H floats.
void lstm_decoder_backward(float *dz, float *dWih, float *dWhh, float *dbih, float *dbhh, float *scratch,
                           const float *dh, const float *z, const float *h, const float *c, const float *act,
                           const float *Wih, const float *Whh, int B, int T, int H);

// ---- losses (return the scalar loss; backward accumulates scale * dloss/dinput)
// mean squared error over n elements
float mse_forward(const float *pred, const float *target, long n);
void mse_backward(float *dpred, const float *pred, const float *target, long n, float scale);
// cross entropy of logits[N,V] against targets[N], mean over the N rows.
// probs[N,V] receives softmax(logits) (saved for backward); loss rows use max + log(sum exp(x - max)).
// targets must lie in [0, V) (no ignore_index: MIRD averages over every position, pads included).
float cross_entropy_forward(float *probs, const float *logits, const int32_t *targets, int N, int V);
void cross_entropy_backward(float *dlogits, const float *probs, const int32_t *targets, int N, int V, float scale);
