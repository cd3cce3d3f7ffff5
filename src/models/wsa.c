// wsa.c: the WSA / WA fusion module, forward and backward (see wsa.h).
#include "models/wsa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/common.h"
#include "core/matmul.h"
#include "layers/layers.h"

// ---------------------------------------------------------------- the authors' sparsemax
// Not layers/sparsemax.c on purpose: this one follows PyTorch's float arithmetic in the authors' code
// (shift by the max, float-rounded cumsum, tau in float) and its autograd (half gradient at exact
// ties, plus the term through tau for z >= z_(k)), as the golden test against PyTorch needs; the
// layer is the spec's sparsemax (double tau, support-only Jacobian). Merging would change one's results.
static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

void official_sparsemax_forward(float *out, float *info, const float *inp, int rows, int n, float *scratch) {
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * n;
        float *o = out + (size_t)r * n;
        float mx = x[0];
        for (int j = 1; j < n; j++)
            if (x[j] > mx) mx = x[j];
        // Only values above max - 1 can be in the support (tau >= max - 1), and the cumsum / bound test
        // over the sorted values is the same whether or not the others are listed after them: sort
        // just the candidates (PyTorch sorts the whole row; k and tau come out identical).
        int m = 0;
        for (int j = 0; j < n; j++) {
            float z = x[j] - mx;
            if (z > -1.0f) scratch[m++] = z;
        }
        qsort(scratch, (size_t)m, sizeof(float), cmp_desc);
        // PyTorch: bound = 1 + range * zs (float); cumsum on CPU accumulates in double and rounds
        // each partial sum to float; k = max(is_gt * range); taus = (sum(is_gt * zs) - 1) / k.
        double acc = 0, ssum = 0;
        int k = 0;
        float zk = scratch[0];
        for (int j = 1; j <= m; j++) {
            float zj = scratch[j - 1];
            acc += zj;
            float cs = (float)acc;
            float bound = 1.0f + (float)j * zj;
            if (bound > cs) {
                k = j;
                zk = zj;
                ssum += zj;
            }
        }
        if (k == 0) k = 1; // cannot happen (j = 1 always qualifies); keeps the division safe
        float tau = ((float)ssum - 1.0f) / (float)k;
        for (int j = 0; j < n; j++) {
            float d = (x[j] - mx) - tau;
            o[j] = d > 0.0f ? d : 0.0f;
        }
        float *in = info + (size_t)r * 4;
        in[0] = mx, in[1] = tau, in[2] = zk, in[3] = (float)k;
    }
}

void official_sparsemax_backward(float *dinp, const float *dout, const float *inp, const float *info, int rows,
                                 int n) {
#pragma omp parallel for if (rows > 64)
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * n, *g = dout + (size_t)r * n, *in = info + (size_t)r * 4;
        float *dx = dinp + (size_t)r * n;
        float mx = in[0], tau = in[1], zk = in[2];
        double k = in[3], sumh = 0;
        for (int j = 0; j < n; j++) {
            float d = (x[j] - mx) - tau;
            sumh += d > 0.0f ? g[j] : d == 0.0f ? 0.5 * g[j] : 0.0;
        }
        float share = (float)(-sumh / k);
        for (int j = 0; j < n; j++) {
            float z = x[j] - mx, d = z - tau;
            float h = d > 0.0f ? g[j] : d == 0.0f ? 0.5f * g[j] : 0.0f;
            dx[j] += h + (z >= zk ? share : 0.0f);
        }
    }
}

