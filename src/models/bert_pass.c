// bert_pass.c: BERT forward and backward passes (embeddings, transformer stack, pooler), see bert.h.
// Every product goes through the layer kernels (linear_* -> matmul()); nothing is allocated here.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers/layers.h"
#include "models/bert.h"

static void check_size(const BertActs *a, int B, int T) {
    if (B <= 0 || T <= 0 || B > a->Bmax || T > a->Tmax) {
        fprintf(stderr, "mird: internal error: bert batch %d x %d exceeds the activations' %d x %d\n", B, T, a->Bmax,
                a->Tmax);
        abort();
    }
}

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

// ---- (1) embeddings

void bert_embeddings_forward(const Bert *m, BertActs *a, const int32_t *ids, const int32_t *types, int B, int T,
                             Rng *rng) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, BT = B * T;
    // emb_sum[b,t] = word[ids[b,t]] + pos[t] + type[types[b,t]]
    embedding_forward(a->emb_sum, ids, m->w.word, BT, H);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            float *o = a->emb_sum + ((size_t)b * T + t) * H;
            const float *p = m->w.pos + (size_t)t * H;
            const float *y = m->w.type + (size_t)(types ? types[b * T + t] : 0) * H;
            for (int j = 0; j < H; j++) o[j] += p[j] + y[j];
        }
    layernorm_forward(a->emb_ln, a->emb_mean, a->emb_rstd, a->emb_sum, m->w.ln_w, m->w.ln_b, BT, H,
                      c->layer_norm_eps);
    a->emb_train = rng && c->hidden_dropout_prob > 0;
    if (a->emb_train)
        dropout_forward(a->emb_out, a->emb_mask, a->emb_ln, (long)BT * H, c->hidden_dropout_prob, rng);
    else
        memcpy(a->emb_out, a->emb_ln, (size_t)BT * H * sizeof(float));
}

void bert_embeddings_backward(const Bert *m, BertActs *a, const float *demb, const int32_t *ids,
                              const int32_t *types, int B, int T) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, BT = B * T;
    size_t n = (size_t)BT * H;
    const float *dln = demb;
    if (a->emb_train) {
        zero(a->d_h[0], n);
        dropout_backward(a->d_h[0], demb, a->emb_mask, (long)n);
        dln = a->d_h[0];
    }
    float *dsum = a->d_h[1];
    zero(dsum, n);
    layernorm_backward(dsum, m->g.ln_w, m->g.ln_b, dln, a->emb_sum, m->w.ln_w, a->emb_mean, a->emb_rstd, BT, H);
    embedding_backward(m->g.word, dsum, ids, BT, H, c->pad_token_id); // the pad row gets no gradient
    if (types)
        embedding_backward(m->g.type, dsum, types, BT, H, -1);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            const float *d = dsum + ((size_t)b * T + t) * H;
            float *gp = m->g.pos + (size_t)t * H;
            float *gy = m->g.type; // row 0 when types == NULL
            for (int j = 0; j < H; j++) gp[j] += d[j];
            if (!types)
                for (int j = 0; j < H; j++) gy[j] += d[j];
        }
}

// ---- (2) transformer stack

// Attention-probs dropout mask: 0 with probability p, else 1 / (1 - p).
static void draw_mask(float *mask, long n, float p, Rng *rng) {
    float keep = 1.0f / (1.0f - p);
    for (long i = 0; i < n; i++) mask[i] = rng_uniform(rng) < p ? 0.0f : keep;
}

// Attention of the B [CLS] queries (pooled-output-only last layer): q [B,H] compact, k, v [B*T,H],
// mask [B*T] additive or NULL, M [B,NH,T] dropout mask or NULL -> P [B,NH,T] softmax, ctx [B,H].
static void cls_attention_forward(float *ctx, float *P, const float *q, const float *k, const float *v,
                                  const float *mask, const float *M, int B, int T, int H, int NH) {
    int hs = H / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for if ((long)B * NH * T * hs > 1000000) schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *qb = q + (size_t)b * H + h * hs;
        float *p = P + (size_t)bh * T, mx = -INFINITY;
        for (int j = 0; j < T; j++) {
            const float *kj = k + ((size_t)b * T + j) * H + h * hs;
            float s = 0;
            for (int d = 0; d < hs; d++) s += qb[d] * kj[d];
            s = s * scale + (mask ? mask[(size_t)b * T + j] : 0.0f);
            p[j] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0;
        for (int j = 0; j < T; j++) sum += p[j] = expf(p[j] - mx);
        float inv = 1.0f / sum;
        for (int j = 0; j < T; j++) p[j] *= inv;
        float *o = ctx + (size_t)b * H + h * hs;
        for (int d = 0; d < hs; d++) o[d] = 0;
        for (int j = 0; j < T; j++) {
            float w = M ? p[j] * M[(size_t)bh * T + j] : p[j];
            const float *vj = v + ((size_t)b * T + j) * H + h * hs;
            for (int d = 0; d < hs; d++) o[d] += w * vj[d];
        }
    }
}

