// bert_pass.c: BERT forward and backward passes (embeddings, transformer stack, pooler), see bert.h.
// Every product goes through the layer kernels (linear_* -> matmul()); nothing is allocated here.
// Dropout masks are counter-based keys (layers.h DropKey), regenerated in the backward; the GELU
// output is recomputed in the backward from the stored pre-activation; "add & norm" is one pass.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/matmul.h"
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
    a->emb_drop = dropkey_draw(c->hidden_dropout_prob, rng);
    dropout_apply(a->emb_out, a->emb_ln, (long)BT * H, &a->emb_drop);
}

void bert_embeddings_backward(const Bert *m, BertActs *a, const float *demb, const int32_t *ids,
                              const int32_t *types, int B, int T) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, BT = B * T;
    size_t n = (size_t)BT * H;
    const float *dln = demb;
    if (a->emb_drop.thr) {
        dropout_apply(a->d_h[0], demb, (long)n, &a->emb_drop);
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

// Attention of the B [CLS] queries (pooled-output-only last layer): q [B,H] compact, k, v [R0,H]
// (sequence b = rows off[b] .. off[b+1]-1, [CLS] first), mask [R0] additive or NULL, drop on P
// (index bh * T + j) or NULL -> P [B,NH,T] softmax (row stride T), ctx [B,H].
static void cls_attention_forward(float *ctx, float *P, const float *q, const float *k, const float *v,
                                  const float *mask, const DropKey *drop, const int *off, int B, int T, int H,
                                  int NH) {
    int hs = H / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for if ((long)B * NH * T * hs > 1000000) schedule(static)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, r0 = off[b], L = off[b + 1] - off[b];
        const float *qb = q + (size_t)b * H + h * hs;
        float *p = P + (size_t)bh * T, mx = -INFINITY;
        for (int j = 0; j < L; j++) {
            const float *kj = k + ((size_t)r0 + j) * H + h * hs;
            float s = 0;
            for (int d = 0; d < hs; d++) s += qb[d] * kj[d];
            s = s * scale + (mask ? mask[r0 + j] : 0.0f);
            p[j] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0;
        for (int j = 0; j < L; j++) sum += p[j] = expf(p[j] - mx);
        float inv = 1.0f / sum;
        for (int j = 0; j < L; j++) p[j] *= inv;
        float *o = ctx + (size_t)b * H + h * hs;
        for (int d = 0; d < hs; d++) o[d] = 0;
        for (int j = 0; j < L; j++) {
            float w = drop ? p[j] * dropkey_mask(drop, (uint64_t)bh * T + j) : p[j];
            const float *vj = v + ((size_t)r0 + j) * H + h * hs;
            for (int d = 0; d < hs; d++) o[d] += w * vj[d];
        }
    }
}

// Backward of cls_attention_forward: dq [B,H] compact (+=), dk, dv [R0,H] (+=), from dctx [B,H].
// dS: [T] scratch.
static void cls_attention_backward(float *dq, float *dk, float *dv, const float *dctx, const float *P,
                                   const DropKey *drop, const float *q, const float *k, const float *v,
                                   const int *off, int B, int T, int H, int NH, float *dS) {
    int hs = H / NH;
    float scale = 1.0f / sqrtf((float)hs);
    for (int bh = 0; bh < B * NH; bh++) { // serial: B * NH * T * hs multiply-adds, small
        int b = bh / NH, h = bh % NH, r0 = off[b], L = off[b + 1] - off[b];
        const float *p = P + (size_t)bh * T, *dc = dctx + (size_t)b * H + h * hs, *qb = q + (size_t)b * H + h * hs;
        float dot = 0;
        for (int j = 0; j < L; j++) {
            const float *vj = v + ((size_t)r0 + j) * H + h * hs;
            float *dvj = dv + ((size_t)r0 + j) * H + h * hs;
            float mk = drop ? dropkey_mask(drop, (uint64_t)bh * T + j) : 1.0f;
            float A = p[j] * mk, dA = 0;
            for (int d = 0; d < hs; d++) dvj[d] += A * dc[d], dA += dc[d] * vj[d];
            float dP = dA * mk;
            dS[j] = dP;
            dot += p[j] * dP;
        }
        float *dqb = dq + (size_t)b * H + h * hs;
        for (int j = 0; j < L; j++) {
            float g = p[j] * (dS[j] - dot) * scale;
            const float *kj = k + ((size_t)r0 + j) * H + h * hs;
            float *dkj = dk + ((size_t)r0 + j) * H + h * hs;
            for (int d = 0; d < hs; d++) dqb[d] += g * kj[d], dkj[d] += g * qb[d];
        }
    }
}

// dst[b] = src row off[b] (the [CLS] rows), [B,H].
static void gather_rows(float *dst, const float *src, const int *off, int B, int H) {
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * H, src + (size_t)off[b] * H, (size_t)H * sizeof(float));
}