// ---------------------------------------------------------------- parameters
void wsa_register(Wsa *m, ParamSet *ps, const char *prefix, int H, int d_a, int d_v, float beta, float p_drop,
                  int softmax) {
    memset(m, 0, sizeof(*m));
    m->H = H, m->d_a = d_a, m->d_v = d_v, m->beta = beta, m->p_drop = p_drop, m->softmax = softmax;
    snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);
    const char *lin[6] = {"W_v", "W_a", "W_v_", "W_a_", "W_hv", "W_ha"};
    const int in[6] = {d_v, d_a, d_v, d_a, d_v + H, d_a + H};
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof(name), "%s%s.weight", prefix, lin[i]);
        params_add2(ps, name, H, in[i]);
        snprintf(name, sizeof(name), "%s%s.bias", prefix, lin[i]);
        params_add1(ps, name, H);
    }
    snprintf(name, sizeof(name), "%sLayerNorm.weight", prefix);
    params_add1(ps, name, H);
    snprintf(name, sizeof(name), "%sLayerNorm.bias", prefix);
    params_add1(ps, name, H);
}

void wsa_bind(Wsa *m, const ParamSet *ps) {
    const char *suffix[14] = {"W_v.weight",  "W_v.bias",  "W_a.weight",  "W_a.bias",  "W_v_.weight",
                              "W_v_.bias",   "W_a_.weight", "W_a_.bias", "W_hv.weight", "W_hv.bias",
                              "W_ha.weight", "W_ha.bias", "LayerNorm.weight", "LayerNorm.bias"};
    float **w[14] = {&m->w.Wv,  &m->w.bv,  &m->w.Wa,  &m->w.ba,  &m->w.Wv_, &m->w.bv_,  &m->w.Wa_,
                     &m->w.ba_, &m->w.Whv, &m->w.bhv, &m->w.Wha, &m->w.bha, &m->w.ln_w, &m->w.ln_b};
    float **g[14] = {&m->g.Wv,  &m->g.bv,  &m->g.Wa,  &m->g.ba,  &m->g.Wv_, &m->g.bv_,  &m->g.Wa_,
                     &m->g.ba_, &m->g.Whv, &m->g.bhv, &m->g.Wha, &m->g.bha, &m->g.ln_w, &m->g.ln_b};
    char name[PARAM_NAME_MAX];
    for (int i = 0; i < 14; i++) {
        snprintf(name, sizeof(name), "%s%s", m->prefix, suffix[i]);
        *w[i] = params_data(ps, name);
        *g[i] = params_grad(ps, name);
    }
}

void wsa_acts_init(WsaActs *a, const Wsa *m, int Bmax, int Tl, int Ta, int Tv) {
    memset(a, 0, sizeof(*a));
    a->Bmax = Bmax, a->Tl = Tl, a->Ta = Ta, a->Tv = Tv;
    size_t H = m->H, N = (size_t)Bmax * Tl;
    size_t nA = (size_t)Bmax * Ta * H, nV = (size_t)Bmax * Tv * H;
    size_t sA = N * Ta, sV = N * Tv;
    a->Ap = falloc(nA), a->Vp = falloc(nV), a->dAp = falloc(nA), a->dVp = falloc(nV);
    a->SA = falloc(sA), a->SV = falloc(sV), a->PA = falloc(sA), a->PV = falloc(sV);
    a->dPA = falloc(sA), a->dPV = falloc(sV), a->dSA = falloc(sA), a->dSV = falloc(sV);
    a->smA = falloc(N * 4), a->smV = falloc(N * 4);
    a->Aal = falloc(N * m->d_a), a->Val = falloc(N * m->d_v);
    a->dAal = falloc(N * m->d_a), a->dVal = falloc(N * m->d_v);
    a->catA = falloc(N * (m->d_a + H)), a->catV = falloc(N * (m->d_v + H));
    a->dcatA = falloc(N * (m->d_a + H)), a->dcatV = falloc(N * (m->d_v + H));
    float **nh[16] = {&a->preA, &a->preV, &a->gA, &a->gV, &a->uA, &a->uV, &a->M, &a->sum,
                      &a->ln, &a->drop_mask, &a->out, &a->dln, &a->dM, &a->dgA, &a->dgV, &a->duA};
    for (int i = 0; i < 16; i++) *nh[i] = falloc(N * H);
    a->duV = falloc(N * H);
    a->en = falloc(N), a->mn = falloc(N), a->thr = falloc(N), a->alpha = falloc(N);
    a->ln_mean = falloc(N), a->ln_rstd = falloc(N);
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    a->sort_n = Ta > Tv ? Ta : Tv;
    a->sort_threads = nt;
    a->sort_scratch = falloc((size_t)nt * a->sort_n);
}