// Backward of cls_attention_forward: dq [B,H] compact (+=), dk, dv [B*T,H] (+=), from dctx [B,H].
static void cls_attention_backward(float *dq, float *dk, float *dv, const float *dctx, const float *P,
                                   const float *M, const float *q, const float *k, const float *v, int B, int T,
                                   int H, int NH, float *dS /* [T] per thread, see caller */) {
    int hs = H / NH;
    float scale = 1.0f / sqrtf((float)hs);
    (void)dS;
    for (int bh = 0; bh < B * NH; bh++) { // serial: B * NH * T * hs multiply-adds, small
        int b = bh / NH, h = bh % NH;
        const float *p = P + (size_t)bh * T, *dc = dctx + (size_t)b * H + h * hs, *qb = q + (size_t)b * H + h * hs;
        const float *mk = M ? M + (size_t)bh * T : NULL;
        float dot = 0;
        for (int j = 0; j < T; j++) {
            const float *vj = v + ((size_t)b * T + j) * H + h * hs;
            float *dvj = dv + ((size_t)b * T + j) * H + h * hs;
            float A = mk ? p[j] * mk[j] : p[j], dA = 0;
            for (int d = 0; d < hs; d++) dvj[d] += A * dc[d], dA += dc[d] * vj[d];
            float dP = mk ? dA * mk[j] : dA;
            dS[j] = dP;
            dot += p[j] * dP;
        }
        float *dqb = dq + (size_t)b * H + h * hs;
        for (int j = 0; j < T; j++) {
            float g = p[j] * (dS[j] - dot) * scale;
            const float *kj = k + ((size_t)b * T + j) * H + h * hs;
            float *dkj = dk + ((size_t)b * T + j) * H + h * hs;
            for (int d = 0; d < hs; d++) dqb[d] += g * kj[d], dkj[d] += g * qb[d];
        }
    }
}

static void gather_cls(float *dst, const float *src, int B, int T, int H) {
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * H, src + (size_t)b * T * H, (size_t)H * sizeof(float));
}

void bert_stack_forward(const Bert *m, BertActs *a, const float *x, const float *mask, int B, int T, Rng *rng) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, BT = B * T;
    size_t BTm = (size_t)a->Bmax * a->Tmax, ATTm = BTm * NH * a->Tmax;
    size_t natt = (size_t)B * NH * T * T;
    float ph = c->hidden_dropout_prob, pa = c->attention_probs_dropout_prob, eps = c->layer_norm_eps;
    a->stack_train = rng != NULL;
    a->has_mask = mask != NULL;
    if (mask)
        for (int i = 0; i < BT; i++) a->mask_add[i] = (1.0f - mask[i]) * -10000.0f;
    float *tmp = a->d_h[0], *tmp2 = a->d_h[1];
    a->cls_last = a->cls_only && c->num_hidden_layers > 0;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const BertLayerW *w = &m->w.layer[l];
        const float *in = l == 0 ? x : a->ln2 + (size_t)(l - 1) * BTm * H;
        float *q = a->q + l * BTm * H, *k = a->k + l * BTm * H, *v = a->v + l * BTm * H;
        float *probs = a->probs + l * ATTm, *amask = a->attn_mask + l * ATTm;
        float *ctx = a->ctx + l * BTm * H, *res1 = a->res1 + l * BTm * H, *ln1 = a->ln1 + l * BTm * H;
        float *fc = a->fc + l * BTm * I, *act = a->act + l * BTm * I;
        float *res2 = a->res2 + l * BTm * H, *ln2 = a->ln2 + l * BTm * H;
        // pooled-output-only last layer: R = B compact [CLS] rows after the key/value projections
        int cls = a->cls_last && l == c->num_hidden_layers - 1, R = cls ? B : BT;
        size_t nr = (size_t)R * H;
        const float *xr = in; // the R rows the residual path starts from
        // self-attention
        linear_forward(k, in, w->k_w, w->k_b, BT, H, H);
        linear_forward(v, in, w->v_w, w->v_b, BT, H, H);
        int adrop = rng && pa > 0;
        if (cls) {
            float *xc = a->d_h[2];
            gather_cls(xc, in, B, T, H);
            xr = xc;
            linear_forward(q, xc, w->q_w, w->q_b, B, H, H);
            if (adrop) draw_mask(amask, (long)B * NH * T, pa, rng);
            cls_attention_forward(ctx, probs, q, k, v, mask ? a->mask_add : NULL, adrop ? amask : NULL, B, T, H, NH);
        } else {
            linear_forward(q, in, w->q_w, w->q_b, BT, H, H);
            if (adrop) draw_mask(amask, (long)natt, pa, rng);
            attention_forward(ctx, probs, q, k, v, mask ? a->mask_add : NULL, adrop ? amask : NULL, B, T, H, NH);
        }
        // res1 = in + dropout(ctx Wo^T + bo); ln1 = LayerNorm(res1)
        linear_forward(tmp, ctx, w->ao_w, w->ao_b, R, H, H);
        const float *d1 = tmp;
        if (rng) {
            dropout_forward(tmp2, a->ao_mask + l * BTm * H, tmp, (long)nr, ph, rng);
            d1 = tmp2;
        }
        for (size_t i = 0; i < nr; i++) res1[i] = xr[i] + d1[i];
        layernorm_forward(ln1, a->ln1_mean + l * BTm, a->ln1_rstd + l * BTm, res1, w->ln1_w, w->ln1_b, R, H, eps);
        // feed-forward: res2 = ln1 + dropout(gelu(ln1 W1^T + b1) W2^T + b2); ln2 = LayerNorm(res2)
        linear_forward(fc, ln1, w->fc_w, w->fc_b, R, H, I);
        gelu_forward(act, fc, (long)R * I);
        linear_forward(tmp, act, w->proj_w, w->proj_b, R, I, H);
        const float *d2 = tmp;
        if (rng) {
            dropout_forward(tmp2, a->proj_mask + l * BTm * H, tmp, (long)nr, ph, rng);
            d2 = tmp2;
        }
        for (size_t i = 0; i < nr; i++) res2[i] = ln1[i] + d2[i];
        layernorm_forward(ln2, a->ln2_mean + l * BTm, a->ln2_rstd + l * BTm, res2, w->ln2_w, w->ln2_b, R, H, eps);
    }
}