// The rows the stack computes: every token (seq_off[b] = b * T), or with varlen and a mask the
// unmasked tokens and each [CLS], packed, with x gathered into xpack. Returns the stack input rows.
static const float *stack_rows(BertActs *a, const float *x, const float *mask, int B, int T, int H) {
    a->packed = a->varlen && a->cls_only && mask;
    int R0 = 0;
    for (int b = 0; b < B; b++) {
        a->seq_off[b] = R0;
        for (int t = 0; t < T; t++)
            if (!a->packed || t == 0 || mask[b * T + t] != 0.0f) a->rows[R0++] = b * T + t;
    }
    a->seq_off[B] = a->nrows = R0;
    if (mask)
        for (int r = 0; r < R0; r++) a->mask_add[r] = (1.0f - mask[a->rows[r]]) * -10000.0f;
    if (!a->packed) return x;
    for (int r = 0; r < R0; r++) memcpy(a->xpack + (size_t)r * H, x + (size_t)a->rows[r] * H, sizeof(float) * H);
    return a->xpack;
}

void bert_stack_forward(const Bert *m, BertActs *a, const float *x, const float *mask, int B, int T, Rng *rng) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads;
    size_t BTm = (size_t)a->Bmax * a->Tmax, ATTm = BTm * NH * a->Tmax;
    float ph = c->hidden_dropout_prob, pa = c->attention_probs_dropout_prob, eps = c->layer_norm_eps;
    a->stack_train = rng != NULL;
    a->has_mask = mask != NULL;
    const float *x0 = stack_rows(a, x, mask, B, T, H);
    const int R0 = a->nrows, *off = a->seq_off;
    const float *madd = mask ? a->mask_add : NULL;
    float *tmp = a->d_h[0], *act = a->d_i[0];
    a->cls_last = a->cls_only && c->num_hidden_layers > 0;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const BertLayerW *w = &m->w.layer[l];
        const float *in = l == 0 ? x0 : a->ln2 + (size_t)(l - 1) * BTm * H;
        float *q = a->q + l * BTm * H, *k = a->k + l * BTm * H, *v = a->v + l * BTm * H;
        float *probs = a->probs + l * ATTm;
        float *ctx = a->ctx + l * BTm * H, *res1 = a->res1 + l * BTm * H, *ln1 = a->ln1 + l * BTm * H;
        float *fc = a->fc + l * BTm * I;
        float *res2 = a->res2 + l * BTm * H, *ln2 = a->ln2 + l * BTm * H;
        // pooled-output-only last layer: R = B compact [CLS] rows after the key/value projections
        int cls = a->cls_last && l == c->num_hidden_layers - 1, R = cls ? B : R0;
        const float *xr = in; // the R rows the residual path starts from
        // self-attention (the input shared by the projections: matmul_reuse_*)
        matmul_reuse_begin();
        linear_forward(k, in, w->k_w, w->k_b, R0, H, H);
        linear_forward(v, in, w->v_w, w->v_b, R0, H, H);
        a->attn_drop[l] = dropkey_draw(pa, rng);
        const DropKey *ad = a->attn_drop[l].thr ? &a->attn_drop[l] : NULL;
        if (cls) {
            float *xc = a->d_h[2];
            gather_rows(xc, in, off, B, H);
            xr = xc;
            linear_forward(q, xc, w->q_w, w->q_b, B, H, H);
            matmul_reuse_end();
            cls_attention_forward(ctx, probs, q, k, v, madd, ad, off, B, T, H, NH);
        } else {
            linear_forward(q, in, w->q_w, w->q_b, R0, H, H);
            matmul_reuse_end();
            DropSrc ds = {NULL, a->attn_drop[l]};
            attention_forward(ctx, probs, q, k, v, madd, ad ? &ds : NULL, off, B, T, H, NH);
        }
        // res1 = in + dropout(ctx Wo^T + bo); ln1 = LayerNorm(res1)
        linear_forward(tmp, ctx, w->ao_w, w->ao_b, R, H, H);
        a->ao_drop[l] = dropkey_draw(ph, rng);
        residual_layernorm_forward(res1, ln1, a->ln1_mean + l * BTm, a->ln1_rstd + l * BTm, xr, tmp, &a->ao_drop[l],
                                   w->ln1_w, w->ln1_b, R, H, eps);
        // feed-forward: res2 = ln1 + dropout(gelu(ln1 W1^T + b1) W2^T + b2); ln2 = LayerNorm(res2)
        linear_forward(fc, ln1, w->fc_w, w->fc_b, R, H, I);
        linear_forward_gelu(tmp, fc, act, w->proj_w, w->proj_b, R, I, H); // gelu(fc) not kept: recomputed
        a->proj_drop[l] = dropkey_draw(ph, rng);
        residual_layernorm_forward(res2, ln2, a->ln2_mean + l * BTm, a->ln2_rstd + l * BTm, ln1, tmp,
                                   &a->proj_drop[l], w->ln2_w, w->ln2_b, R, H, eps);
    }
}

