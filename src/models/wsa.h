// wsa.h: the WSA fusion module of WSA-BERT (MIRD.md "Modules" 3; official names under
// PREFIX = "mult_encoder.model.WSA.", or "mult_encoder.model.WA." for the WA variant as the
// authors' attribute is named): W_v [H,d_v], W_a [H,d_a], W_v_ [H,d_v], W_a_ [H,d_a],
// W_hv [H,d_v+H], W_ha [H,d_a+H] (each with a bias), LayerNorm [H] (eps 1e-5).
// Per row b, with E [Tl,H] the BERT embedding output, X_A [Ta,d_a], X_V [Tv,d_v] the raw features:
//   A' = W_a(X_A), P_A = att(E A'^T) over frames, A_al = P_A X_A     (att: sparsemax or softmax)
//   V' = W_v(X_V), P_V = att(E V'^T),             V_al = P_V X_V
//   g_V = ReLU(W_hv [V_al ; E]), g_A = ReLU(W_ha [A_al ; E])
//   M = g_V * W_v_(V_al) + g_A * W_a_(A_al)
//   alpha_t = min(beta * ||E_t|| / (||M_t||' + 1e-6), 1), ||M_t||' = ||M_t|| or 1 where it is 0
//   out = Dropout(p)(LayerNorm(E + alpha * M))
// Sparsemax is the authors' implementation differentiated by autograd: shift by the row max, sort,
// cumsum (double accumulation, as PyTorch on CPU), k = #{j : 1 + j z_(j) > cumsum_j},
// tau = (sum of the top k - 1) / k, p = max(0, z - tau); its gradient is the support Jacobian
// I - 1 1^T / k, except that an element with z == tau exactly gets half of its gradient
// (torch.maximum's rule at ties). min(thresh, 1) likewise splits the gradient at thresh == 1.
#pragma once
#include "core/params.h"
#include "core/rng.h"

typedef struct {
    float *Wv, *bv, *Wa, *ba, *Wv_, *bv_, *Wa_, *ba_, *Whv, *bhv, *Wha, *bha, *ln_w, *ln_b;
} WsaWeights;

typedef struct {
    int H, d_a, d_v, softmax; // softmax: 1 = "WA" fusion
    float beta, p_drop;
    char prefix[96];
    WsaWeights w, g;
} Wsa;

typedef struct {
    int Bmax, Tl, Ta, Tv; // capacity
    float *Ap, *Vp;            // [B,Ta,H], [B,Tv,H] projected frames
    float *SA, *SV;            // [B,Tl,Ta], [B,Tl,Tv] scores
    float *PA, *PV;            // attention weights
    float *smA, *smV;          // [B*Tl,4] sparsemax row info: max, tau, z_(k), k
    float *Aal, *Val;          // [B,Tl,d_a], [B,Tl,d_v] aligned raw features
    float *catA, *catV;        // [B,Tl,d_a+H], [B,Tl,d_v+H]: [A_al ; E]
    float *preA, *preV;        // [B,Tl,H] gate pre-activations
    float *gA, *gV;            // [B,Tl,H] gates
    float *uA, *uV;            // [B,Tl,H] W_a_(A_al), W_v_(V_al)
    float *M;                  // [B,Tl,H]
    float *en, *mn, *thr, *alpha; // [B*Tl] norms, threshold, alpha
    float *sum;                // [B,Tl,H] E + alpha M
    float *ln_mean, *ln_rstd;  // [B*Tl]
    float *ln;                 // [B,Tl,H]
    float *drop_mask;          // [B,Tl,H]
    float *out;                // [B,Tl,H]
    // backward scratch
    float *dln, *dM, *dgA, *dgV, *duA, *duV; // [B,Tl,H]
    float *dcatA, *dcatV;      // like catA, catV
    float *dPA, *dPV, *dSA, *dSV; // like SA, SV
    float *dAp, *dVp;          // like Ap, Vp
    float *dAal, *dVal;        // [B,Tl,d_a], [B,Tl,d_v]
    float *sort_scratch;       // per-thread sort buffers (sort_threads of sort_n floats)
    int sort_n, sort_threads;
} WsaActs;

void wsa_register(Wsa *m, ParamSet *ps, const char *prefix, int H, int d_a, int d_v, float beta, float p_drop,
                  int softmax);
void wsa_bind(Wsa *m, const ParamSet *ps);
void wsa_acts_init(WsaActs *a, const Wsa *m, int Bmax, int Tl, int Ta, int Tv);
void wsa_acts_free(WsaActs *a);

// E [B,Tl,H], XA [B,Ta,d_a], XV [B,Tv,d_v] -> a->out [B,Tl,H]. rng NULL = eval (no dropout).
void wsa_forward(const Wsa *m, WsaActs *a, const float *E, const float *XA, const float *XV, int B, int Tl, int Ta,
                 int Tv, Rng *rng);
// dout [B,Tl,H] -> dE [B,Tl,H] (accumulated) and parameter gradients (accumulated).
void wsa_backward(const Wsa *m, WsaActs *a, float *dE, const float *dout, const float *E, const float *XA,
                  const float *XV, int B, int Tl, int Ta, int Tv);

// The authors' sparsemax on rows of a [rows, n] matrix (exposed for tests). info [rows,4] is saved
// for backward; scratch holds n floats.
void official_sparsemax_forward(float *out, float *info, const float *inp, int rows, int n, float *scratch);
// dinp += J^T dout (see the header comment for the tie rule).
void official_sparsemax_backward(float *dinp, const float *dout, const float *inp, const float *info, int rows,
                                 int n);