void bert_stack_backward(const Bert *m, BertActs *a, float *dx, const float *dseq, const float *x, int B, int T) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads, BT = B * T;
    size_t BTm = (size_t)a->Bmax * a->Tmax, ATTm = BTm * NH * a->Tmax, n = (size_t)BT * H;
    int adrop = a->stack_train && c->attention_probs_dropout_prob > 0;
    float *dcur = a->d_h[0], *dres = a->d_h[1], *dln1 = a->d_h[2], *ddrop = a->d_h[3];
    float *dq = a->d_h[4], *dk = a->d_h[5], *dv = a->d_h[6], *dact = a->d_i[0], *dfc = a->d_i[1];
    if (a->cls_last)
        gather_cls(dcur, dseq, B, T, H); // the compact [CLS] rows (dseq is zero elsewhere)
    else
        memcpy(dcur, dseq, n * sizeof(float)); // gradient w.r.t. the current layer's output
    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        const BertLayerW *w = &m->w.layer[l];
        BertLayerW *g = &m->g.layer[l];
        const float *in = l == 0 ? x : a->ln2 + (size_t)(l - 1) * BTm * H;
        const float *q = a->q + l * BTm * H, *k = a->k + l * BTm * H, *v = a->v + l * BTm * H;
        const float *probs = a->probs + l * ATTm, *amask = a->attn_mask + l * ATTm;
        const float *ctx = a->ctx + l * BTm * H, *res1 = a->res1 + l * BTm * H, *ln1 = a->ln1 + l * BTm * H;
        const float *fc = a->fc + l * BTm * I, *act = a->act + l * BTm * I, *res2 = a->res2 + l * BTm * H;
        // pooled-output-only last layer: everything after the key/value projections has R = B rows
        int cls = a->cls_last && l == c->num_hidden_layers - 1, R = cls ? B : BT;
        size_t nr = (size_t)R * H, nir = (size_t)R * I;
        // output LayerNorm: dres = d res2
        zero(dres, nr);
        layernorm_backward(dres, g->ln2_w, g->ln2_b, dcur, res2, w->ln2_w, a->ln2_mean + l * BTm,
                           a->ln2_rstd + l * BTm, R, H);
        // res2 = ln1 + dropout(proj): d ln1 = dres (+ the feed-forward path below)
        memcpy(dln1, dres, nr * sizeof(float));
        const float *dproj = dres;
        if (a->stack_train) {
            zero(ddrop, nr);
            dropout_backward(ddrop, dres, a->proj_mask + l * BTm * H, (long)nr);
            dproj = ddrop;
        }
        zero(dact, nir);
        linear_backward(dact, g->proj_w, g->proj_b, dproj, act, w->proj_w, R, I, H);
        zero(dfc, nir);
        gelu_backward(dfc, dact, fc, (long)nir);
        linear_backward(dln1, g->fc_w, g->fc_b, dfc, ln1, w->fc_w, R, H, I);
        // attention output LayerNorm: dres = d res1
        zero(dres, nr);
        layernorm_backward(dres, g->ln1_w, g->ln1_b, dln1, res1, w->ln1_w, a->ln1_mean + l * BTm,
                           a->ln1_rstd + l * BTm, R, H);
        // res1 = in + dropout(ao): d in = dres (+ the Q/K/V paths below), now held in dcur
        if (cls) {
            zero(dcur, n);
            for (int b = 0; b < B; b++)
                memcpy(dcur + (size_t)b * T * H, dres + (size_t)b * H, (size_t)H * sizeof(float));
        } else {
            memcpy(dcur, dres, n * sizeof(float));
        }
        const float *dao = dres;
        if (a->stack_train) {
            zero(ddrop, nr);
            dropout_backward(ddrop, dres, a->ao_mask + l * BTm * H, (long)nr);
            dao = ddrop;
        }
        float *dctx = dln1; // free again
        zero(dctx, nr);
        linear_backward(dctx, g->ao_w, g->ao_b, dao, ctx, w->ao_w, R, H, H);
        zero(dq, nr), zero(dk, n), zero(dv, n);
        if (cls) {
            cls_attention_backward(dq, dk, dv, dctx, probs, adrop ? amask : NULL, q, k, v, B, T, H, NH, a->d_att);
            float *xc = dres, *dxc = ddrop; // both free now
            gather_cls(xc, in, B, T, H);
            zero(dxc, nr);
            linear_backward(dxc, g->q_w, g->q_b, dq, xc, w->q_w, B, H, H);
            for (int b = 0; b < B; b++) {
                float *d = dcur + (size_t)b * T * H;
                const float *s = dxc + (size_t)b * H;
                for (int j = 0; j < H; j++) d[j] += s[j];
            }
        } else {
            attention_backward(dq, dk, dv, a->d_att, dctx, probs, adrop ? amask : NULL, q, k, v, B, T, H, NH);
            linear_backward(dcur, g->q_w, g->q_b, dq, in, w->q_w, BT, H, H);
        }
        linear_backward(dcur, g->k_w, g->k_b, dk, in, w->k_w, BT, H, H);
        linear_backward(dcur, g->v_w, g->v_b, dv, in, w->v_w, BT, H, H);
    }
    if (dx)
        for (size_t i = 0; i < n; i++) dx[i] += dcur[i];
}