void bert_stack_backward(const Bert *m, BertActs *a, float *dx, const float *dseq, const float *x, int B, int T) {
    check_size(a, B, T);
    const BertConfig *c = &m->cfg;
    int H = c->hidden_size, I = c->intermediate_size, NH = c->num_attention_heads;
    size_t BTm = (size_t)a->Bmax * a->Tmax, ATTm = BTm * NH * a->Tmax;
    const int R0 = a->nrows, *off = a->seq_off;
    const float *x0 = a->packed ? a->xpack : x;
    size_t n0 = (size_t)R0 * H;
    float *dcur = a->d_h[0], *dres = a->d_h[1], *dln1 = a->d_h[2], *ddrop = a->d_h[3]; // dres: [CLS] layer only
    float *dq = a->d_h[4], *dk = a->d_h[5], *dv = a->d_h[6], *act = a->d_i[0], *dgelu = a->d_i[1];
    if (a->cls_last) { // the compact [CLS] rows (dseq is zero elsewhere)
        for (int b = 0; b < B; b++) memcpy(dcur + (size_t)b * H, dseq + (size_t)b * T * H, (size_t)H * sizeof(float));
    } else {
        memcpy(dcur, dseq, n0 * sizeof(float)); // gradient w.r.t. the current layer's output
    }
    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        const BertLayerW *w = &m->w.layer[l];
        BertLayerW *g = &m->g.layer[l];
        const float *in = l == 0 ? x0 : a->ln2 + (size_t)(l - 1) * BTm * H;
        const float *q = a->q + l * BTm * H, *k = a->k + l * BTm * H, *v = a->v + l * BTm * H;
        const float *probs = a->probs + l * ATTm;
        const float *ctx = a->ctx + l * BTm * H, *res1 = a->res1 + l * BTm * H, *ln1 = a->ln1 + l * BTm * H;
        const float *fc = a->fc + l * BTm * I, *res2 = a->res2 + l * BTm * H;
        // pooled-output-only last layer: everything after the key/value projections has R = B rows
        int cls = a->cls_last && l == c->num_hidden_layers - 1, R = cls ? B : R0;
        size_t nr = (size_t)R * H, nir = (size_t)R * I;
        // output LayerNorm: dln1 = d res2 (the residual path to ln1), ddrop = d dense(act) (dropout applied)
        residual_layernorm_backward(dln1, ddrop, g->ln2_w, g->ln2_b, dcur, res2, w->ln2_w, a->ln2_mean + l * BTm,
                                    a->ln2_rstd + l * BTm, &a->proj_drop[l], R, H);
        // feed-forward: the GELU output and derivative recomputed from fc as the weight gradient reads it
        linear_backward_set_gelu(act, g->proj_w, g->proj_b, dgelu, ddrop, fc, act, w->proj_w, R, I, H); // act := d act
        gelu_backward_cached(act, dgelu, (long)nir);                                                      // d fc
        linear_backward(dln1, g->fc_w, g->fc_b, act, ln1, w->fc_w, R, H, I);
        // attention output LayerNorm: d res1 = d in through the residual path (+ the Q/K/V paths
        // below), held in dcur; ddrop = d dense(ctx). The [CLS] layer's B rows go to their token rows.
        residual_layernorm_backward(cls ? dres : dcur, ddrop, g->ln1_w, g->ln1_b, dln1, res1, w->ln1_w,
                                    a->ln1_mean + l * BTm, a->ln1_rstd + l * BTm, &a->ao_drop[l], R, H);
        if (cls) {
            zero(dcur, n0);
            for (int b = 0; b < B; b++)
                memcpy(dcur + (size_t)off[b] * H, dres + (size_t)b * H, (size_t)H * sizeof(float));
        }
        float *dctx = dln1; // free again
        linear_backward_set(dctx, g->ao_w, g->ao_b, ddrop, ctx, w->ao_w, R, H, H);
        const DropKey *ad = a->attn_drop[l].thr ? &a->attn_drop[l] : NULL;
        zero(dk, n0), zero(dv, n0);
        matmul_reuse_begin(); // `in` is an input of the three weight gradients
        if (cls) {
            zero(dq, nr);
            cls_attention_backward(dq, dk, dv, dctx, probs, ad, q, k, v, off, B, T, H, NH, a->d_att);
            float *xc = dres, *dxc = ddrop; // both free now
            gather_rows(xc, in, off, B, H);
            linear_backward_set(dxc, g->q_w, g->q_b, dq, xc, w->q_w, B, H, H);
            for (int b = 0; b < B; b++) {
                float *d = dcur + (size_t)off[b] * H;
                const float *s = dxc + (size_t)b * H;
                for (int j = 0; j < H; j++) d[j] += s[j];
            }
        } else {
            zero(dq, n0);
            DropSrc ds = {NULL, a->attn_drop[l]};
            attention_backward(dq, dk, dv, a->d_att, dctx, probs, ad ? &ds : NULL, q, k, v, off, B, T, H, NH);
            linear_backward(dcur, g->q_w, g->q_b, dq, in, w->q_w, R0, H, H);
        }
        linear_backward(dcur, g->k_w, g->k_b, dk, in, w->k_w, R0, H, H);
        linear_backward(dcur, g->v_w, g->v_b, dv, in, w->v_w, R0, H, H);
        matmul_reuse_end();
    }
    if (!dx) return;
    if (a->packed) { // back to the token rows; the skipped pads get no gradient
        for (int r = 0; r < R0; r++) {
            float *d = dx + (size_t)a->rows[r] * H;
            const float *s = dcur + (size_t)r * H;
            for (int j = 0; j < H; j++) d[j] += s[j];
        }
    } else {
#pragma omp parallel for simd if (n0 > 65536) schedule(static)
        for (size_t i = 0; i < n0; i++) dx[i] += dcur[i];
    }
}

// ---- (3) pooler

void bert_pooler_forward(const Bert *m, BertActs *a, int B, int T) {
    check_size(a, B, T);
    int H = m->cfg.hidden_size;
    // cls_only: seq holds the [CLS] rows compactly; otherwise row b * T (no padding skipped then)
    for (int b = 0; b < B; b++)
        memcpy(a->pool_in + (size_t)b * H, a->seq + (size_t)b * (a->cls_last ? 1 : T) * H, H * sizeof(float));
    linear_forward(a->pool_pre, a->pool_in, m->w.pool_w, m->w.pool_b, B, H, H);
    tanh_forward(a->pooled, a->pool_pre, (long)B * H);
}

void bert_pooler_backward(const Bert *m, BertActs *a, float *dseq, const float *dpooled, int B, int T) {
    check_size(a, B, T);
    int H = m->cfg.hidden_size;
    float *dpre = a->d_h[0], *dcls = a->d_h[1];
    zero(dpre, (size_t)B * H);
    tanh_backward(dpre, dpooled, a->pooled, (long)B * H);
    linear_backward_set(dcls, m->g.pool_w, m->g.pool_b, dpre, a->pool_in, m->w.pool_w, B, H, H);
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