void wsa_acts_free(WsaActs *a) {
    float *p[] = {a->Ap,   a->Vp,  a->dAp, a->dVp, a->SA,  a->SV,  a->PA,  a->PV,  a->dPA, a->dPV, a->dSA,
                  a->dSV,  a->smA, a->smV, a->Aal, a->Val, a->dAal, a->dVal, a->catA, a->catV, a->dcatA,
                  a->dcatV, a->preA, a->preV, a->gA, a->gV, a->uA, a->uV, a->M, a->sum, a->ln, a->drop_mask,
                  a->out,  a->dln, a->dM,  a->dgA, a->dgV, a->duA, a->duV, a->en, a->mn, a->thr, a->alpha,
                  a->ln_mean, a->ln_rstd, a->sort_scratch};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) free(p[i]);
    memset(a, 0, sizeof(*a));
}

// scores -> attention weights over frames, rows of n
static void attend(const Wsa *m, WsaActs *a, float *P, float *info, const float *S, int rows, int n) {
    if (m->softmax) {
        softmax_forward(P, S, rows, n);
        return;
    }
#pragma omp parallel num_threads(a->sort_threads)
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num(), nt = omp_get_num_threads();
#endif
        int r0 = (int)((long)rows * t / nt), r1 = (int)((long)rows * (t + 1) / nt);
        if (r1 > r0)
            official_sparsemax_forward(P + (size_t)r0 * n, info + (size_t)r0 * 4, S + (size_t)r0 * n, r1 - r0, n,
                                       a->sort_scratch + (size_t)t * a->sort_n);
    }
}

// one modality's alignment: X [B,T,d] -> Xp, S, P, X_al [B*Tl,d], cat [B*Tl, d+H]
static void align_forward(const Wsa *m, WsaActs *a, const float *E, const float *X, int d, int B, int Tl, int T,
                          const float *W, const float *bias, float *Xp, float *S, float *P, float *info, float *Xal,
                          float *cat) {
    int H = m->H;
    linear_forward(Xp, X, W, bias, B * T, d, H);
    for (int b = 0; b < B; b++)
        matmul(0, 1, Tl, T, H, 1.0f, E + (size_t)b * Tl * H, H, Xp + (size_t)b * T * H, H, 0.0f,
               S + (size_t)b * Tl * T, T);
    attend(m, a, P, info, S, B * Tl, T);
    for (int b = 0; b < B; b++)
        matmul(0, 0, Tl, d, T, 1.0f, P + (size_t)b * Tl * T, T, X + (size_t)b * T * d, d, 0.0f,
               Xal + (size_t)b * Tl * d, d);
    long N = (long)B * Tl;
    for (long t = 0; t < N; t++) {
        memcpy(cat + t * (d + H), Xal + t * d, (size_t)d * sizeof(float));
        memcpy(cat + t * (d + H) + d, E + t * H, (size_t)H * sizeof(float));
    }
}