// ---- (3) pooler

void bert_pooler_forward(const Bert *m, BertActs *a, int B, int T) {
    check_size(a, B, T);
    int H = m->cfg.hidden_size;
    size_t stride = a->cls_last ? (size_t)H : (size_t)T * H; // cls_only: seq holds the [CLS] rows compactly
    for (int b = 0; b < B; b++) memcpy(a->pool_in + (size_t)b * H, a->seq + b * stride, H * sizeof(float));
    linear_forward(a->pool_pre, a->pool_in, m->w.pool_w, m->w.pool_b, B, H, H);
    tanh_forward(a->pooled, a->pool_pre, (long)B * H);
}

void bert_pooler_backward(const Bert *m, BertActs *a, float *dseq, const float *dpooled, int B, int T) {
    check_size(a, B, T);
    int H = m->cfg.hidden_size;
    float *dpre = a->d_h[0], *dcls = a->d_h[1];
    zero(dpre, (size_t)B * H);
    tanh_backward(dpre, dpooled, a->pooled, (long)B * H);
    zero(dcls, (size_t)B * H);
    linear_backward(dcls, m->g.pool_w, m->g.pool_b, dpre, a->pool_in, m->w.pool_w, B, H, H);
    for (int b = 0; b < B; b++) {
        float *d = dseq + (size_t)b * T * H;
        const float *s = dcls + (size_t)b * H;
        for (int j = 0; j < H; j++) d[j] += s[j];
    }
}

// ---- full model

void bert_forward(const Bert *m, BertActs *a, const int32_t *ids, const int32_t *types, const float *mask, int B,
                  int T, Rng *rng) {
    bert_embeddings_forward(m, a, ids, types, B, T, rng);
    bert_stack_forward(m, a, a->emb_out, mask, B, T, rng);
    bert_pooler_forward(m, a, B, T);
}

void bert_backward(const Bert *m, BertActs *a, const float *dseq, const float *dpooled, const int32_t *ids,
                   const int32_t *types, int B, int T) {
    size_t n = (size_t)B * T * m->cfg.hidden_size;
    check_size(a, B, T);
    if (dseq && dseq != a->dseq)
        memcpy(a->dseq, dseq, n * sizeof(float));
    else if (!dseq)
        zero(a->dseq, n);
    if (dpooled) bert_pooler_backward(m, a, a->dseq, dpooled, B, T);
    zero(a->demb, n);
    bert_stack_backward(m, a, a->demb, a->dseq, a->emb_out, B, T);
    bert_embeddings_backward(m, a, a->demb, ids, types, B, T);
}