void wsa_forward(const Wsa *m, WsaActs *a, const float *E, const float *XA, const float *XV, int B, int Tl, int Ta,
                 int Tv, Rng *rng) {
    int H = m->H, da = m->d_a, dv = m->d_v;
    long N = (long)B * Tl;
    align_forward(m, a, E, XV, dv, B, Tl, Tv, m->w.Wv, m->w.bv, a->Vp, a->SV, a->PV, a->smV, a->Val, a->catV);
    align_forward(m, a, E, XA, da, B, Tl, Ta, m->w.Wa, m->w.ba, a->Ap, a->SA, a->PA, a->smA, a->Aal, a->catA);
    linear_forward(a->preV, a->catV, m->w.Whv, m->w.bhv, (int)N, dv + H, H);
    linear_forward(a->preA, a->catA, m->w.Wha, m->w.bha, (int)N, da + H, H);
    relu_forward(a->gV, a->preV, N * H);
    relu_forward(a->gA, a->preA, N * H);
    linear_forward(a->uV, a->Val, m->w.Wv_, m->w.bv_, (int)N, dv, H);
    linear_forward(a->uA, a->Aal, m->w.Wa_, m->w.ba_, (int)N, da, H);
#pragma omp parallel for
    for (long t = 0; t < N; t++) {
        const float *e = E + t * H;
        float *Mt = a->M + t * H, *s = a->sum + t * H;
        const float *gv = a->gV + t * H, *uv = a->uV + t * H, *ga = a->gA + t * H, *ua = a->uA + t * H;
        double se = 0, sm = 0;
        for (int h = 0; h < H; h++) {
            float v = gv[h] * uv[h] + ga[h] * ua[h];
            Mt[h] = v;
            sm += (double)v * v;
            se += (double)e[h] * e[h];
        }
        float en = (float)sqrt(se), mn = (float)sqrt(sm);
        float mnp = mn == 0.0f ? 1.0f : mn;
        float thr = (en / (mnp + 1e-6f)) * m->beta;
        float alpha = thr < 1.0f ? thr : 1.0f;
        a->en[t] = en, a->mn[t] = mn, a->thr[t] = thr, a->alpha[t] = alpha;
        for (int h = 0; h < H; h++) s[h] = alpha * Mt[h] + e[h];
    }
    layernorm_forward(a->ln, a->ln_mean, a->ln_rstd, a->sum, m->w.ln_w, m->w.ln_b, (int)N, H, 1e-5f);
    dropout_forward(a->out, a->drop_mask, a->ln, N * H, m->p_drop, rng);
}

static void align_backward(const Wsa *m, float *dE, const float *E, const float *X, int d, int B, int Tl,
                           int T, const float *W, float *dW, float *db, const float *Xp, float *dXp, const float *S,
                           const float *P, const float *info, float *dP, float *dS, const float *dXal) {
    int H = m->H;
    for (int b = 0; b < B; b++)
        matmul(0, 1, Tl, T, d, 1.0f, dXal + (size_t)b * Tl * d, d, X + (size_t)b * T * d, d, 0.0f,
               dP + (size_t)b * Tl * T, T);
    size_t nS = (size_t)B * Tl * T;
    memset(dS, 0, nS * sizeof(float));
    if (m->softmax)
        softmax_backward(dS, dP, P, B * Tl, T);
    else
        official_sparsemax_backward(dS, dP, S, info, B * Tl, T);
    for (int b = 0; b < B; b++) {
        matmul(0, 0, Tl, H, T, 1.0f, dS + (size_t)b * Tl * T, T, Xp + (size_t)b * T * H, H, 1.0f,
               dE + (size_t)b * Tl * H, H);
        matmul(1, 0, T, H, Tl, 1.0f, dS + (size_t)b * Tl * T, T, E + (size_t)b * Tl * H, H, 0.0f,
               dXp + (size_t)b * T * H, H);
    }
    linear_backward(NULL, dW, db, dXp, X, W, B * T, d, H);
}

void wsa_backward(const Wsa *m, WsaActs *a, float *dE, const float *dout, const float *E, const float *XA,
                  const float *XV, int B, int Tl, int Ta, int Tv) {
    int H = m->H, da = m->d_a, dv = m->d_v;
    long N = (long)B * Tl, NH = N * H;
    memset(a->dln, 0, NH * sizeof(float));
    dropout_backward(a->dln, dout, a->drop_mask, NH);
    float *dsum = a->dM; // the LayerNorm input gradient, turned into dM in place below
    memset(dsum, 0, NH * sizeof(float));
    layernorm_backward(dsum, m->g.ln_w, m->g.ln_b, a->dln, a->sum, m->w.ln_w, a->ln_mean, a->ln_rstd, (int)N, H);
#pragma omp parallel for
    for (long t = 0; t < N; t++) {
        const float *e = E + t * H, *Mt = a->M + t * H;
        float *ds = dsum + t * H, *de = dE + t * H;
        double dalpha = 0;
        for (int h = 0; h < H; h++) dalpha += (double)ds[h] * Mt[h];
        float thr = a->thr[t], en = a->en[t], mn = a->mn[t], alpha = a->alpha[t];
        double dthr = thr < 1.0f ? dalpha : thr == 1.0f ? 0.5 * dalpha : 0.0;
        double den = (double)(mn == 0.0f ? 1.0f : mn) + 1e-6;
        double gen = dthr * m->beta / den;                   // d/d||E||
        double gmn = -dthr * m->beta * en / (den * den);     // d/d||M||
        float ce = en > 0.0f ? (float)(gen / en) : 0.0f;
        float cm = mn != 0.0f ? (float)(gmn / mn) : 0.0f;
        for (int h = 0; h < H; h++) {
            de[h] += ds[h] + ce * e[h];
            ds[h] = alpha * ds[h] + cm * Mt[h]; // now dM
        }
    }
    const float *dM = a->dM;
#pragma omp parallel for
    for (long i = 0; i < NH; i++) {
        a->dgV[i] = a->gV[i] > 0.0f ? dM[i] * a->uV[i] : 0.0f;
        a->duV[i] = dM[i] * a->gV[i];
        a->dgA[i] = a->gA[i] > 0.0f ? dM[i] * a->uA[i] : 0.0f;
        a->duA[i] = dM[i] * a->gA[i];
    }
    memset(a->dcatV, 0, (size_t)N * (dv + H) * sizeof(float));
    memset(a->dcatA, 0, (size_t)N * (da + H) * sizeof(float));
    linear_backward(a->dcatV, m->g.Whv, m->g.bhv, a->dgV, a->catV, m->w.Whv, (int)N, dv + H, H);
    linear_backward(a->dcatA, m->g.Wha, m->g.bha, a->dgA, a->catA, m->w.Wha, (int)N, da + H, H);
    memset(a->dVal, 0, (size_t)N * dv * sizeof(float));
    memset(a->dAal, 0, (size_t)N * da * sizeof(float));
    linear_backward(a->dVal, m->g.Wv_, m->g.bv_, a->duV, a->Val, m->w.Wv_, (int)N, dv, H);
    linear_backward(a->dAal, m->g.Wa_, m->g.ba_, a->duA, a->Aal, m->w.Wa_, (int)N, da, H);
    for (long t = 0; t < N; t++) {
        const float *cv = a->dcatV + t * (dv + H), *ca = a->dcatA + t * (da + H);
        float *de = dE + t * H;
        for (int j = 0; j < dv; j++) a->dVal[t * dv + j] += cv[j];
        for (int j = 0; j < da; j++) a->dAal[t * da + j] += ca[j];
        for (int h = 0; h < H; h++) de[h] += cv[dv + h] + ca[da + h];
    }
    align_backward(m, dE, E, XV, dv, B, Tl, Tv, m->w.Wv, m->g.Wv, m->g.bv, a->Vp, a->dVp, a->SV, a->PV, a->smV,
                   a->dPV, a->dSV, a->dVal);
    align_backward(m, dE, E, XA, da, B, Tl, Ta, m->w.Wa, m->g.Wa, m->g.ba, a->Ap, a->dAp, a->SA, a->PA, a->smA,
                   a->dPA, a->dSA, a->dAal);
}
