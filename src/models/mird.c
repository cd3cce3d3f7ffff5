// mird.c: the MIRD model: registration, buffers, forward, backward, the training step.
// See mird.h for the contract and MIRD.md for the method.
#include "models/mird.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/fpenv.h"
#include "core/matmul.h"
#include "core/timer.h"
#include "layers/vmath.h"
#include "layers/layers.h"
#include "models/mird_internal.h"

const char *const MIRD_MI_NAMES[6] = {"la", "lv", "av", "yl", "ya", "yv"};

void mird_set_skip_padding(Mird *m, int on) { m->in->acts_m.varlen = on != 0; }

int mird_obj_has_rec(MirdObjective o) { return o == MIRD_OBJ_LOG || o == MIRD_OBJ_NO_MI || o == MIRD_OBJ_WEIGHTED; }
int mird_obj_has_mi(MirdObjective o) { return o == MIRD_OBJ_LOG || o == MIRD_OBJ_NO_REC; }

static const char *OBJ_NAMES[5] = {"log", "no_rec", "no_mi", "weighted", "pred"};
int mird_objective_parse(const char *s, MirdObjective *o) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, OBJ_NAMES[i])) {
            *o = (MirdObjective)i;
            return 0;
        }
    return -1;
}
const char *mird_objective_name(MirdObjective o) { return (unsigned)o < 5 ? OBJ_NAMES[o] : "?"; }

MirdStepOpts mird_step_defaults(void) {
    MirdStepOpts o = {1e-5f, 1e-3f, 0.01f, 5, MIRD_CLUB_ONCE, MIRD_OBJ_LOG};
    return o;
}

// ---------------------------------------------------------------- small parameter groups
static void lin_register(Lin *l, ParamSet *ps, const char *prefix, int in, int out) {
    char name[PARAM_NAME_MAX];
    l->in = in, l->out = out;
    snprintf(l->prefix, sizeof(l->prefix), "%s", prefix);
    snprintf(name, sizeof(name), "%sweight", prefix);
    params_add2(ps, name, out, in);
    snprintf(name, sizeof(name), "%sbias", prefix);
    params_add1(ps, name, out);
}
static void lin_bind(Lin *l, const ParamSet *ps) {
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof(name), "%sweight", l->prefix);
    l->W = params_data(ps, name), l->gW = params_grad(ps, name);
    snprintf(name, sizeof(name), "%sbias", l->prefix);
    l->b = params_data(ps, name), l->gb = params_grad(ps, name);
}
static void cell_register(Cell *c, ParamSet *ps, const char *prefix, int D, int H) {
    char name[PARAM_NAME_MAX];
    c->D = D, c->H = H;
    snprintf(c->prefix, sizeof(c->prefix), "%s", prefix);
    snprintf(name, sizeof(name), "%sweight_ih", prefix);
    params_add2(ps, name, 4 * H, D);
    snprintf(name, sizeof(name), "%sweight_hh", prefix);
    params_add2(ps, name, 4 * H, H);
    snprintf(name, sizeof(name), "%sbias_ih", prefix);
    params_add1(ps, name, 4 * H);
    snprintf(name, sizeof(name), "%sbias_hh", prefix);
    params_add1(ps, name, 4 * H);
}
static void cell_bind(Cell *c, const ParamSet *ps) {
    char name[PARAM_NAME_MAX];
    float **d[4] = {&c->Wih, &c->Whh, &c->bih, &c->bhh}, **g[4] = {&c->gWih, &c->gWhh, &c->gbih, &c->gbhh};
    const char *suf[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "%s%s", c->prefix, suf[i]);
        *d[i] = params_data(ps, name), *g[i] = params_grad(ps, name);
    }
}

// ---------------------------------------------------------------- creation
static int zsize(const MirdConfig *c, int mod) { // 0 l, 1 a, 2 v
    return mod == 0 ? c->zl_size : mod == 1 ? c->za_size : c->zv_size;
}
static int lat_size(const MirdConfig *c, int which) { return which == 3 ? c->zy_size : zsize(c, which); } // + 3 zy

int mird_create(Mird *m, const MirdConfig *cfg, int Bmax, int Tl, int Ta, int Tv, char *err) {
    memset(m, 0, sizeof(*m));
    fp_flush_denormals(); // fading LSTM gradients: denormal arithmetic is ~100x slower (core/fpenv.h)
    char e2[MIRD_ERRLEN];
    if (mird_config_validate(cfg, e2)) return errf(err, "model configuration: %s", e2);
    if (Bmax < 1 || Tl < 1 || Ta < 1 || Tv < 1) return errf(err, "model: batch capacity must be positive");
    if (Tl > cfg->bert.max_position_embeddings)
        return errf(err, "model: text length %d exceeds max_position_embeddings %d", Tl,
                    cfg->bert.max_position_embeddings);
    m->cfg = *cfg;
    m->Bmax = Bmax, m->Tl = Tl, m->Ta = Ta, m->Tv = Tv;
    MirdInternal *in = xcalloc(1, sizeof(MirdInternal));
    m->in = in;
    const MirdConfig *c = cfg;
    int H = c->bert.hidden_size, V = c->bert.vocab_size, zy = c->zy_size;
    ParamSet *ps = &m->params;
    params_init(ps);
    params_init(&m->est);

    // ---- registration, in the official state_dict order
    in->grp[G_ENC_L][0] = ps->n;
    if (c->text_encoder == MIRD_TEXT_BERT) {
        bert_register(&in->bert_l, ps, &c->bert, "encoder_l.bert.");
        lin_register(&in->enc_l_fc, ps, "encoder_l.encoder.", H, c->zl_size);
    } else {
        params_add2(ps, "encoder_l.embedding.weight", V, MIRD_TEXT_LSTM_EMB);
        cell_register(&in->enc_cell[0], ps, "encoder_l.lstm.", MIRD_TEXT_LSTM_EMB, c->zl_size);
        lin_register(&in->enc_l_fc, ps, "encoder_l.fc1.", c->zl_size, c->zl_size);
    }
    in->grp[G_ENC_L][1] = ps->n;
    in->grp[G_ENC_AV][0] = ps->n;
    cell_register(&in->enc_cell[1], ps, "encoder_a.lstm.", c->d_a, c->za_size);
    lin_register(&in->enc_fc[1], ps, "encoder_a.fc1.", c->za_size, c->za_size);
    cell_register(&in->enc_cell[2], ps, "encoder_v.lstm.", c->d_v, c->zv_size);
    lin_register(&in->enc_fc[2], ps, "encoder_v.fc1.", c->zv_size, c->zv_size);
    in->grp[G_ENC_AV][1] = ps->n;
    in->grp[G_DEC][0] = ps->n;
    const char *dn[3] = {"decoder_l.", "decoder_a.", "decoder_v."};
    const int dout[3] = {V, c->d_a, c->d_v};
    for (int k = 0; k < 3; k++) {
        char p[64];
        int Hd = zy + zsize(c, k);
        snprintf(p, sizeof(p), "%slstm.", dn[k]);
        cell_register(&in->dec_cell[k], ps, p, Hd, Hd);
        snprintf(p, sizeof(p), "%sfc1.", dn[k]);
        lin_register(&in->dec_fc[k], ps, p, Hd, dout[k]);
    }
    in->grp[G_DEC][1] = ps->n;
    in->grp[G_MULT][0] = ps->n;
    bert_register(&in->bert_m, ps, &c->bert, "mult_encoder.model.");
    // the authors' BERTModel names its fusion attribute after the variant: WA for WA, WSA otherwise
    wsa_register(&in->wsa, ps, c->fusion == MIRD_FUSION_WA ? "mult_encoder.model.WA." : "mult_encoder.model.WSA.", H, c->d_a, c->d_v, c->beta_shift, c->dropout_prob,
                 c->fusion == MIRD_FUSION_WA);
    lin_register(&in->mult_fc, ps, "mult_encoder.encoder.", H, zy);
    in->grp[G_MULT][1] = ps->n;
    in->grp[G_REG][0] = ps->n;
    int S = zy + c->zl_size + c->za_size + c->zv_size;
    lin_register(&in->reg_fc1, ps, "zy_to_y_fc1.", S, zy);
    lin_register(&in->reg_fc2, ps, "zy_to_y_fc2.", zy, 1);
    in->grp[G_REG][1] = ps->n;

    const int xs[6] = {c->zl_size, c->zl_size, c->za_size, zy, zy, zy};
    const int ys[6] = {c->za_size, c->zv_size, c->zv_size, c->zl_size, c->za_size, c->zv_size};
    for (int k = 0; k < 6; k++) {
        char p[32];
        snprintf(p, sizeof(p), "club_%s.", MIRD_MI_NAMES[k]);
        club_register(&in->club[k], &m->est, p, xs[k], ys[k], c->club_hidden / 2);
    }

    params_alloc(ps);
    params_alloc(&m->est);
    if (c->text_encoder == MIRD_TEXT_BERT) {
        bert_bind(&in->bert_l, ps);
    } else {
        in->emb_l = params_data(ps, "encoder_l.embedding.weight");
        in->gemb_l = params_grad(ps, "encoder_l.embedding.weight");
        cell_bind(&in->enc_cell[0], ps);
    }
    lin_bind(&in->enc_l_fc, ps);
    for (int k = 1; k < 3; k++) cell_bind(&in->enc_cell[k], ps), lin_bind(&in->enc_fc[k], ps);
    for (int k = 0; k < 3; k++) cell_bind(&in->dec_cell[k], ps), lin_bind(&in->dec_fc[k], ps);
    bert_bind(&in->bert_m, ps);
    wsa_bind(&in->wsa, ps);
    lin_bind(&in->mult_fc, ps);
    lin_bind(&in->reg_fc1, ps);
    lin_bind(&in->reg_fc2, ps);
    for (int k = 0; k < 6; k++) club_bind(&in->club[k], &m->est);

    adamw_init(&m->opt, ps, 0.9f, 0.999f, 1e-6f, 0.01f);
    adam_init(&m->est_opt, &m->est, 0.9f, 0.999f, 1e-8f);
    m->has_grad = xcalloc((size_t)ps->n, 1);

    // ---- activations
    size_t B = (size_t)Bmax, BTl = B * Tl;
    if (c->text_encoder == MIRD_TEXT_BERT) {
        if (bert_acts_init(&in->acts_l, &c->bert, Bmax, Tl, e2)) {
            mird_free(m);
            return errf(err, "model: %s", e2);
        }
        in->dl_in = falloc(B * H), in->dl_mask = falloc(B * H), in->dpool_l = falloc(B * H), in->ddl = falloc(B * H);
    } else {
        in->temb = falloc(BTl * MIRD_TEXT_LSTM_EMB);
        in->dtemb = falloc(BTl * MIRD_TEXT_LSTM_EMB);
    }
    if (bert_acts_init(&in->acts_m, &c->bert, Bmax, Tl, e2)) {
        mird_free(m);
        return errf(err, "model: %s", e2);
    }
    // Both BERTs are read only through their pooler ([CLS] row): the last layer runs its queries,
    // attention, feed-forward and LayerNorms on the [CLS] rows alone (bert.h, cls_only).
    in->acts_l.cls_only = in->acts_m.cls_only = 1;
    // WSA-BERT runs with the text mask: its masked tokens are skipped (bert.h, varlen). The text BERT
    // attends every token (no mask), so it has none to skip.
    in->acts_m.varlen = 1;
    wsa_acts_init(&in->wacts, &in->wsa, Bmax, Tl, Ta, Tv);
    in->types0 = xcalloc(BTl, sizeof(int32_t));
    in->mask_f = falloc(BTl);
    in->dm_in = falloc(B * H), in->dm_mask = falloc(B * H), in->dpool_m = falloc(B * H), in->ddm = falloc(B * H);
    in->dF = falloc(BTl * H), in->dE = falloc(BTl * H);
    const int T[3] = {Tl, Ta, Tv};
    long lstm_scr = 0;
    for (int k = 0; k < 3; k++) {
        int z = zsize(c, k), t = T[k];
        in->eh[k] = falloc(B * t * z), in->ec[k] = falloc(B * t * z), in->eact[k] = falloc(B * t * 4 * z);
        in->edh[k] = falloc(B * t * z), in->elast[k] = falloc(B * z), in->edlast[k] = falloc(B * z);
        int Hd = zy + z;
        in->dzin[k] = falloc(B * Hd), in->ddzin[k] = falloc(B * Hd);
        in->dh[k] = falloc(B * t * Hd), in->dc[k] = falloc(B * t * Hd), in->dact[k] = falloc(B * t * 4 * Hd);
        in->ddh[k] = falloc(B * t * Hd);
        long s1 = lstm_decoder_scratch_size(Bmax, t, Hd), s2 = lstm_encoder_scratch_size(Bmax, t, z);
        if (s1 > lstm_scr) lstm_scr = s1;
        if (s2 > lstm_scr) lstm_scr = s2;
    }
    in->lstm_scratch = falloc((size_t)lstm_scr);
    m->x_l_hat = falloc(BTl * (size_t)V);
    in->lse = falloc(BTl);
    in->ce_nthr = 1;
#ifdef _OPENMP
    in->ce_nthr = omp_get_max_threads();
#endif
    in->ce_dbias = falloc((size_t)in->ce_nthr * V);
    m->x_a_hat = falloc(B * Ta * c->d_a), in->dxa = falloc(B * Ta * c->d_a);
    m->x_v_hat = falloc(B * Tv * c->d_v), in->dxv = falloc(B * Tv * c->d_v);
    m->zl = falloc(B * c->zl_size), m->za = falloc(B * c->za_size), m->zv = falloc(B * c->zv_size);
    m->zy = falloc(B * zy);
    in->dz[0] = falloc(B * c->zl_size), in->dz[1] = falloc(B * c->za_size), in->dz[2] = falloc(B * c->zv_size);
    in->dzy = falloc(B * zy);
    in->cat4 = falloc(B * S), in->dcat4 = falloc(B * S);
    in->r1 = falloc(B * zy), in->r1a = falloc(B * zy), in->r1d = falloc(B * zy), in->r1mask = falloc(B * zy);
    in->dr1 = falloc(B * zy), in->dr1d = falloc(B * zy);
    m->y_hat = falloc(B), in->dyhat = falloc(B);
    for (int k = 0; k < 6; k++) club_acts_init(&in->cacts[k], &in->club[k], Bmax);
    for (int w = 0; w < 4; w++) {
        int z = lat_size(c, w);
        in->zst[w] = falloc(B * z), in->dzst[w] = falloc(B * z);
        in->zmean[w] = falloc(z), in->zrstd[w] = falloc(z);
    }
    return 0;
}

void mird_free(Mird *m) {
    MirdInternal *in = m->in;
    if (in) {
        if (m->cfg.text_encoder == MIRD_TEXT_BERT) {
            bert_acts_free(&in->acts_l);
            bert_free(&in->bert_l);
        }
        bert_acts_free(&in->acts_m);
        bert_free(&in->bert_m);
        wsa_acts_free(&in->wacts);
        for (int k = 0; k < 6; k++) club_acts_free(&in->cacts[k]);
        float *p[] = {in->ddl, in->ddm, in->dl_in, in->dl_mask, in->dpool_l, in->temb, in->dtemb, in->mask_f, in->dm_in,
                      in->dm_mask, in->dpool_m, in->dF, in->dE, in->lstm_scratch, in->lse, in->ce_dbias, in->dxa, in->dxv,
                      in->dz[0], in->dz[1], in->dz[2], in->dzy, in->cat4, in->dcat4, in->r1, in->r1a, in->r1d,
                      in->r1mask, in->dr1, in->dr1d, in->dyhat};
        for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) free(p[i]);
        for (int k = 0; k < 3; k++) {
            float *q[] = {in->eh[k], in->ec[k],   in->eact[k], in->edh[k], in->elast[k], in->edlast[k],
                          in->dzin[k], in->ddzin[k], in->dh[k], in->dc[k],  in->dact[k],  in->ddh[k]};
            for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) free(q[i]);
        }
        for (int w = 0; w < 4; w++) free(in->zst[w]), free(in->dzst[w]), free(in->zmean[w]), free(in->zrstd[w]);
        for (int w = 0; w < 4; w++) free(in->zg[w]), free(in->dzg[w]);
        free(in->zpack), free(in->zgpack), free(in->counts);
        free(in->types0);
        free(in);
    }
    free(m->x_l_hat), free(m->x_a_hat), free(m->x_v_hat);
    free(m->zl), free(m->za), free(m->zv), free(m->zy), free(m->y_hat);
    free(m->has_grad);
    if (m->opt.m) optim_free(&m->opt);
    if (m->est_opt.m) optim_free(&m->est_opt);
    params_free(&m->params);
    params_free(&m->est);
    memset(m, 0, sizeof(*m));
}

void mird_set_weight_decay(Mird *m, float wd) { m->opt.weight_decay = wd; }

void mird_reset_optim(Mird *m) {
    optim_reset(&m->opt);
    optim_reset(&m->est_opt);
    memset(m->has_grad, 0, (size_t)m->params.n);
}

int mird_check_batch(const Mird *m, const MirdBatch *b, char *err) {
    const MirdConfig *c = &m->cfg;
    int lo = m->in->dist ? 0 : 1; // a rank's share of a global batch may be empty
    if (b->B < lo || b->B > m->Bmax) return errf(err, "batch: %d rows, the model holds %d to %d", b->B, lo, m->Bmax);
    if (b->B_l < 0 || b->B_l > b->B) return errf(err, "batch: %d labeled rows out of %d", b->B_l, b->B);
    if (b->B_l > 0 && !b->labels) return errf(err, "batch: labels missing");
    if (b->Tl < 1 || b->Tl > m->Tl || b->Ta < 1 || b->Ta > m->Ta || b->Tv < 1 || b->Tv > m->Tv)
        return errf(err, "batch: lengths Tl=%d Ta=%d Tv=%d exceed the model's capacity %d/%d/%d", b->Tl, b->Ta,
                    b->Tv, m->Tl, m->Ta, m->Tv);
    char e2[MIRD_ERRLEN];
    if (b->B > 0 && bert_check_inputs(&c->bert, b->ids, b->types, b->B, b->Tl, e2)) return errf(err, "batch: %s", e2);
    long n = (long)b->B * b->Tl;
    for (long i = 0; i < n; i++)
        if (b->mask[i] != 0 && b->mask[i] != 1)
            return errf(err, "batch: attention_mask[%ld][%ld] = %d is not 0 or 1", i / b->Tl, i % b->Tl, b->mask[i]);
    return 0;
}

// ---------------------------------------------------------------- forward
static void take_last(float *last, const float *h, int B, int T, int H) {
    for (int b = 0; b < B; b++) memcpy(last + (size_t)b * H, h + ((size_t)b * T + T - 1) * H, (size_t)H * sizeof(float));
}

// Sum of squared differences (the MSE terms divide by the global element count).
static double sse_d(const float *a, const float *b, long n) {
    double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > 65536)
    for (long i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return s;
}

#define CE_CHUNK 2048

// Cross entropy of logits [N,V] vs targets, summed over rows; saves log-sum-exp per row.
static double ce_forward(const float *x, const int32_t *tg, float *lse, long N, int V) {
    double total = 0;
#pragma omp parallel for reduction(+ : total)
    for (long r = 0; r < N; r++) {
        // one pass over the row from memory: chunks of CE_CHUNK logits (in L1 after their max is
        // taken), a running max and a sum rescaled when the max grows (online log-sum-exp)
        const float *row = x + r * (size_t)V;
        float mx = -INFINITY, s = 0;
        for (int j0 = 0; j0 < V; j0 += CE_CHUNK) {
            int j1 = j0 + CE_CHUNK < V ? j0 + CE_CHUNK : V;
            float cm = mx;
#pragma omp simd reduction(max : cm)
            for (int j = j0; j < j1; j++) cm = row[j] > cm ? row[j] : cm;
            if (cm > mx) s *= vexpf(mx - cm), mx = cm;
            float cs = 0; // SIMD partial sums: relative error ~1e-6
#pragma omp simd reduction(+ : cs)
            for (int j = j0; j < j1; j++) cs += vexpf(row[j] - mx);
            s += cs;
        }
        double l = mx + log((double)s);
        lse[r] = (float)l;
        total += l - row[tg[r]];
    }
    return total;
}

static void latents_forward(Mird *m, const MirdBatch *b, Rng *rng) {
    if (b->B == 0) return; // a rank's empty share of a global batch (mird_set_comm)
    MirdInternal *in = m->in;
    const MirdConfig *c = &m->cfg;
    int B = b->B, Tl = b->Tl, H = c->bert.hidden_size;
    // z_L
    TIMER_BEGIN(t_l);
    if (c->text_encoder == MIRD_TEXT_BERT) {
        bert_forward(&in->bert_l, &in->acts_l, b->ids, in->types0, NULL, B, Tl, rng);
        dropout_forward(in->dl_in, in->dl_mask, in->acts_l.pooled, (long)B * H, c->dropout_l, rng);
        linear_forward(m->zl, in->dl_in, in->enc_l_fc.W, in->enc_l_fc.b, B, H, c->zl_size);
    } else {
        Cell *cl = &in->enc_cell[0];
        embedding_forward(in->temb, b->ids, in->emb_l, B * Tl, MIRD_TEXT_LSTM_EMB);
        lstm_encoder_forward(in->eh[0], in->ec[0], in->eact[0], in->temb, cl->Wih, cl->Whh, cl->bih, cl->bhh, B, Tl,
                             MIRD_TEXT_LSTM_EMB, c->zl_size);
        take_last(in->elast[0], in->eh[0], B, Tl, c->zl_size);
        linear_forward(m->zl, in->elast[0], in->enc_l_fc.W, in->enc_l_fc.b, B, c->zl_size, c->zl_size);
    }
    TIMER_END(t_l, "latents.text_encoder");
    TIMER_BEGIN(t_av);
    // z_A, z_V
    const float *X[3] = {NULL, b->acoustic, b->visual};
    const int T[3] = {Tl, b->Ta, b->Tv}, D[3] = {0, c->d_a, c->d_v};
    float *Z[3] = {m->zl, m->za, m->zv};
    for (int k = 1; k < 3; k++) {
        Cell *cl = &in->enc_cell[k];
        int z = zsize(c, k);
        lstm_encoder_forward(in->eh[k], in->ec[k], in->eact[k], X[k], cl->Wih, cl->Whh, cl->bih, cl->bhh, B, T[k],
                             D[k], z);
        take_last(in->elast[k], in->eh[k], B, T[k], z);
        linear_forward(Z[k], in->elast[k], in->enc_fc[k].W, in->enc_fc[k].b, B, z, z);
    }
    TIMER_END(t_av, "latents.lstm_encoders");
    // z_S: WSA-BERT
    TIMER_BEGIN(t_w);
    bert_embeddings_forward(&in->bert_m, &in->acts_m, b->ids, b->types, B, Tl, rng);
    wsa_forward(&in->wsa, &in->wacts, in->acts_m.emb_out, b->acoustic, b->visual, B, Tl, b->Ta, b->Tv, rng);
    TIMER_END(t_w, "latents.wsa_fusion");
    TIMER_BEGIN(t_m);
    bert_mask_from_int(in->mask_f, b->mask, (long)B * Tl);
    bert_stack_forward(&in->bert_m, &in->acts_m, in->wacts.out, in->mask_f, B, Tl, rng);
    bert_pooler_forward(&in->bert_m, &in->acts_m, B, Tl);
    dropout_forward(in->dm_in, in->dm_mask, in->acts_m.pooled, (long)B * H, c->dropout_multi, rng);
    linear_forward(m->zy, in->dm_in, in->mult_fc.W, in->mult_fc.b, B, H, c->zy_size);
    TIMER_END(t_m, "latents.wsa_bert");
}

static void regressor_forward(Mird *m, int B, Rng *rng) {
    if (B == 0) return;
    MirdInternal *in = m->in;
    const MirdConfig *c = &m->cfg;
    int zy = c->zy_size, S = zy + c->zl_size + c->za_size + c->zv_size;
    for (int b = 0; b < B; b++) {
        float *r = in->cat4 + (size_t)b * S;
        memcpy(r, m->zy + (size_t)b * zy, (size_t)zy * sizeof(float));
        memcpy(r + zy, m->zl + (size_t)b * c->zl_size, (size_t)c->zl_size * sizeof(float));
        memcpy(r + zy + c->zl_size, m->za + (size_t)b * c->za_size, (size_t)c->za_size * sizeof(float));
        memcpy(r + zy + c->zl_size + c->za_size, m->zv + (size_t)b * c->zv_size, (size_t)c->zv_size * sizeof(float));
    }
    linear_forward(in->r1, in->cat4, in->reg_fc1.W, in->reg_fc1.b, B, S, zy);
    relu_forward(in->r1a, in->r1, (long)B * zy);
    dropout_forward(in->r1d, in->r1mask, in->r1a, (long)B * zy, c->zy_to_y_dropout, rng);
    linear_forward(m->y_hat, in->r1d, in->reg_fc2.W, in->reg_fc2.b, B, zy, 1);
}

static void decoders_forward(Mird *m, const MirdBatch *b) {
    if (b->B == 0) return;
    MirdInternal *in = m->in;
    const MirdConfig *c = &m->cfg;
    int B = b->B, zy = c->zy_size;
    const int T[3] = {b->Tl, b->Ta, b->Tv};
    const float *Z[3] = {m->zl, m->za, m->zv};
    float *out[3] = {m->x_l_hat, m->x_a_hat, m->x_v_hat};
    for (int k = 0; k < 3; k++) {
        int z = zsize(c, k), Hd = zy + z;
        for (int r = 0; r < B; r++) {
            memcpy(in->dzin[k] + (size_t)r * Hd, m->zy + (size_t)r * zy, (size_t)zy * sizeof(float));
            memcpy(in->dzin[k] + (size_t)r * Hd + zy, Z[k] + (size_t)r * z, (size_t)z * sizeof(float));
        }
        Cell *cl = &in->dec_cell[k];
        TIMER_BEGIN(t_d);
        lstm_decoder_forward(in->dh[k], in->dc[k], in->dact[k], in->dzin[k], cl->Wih, cl->Whh, cl->bih, cl->bhh, B,
                             T[k], Hd);
        TIMER_END(t_d, "forward.decoder_lstms");
        TIMER_BEGIN(t_p);
        linear_forward(out[k], in->dh[k], in->dec_fc[k].W, in->dec_fc[k].b, B * T[k], Hd, in->dec_fc[k].out);
        if (k == 0) TIMER_END(t_p, "forward.vocab_projection_ce");
        else TIMER_END(t_p, "forward.decoder_projections");
    }
}

static const int CLUB_X[6] = {0, 0, 1, 3, 3, 3}, CLUB_Y[6] = {1, 2, 2, 0, 1, 2};
// What the CLUB estimators see of latent `which`: the latent (gathered over the ranks), or
// (club_std) its standardised copy.
static const float *club_in(const Mird *m, int which) { return m->club_std ? m->in->zst[which] : mird_club_src(m, which); }
// The latents of the last latents_forward as the estimators see them, over in->Bc rows: gathered
// from every rank (data parallel), then (club_std) standardised.
static void club_inputs_forward(Mird *m, const MirdBatch *b) {
    mird_dist_gather_latents(m, b);
    if (!m->club_std) return;
    for (int w = 0; w < 4; w++)
        standardize_forward(m->in->zst[w], m->in->zmean[w], m->in->zrstd[w], mird_club_src(m, w), m->in->Bc,
                            lat_size(&m->cfg, w), MIRD_CLUB_STD_EPS);
}

void mird_forward(Mird *m, const MirdBatch *b, MirdFwdLevel level, MirdObjective obj, Rng *rng) {
    MirdInternal *in = m->in;
    TIMER_BEGIN(t_f);
    latents_forward(m, b, rng);
    TIMER_END(t_f, "forward.latents");
    if (level == MIRD_FWD_LATENTS) return;
    regressor_forward(m, b->B, rng);
    if (level == MIRD_FWD_PREDICT) return;
    MirdLosses *L = &m->loss;
    memset(L, 0, sizeof(*L));
    const MirdConfig *c = &m->cfg;
    int B = b->B;
    // the means are (sums over the global batch) / (global counts): S over this rank's rows first
    double S[4] = {0, 0, 0, 0}; // squared errors of y_hat, cross entropy, squared errors of x_a_hat, x_v_hat
    for (int i = 0; i < b->B_l; i++) {
        double d = (double)m->y_hat[i] - b->labels[i];
        S[0] += d * d;
    }
    if (mird_obj_has_rec(obj)) {
        decoders_forward(m, b);
        TIMER_BEGIN(t_ce);
        S[1] = ce_forward(m->x_l_hat, b->ids, in->lse, (long)B * b->Tl, c->bert.vocab_size);
        TIMER_END(t_ce, "forward.vocab_projection_ce");
        S[2] = sse_d(m->x_a_hat, b->acoustic, (long)B * b->Ta * c->d_a);
        S[3] = sse_d(m->x_v_hat, b->visual, (long)B * b->Tv * c->d_v);
    }
    mird_dist_reduce_losses(m, b, S); // sums over the ranks; in->Bg, in->Blg
    if (in->Blg > 0) {
        L->pred = (float)(S[0] / in->Blg);
        L->has_pred = 1;
    }
    if (mird_obj_has_rec(obj)) {
        L->rec_l = (float)(S[1] / ((double)in->Bg * b->Tl));
        L->rec_a = (float)(S[2] / ((double)in->Bg * b->Ta * c->d_a));
        L->rec_v = (float)(S[3] / ((double)in->Bg * b->Tv * c->d_v));
    }
    TIMER_BEGIN(t_c);
    if (mird_obj_has_mi(obj)) {
        club_inputs_forward(m, b);
        for (int k = 0; k < 6; k++)
            L->mi[k] = club_estimate_forward(&in->club[k], &in->cacts[k], club_in(m, CLUB_X[k]), club_in(m, CLUB_Y[k]),
                                             in->Bc);
    }
    TIMER_END(t_c, "forward.club");
    double t = 0;
    switch (obj) {
    case MIRD_OBJ_LOG:
    case MIRD_OBJ_NO_REC:
    case MIRD_OBJ_NO_MI:
        if (L->has_pred) t += logf(L->pred);
        if (mird_obj_has_rec(obj)) t += (double)logf(L->rec_l) + logf(L->rec_a) + logf(L->rec_v);
        if (mird_obj_has_mi(obj))
            for (int k = 0; k < 6; k++) t += L->mi[k];
        break;
    case MIRD_OBJ_WEIGHTED:
        t = (L->has_pred ? L->pred : 0.0) + 0.1 * L->rec_l + 10.0 * L->rec_a + 100.0 * L->rec_v;
        break;
    case MIRD_OBJ_PRED:
        t = L->has_pred ? L->pred : 0.0;
        break;
    }
    L->total = (float)t;
}

// ---------------------------------------------------------------- backward
// Group g's gradient is complete: flag it, and (data parallel) start its sum over the ranks.
static void mark(Mird *m, int g) {
    for (int i = m->in->grp[g][0]; i < m->in->grp[g][1]; i++) m->has_grad[i] = 1;
    mird_dist_grad_ready(m, g);
}

void mird_backward(Mird *m, const MirdBatch *b, MirdObjective obj) {
    MirdInternal *in = m->in;
    const MirdConfig *c = &m->cfg;
    const MirdLosses *L = &m->loss;
    int B = b->B, Tl = b->Tl, H = c->bert.hidden_size, zy = c->zy_size, V = c->bert.vocab_size;
    TIMER_BEGIN(t_z);
    params_zero_grad(&m->params);
    TIMER_END(t_z, "backward.zero_grad");
    if (B == 0) { // a rank's empty share of a global batch: no gradient of its own, but it joins the
                  // sums of the groups the other ranks mark, in their order
        int any = L->has_pred || mird_obj_has_rec(obj) || mird_obj_has_mi(obj);
        if (L->has_pred) mark(m, G_REG);
        if (mird_obj_has_rec(obj)) mark(m, G_DEC);
        if (any) mark(m, G_MULT), mark(m, G_ENC_L), mark(m, G_ENC_AV);
        mird_dist_grad_wait(m);
        return;
    }
    float *dZ[4] = {in->dz[0], in->dz[1], in->dz[2], in->dzy};
    const int zs[4] = {c->zl_size, c->za_size, c->zv_size, zy};
    for (int k = 0; k < 4; k++) memset(dZ[k], 0, (size_t)B * zs[k] * sizeof(float));
    int logf_ = obj == MIRD_OBJ_LOG || obj == MIRD_OBJ_NO_REC || obj == MIRD_OBJ_NO_MI;
    // coefficients of each term's gradient in d total
    double c_pred = logf_ ? 1.0 / L->pred : 1.0;
    double c_rec[3] = {0, 0, 0};
    if (mird_obj_has_rec(obj)) {
        if (logf_) c_rec[0] = 1.0 / L->rec_l, c_rec[1] = 1.0 / L->rec_a, c_rec[2] = 1.0 / L->rec_v;
        else c_rec[0] = 0.1, c_rec[1] = 10.0, c_rec[2] = 100.0;
    }
    // ---- prediction term: regressor
    if (L->has_pred) {
        int S = zy + c->zl_size + c->za_size + c->zv_size;
        memset(in->dyhat, 0, (size_t)B * sizeof(float));
        for (int i = 0; i < b->B_l; i++)
            in->dyhat[i] = (float)(c_pred * 2.0 * ((double)m->y_hat[i] - b->labels[i]) / in->Blg);
        memset(in->dr1d, 0, (size_t)B * zy * sizeof(float));
        linear_backward(in->dr1d, in->reg_fc2.gW, in->reg_fc2.gb, in->dyhat, in->r1d, in->reg_fc2.W, B, zy, 1);
        memset(in->dr1, 0, (size_t)B * zy * sizeof(float));
        dropout_backward(in->dr1, in->dr1d, in->r1mask, (long)B * zy); // now d r1a
        for (long i = 0; i < (long)B * zy; i++)
            if (!(in->r1a[i] > 0)) in->dr1[i] = 0;
        memset(in->dcat4, 0, (size_t)B * S * sizeof(float));
        linear_backward(in->dcat4, in->reg_fc1.gW, in->reg_fc1.gb, in->dr1, in->cat4, in->reg_fc1.W, B, S, zy);
        for (int r = 0; r < B; r++) {
            const float *d = in->dcat4 + (size_t)r * S;
            int off = 0;
            const int order[4] = {3, 0, 1, 2}; // [zy; zl; za; zv]
            for (int q = 0; q < 4; q++) {
                int k = order[q];
                float *dst = dZ[k] + (size_t)r * zs[k];
                for (int j = 0; j < zs[k]; j++) dst[j] += d[off + j];
                off += zs[k];
            }
        }
        mark(m, G_REG);
    }
    // ---- reconstruction terms: decoders
    if (mird_obj_has_rec(obj)) {
        const int T[3] = {Tl, b->Ta, b->Tv};
        // d x_l_hat = c / (B Tl) * (softmax - onehot), written over the logits
        TIMER_BEGIN(t_v);
        long NL = (long)B * Tl;
        float sl = (float)(c_rec[0] / ((double)in->Bg * Tl)); // the mean is over the global batch
        // the vocabulary bias gradient (column sums of this gradient) in the same pass: one partial
        // row per thread, added up afterwards (linear_backward then skips it)
        int nthr = in->ce_nthr;
#pragma omp parallel num_threads(nthr)
        {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            float *acc = in->ce_dbias + (size_t)t * V;
            memset(acc, 0, (size_t)V * sizeof(float));
#pragma omp for schedule(static)
            for (long r = 0; r < NL; r++) {
                float *row = m->x_l_hat + r * (size_t)V;
                float l = in->lse[r];
#pragma omp simd
                for (int j = 0; j < V; j++) row[j] = sl * vexpf(row[j] - l);
                row[b->ids[r]] -= sl;
#pragma omp simd
                for (int j = 0; j < V; j++) acc[j] += row[j];
            }
        }
        float *gb = in->dec_fc[0].gb;
        for (int t = 0; t < nthr; t++) {
            const float *acc = in->ce_dbias + (size_t)t * V;
#pragma omp simd
            for (int j = 0; j < V; j++) gb[j] += acc[j];
        }
        long na = (long)B * b->Ta * c->d_a, nv = (long)B * b->Tv * c->d_v;
        double sa = c_rec[1] * 2.0 / ((double)in->Bg * b->Ta * c->d_a), sv = c_rec[2] * 2.0 / ((double)in->Bg * b->Tv * c->d_v);
        for (long i = 0; i < na; i++) in->dxa[i] = (float)(sa * ((double)m->x_a_hat[i] - b->acoustic[i]));
        for (long i = 0; i < nv; i++) in->dxv[i] = (float)(sv * ((double)m->x_v_hat[i] - b->visual[i]));
        const float *dx[3] = {m->x_l_hat, in->dxa, in->dxv};
        for (int k = 0; k < 3; k++) {
            int z = zsize(c, k), Hd = zy + z;
            Cell *cl = &in->dec_cell[k];
            if (k) TIMER_RESTART(t_v);
            memset(in->ddh[k], 0, (size_t)B * T[k] * Hd * sizeof(float));
            linear_backward(in->ddh[k], in->dec_fc[k].gW, k ? in->dec_fc[k].gb : NULL, dx[k], in->dh[k],
                            in->dec_fc[k].W, B * T[k], Hd, in->dec_fc[k].out); // k = 0: bias done above
            if (k == 0) TIMER_END(t_v, "backward.vocab_projection_ce");
            else TIMER_END(t_v, "backward.decoder_projections");
            TIMER_BEGIN(t_d);
            memset(in->ddzin[k], 0, (size_t)B * Hd * sizeof(float));
            lstm_decoder_backward(in->ddzin[k], cl->gWih, cl->gWhh, cl->gbih, cl->gbhh, in->lstm_scratch, in->ddh[k],
                                  in->dzin[k], in->dh[k], in->dc[k], in->dact[k], cl->Wih, cl->Whh, B, T[k], Hd);
            for (int r = 0; r < B; r++) {
                const float *d = in->ddzin[k] + (size_t)r * Hd;
                for (int j = 0; j < zy; j++) in->dzy[(size_t)r * zy + j] += d[j];
                for (int j = 0; j < z; j++) dZ[k][(size_t)r * z + j] += d[zy + j];
            }
            TIMER_END(t_d, "backward.decoder_lstms");
        }
        mark(m, G_DEC);
    }
    // ---- MI terms: gradients into the latents only
    TIMER_BEGIN(t_c);
    if (mird_obj_has_mi(obj)) {
        // gradients w.r.t. what the estimators saw, over the Bc rows: the standardised copies
        // (club_std), the gathered latents (data parallel), or the latents themselves
        int Bc = in->Bc;
        float *const *dS = in->dist ? in->dzg : dZ;
        float *const *dC = m->club_std ? in->dzst : dS;
        for (int w = 0; w < 4; w++) {
            if (m->club_std) memset(in->dzst[w], 0, (size_t)Bc * lat_size(&m->cfg, w) * sizeof(float));
            if (in->dist) memset(in->dzg[w], 0, (size_t)Bc * lat_size(&m->cfg, w) * sizeof(float));
        }
        for (int k = 0; k < 6; k++)
            club_estimate_backward(&in->club[k], &in->cacts[k], dC[CLUB_X[k]], dC[CLUB_Y[k]], club_in(m, CLUB_X[k]),
                                   club_in(m, CLUB_Y[k]), Bc, 1.0f, 0);
        if (m->club_std)
            for (int w = 0; w < 4; w++)
                standardize_backward(dS[w], in->dzst[w], in->zst[w], in->zrstd[w], Bc, lat_size(&m->cfg, w));
        mird_dist_take_grads(m, dZ, B); // this rank's rows of the gathered gradients
    }
    TIMER_END(t_c, "backward.club");
    int any = L->has_pred || mird_obj_has_rec(obj) || mird_obj_has_mi(obj);
    if (!any) return; // nothing marked: no gradient sums outstanding
    // ---- z_S: mult_encoder.encoder <- dropout <- pooler <- stack <- WSA <- embeddings
    TIMER_BEGIN(t_m);
    memset(in->ddm, 0, (size_t)B * H * sizeof(float));
    linear_backward(in->ddm, in->mult_fc.gW, in->mult_fc.gb, in->dzy, in->dm_in, in->mult_fc.W, B, H, zy);
    memset(in->dpool_m, 0, (size_t)B * H * sizeof(float));
    dropout_backward(in->dpool_m, in->ddm, in->dm_mask, (long)B * H);
    BertActs *am = &in->acts_m;
    memset(am->dseq, 0, (size_t)B * Tl * H * sizeof(float));
    bert_pooler_backward(&in->bert_m, am, am->dseq, in->dpool_m, B, Tl);
    memset(in->dF, 0, (size_t)B * Tl * H * sizeof(float));
    bert_stack_backward(&in->bert_m, am, in->dF, am->dseq, in->wacts.out, B, Tl);
    TIMER_END(t_m, "backward.wsa_bert");
    TIMER_BEGIN(t_w);
    memset(in->dE, 0, (size_t)B * Tl * H * sizeof(float));
    wsa_backward(&in->wsa, &in->wacts, in->dE, in->dF, am->emb_out, b->acoustic, b->visual, B, Tl, b->Ta, b->Tv);
    bert_embeddings_backward(&in->bert_m, am, in->dE, b->ids, b->types, B, Tl);
    TIMER_END(t_w, "backward.wsa_fusion");
    mark(m, G_MULT);
    // ---- z_L
    TIMER_BEGIN(t_l);
    if (c->text_encoder == MIRD_TEXT_BERT) {
        memset(in->ddl, 0, (size_t)B * H * sizeof(float));
        linear_backward(in->ddl, in->enc_l_fc.gW, in->enc_l_fc.gb, in->dz[0], in->dl_in, in->enc_l_fc.W, B, H,
                        c->zl_size);
        memset(in->dpool_l, 0, (size_t)B * H * sizeof(float));
        dropout_backward(in->dpool_l, in->ddl, in->dl_mask, (long)B * H);
        bert_backward(&in->bert_l, &in->acts_l, NULL, in->dpool_l, b->ids, in->types0, B, Tl);
    }
    TIMER_END(t_l, "backward.text_encoder");
    TIMER_BEGIN(t_av);
    // ---- LSTM encoders (k = 0 only for the LSTM text encoder)
    const int T[3] = {Tl, b->Ta, b->Tv}, D[3] = {MIRD_TEXT_LSTM_EMB, c->d_a, c->d_v};
    const float *X[3] = {in->temb, b->acoustic, b->visual};
    for (int k = c->text_encoder == MIRD_TEXT_BERT ? 1 : 0; k < 3; k++) {
        int z = zsize(c, k);
        Lin *fc = k == 0 ? &in->enc_l_fc : &in->enc_fc[k];
        Cell *cl = &in->enc_cell[k];
        memset(in->edlast[k], 0, (size_t)B * z * sizeof(float));
        linear_backward(in->edlast[k], fc->gW, fc->gb, in->dz[k], in->elast[k], fc->W, B, z, z);
        memset(in->edh[k], 0, (size_t)B * T[k] * z * sizeof(float));
        for (int r = 0; r < B; r++)
            memcpy(in->edh[k] + ((size_t)r * T[k] + T[k] - 1) * z, in->edlast[k] + (size_t)r * z,
                   (size_t)z * sizeof(float));
        float *dx = NULL;
        if (k == 0) {
            dx = in->dtemb;
            memset(dx, 0, (size_t)B * Tl * MIRD_TEXT_LSTM_EMB * sizeof(float));
        }
        lstm_encoder_backward(dx, cl->gWih, cl->gWhh, cl->gbih, cl->gbhh, in->lstm_scratch, in->edh[k], X[k],
                              in->eh[k], in->ec[k], in->eact[k], cl->Wih, cl->Whh, B, T[k], D[k], z);
        if (k == 0) embedding_backward(in->gemb_l, in->dtemb, b->ids, B * Tl, MIRD_TEXT_LSTM_EMB, -1);
    }
    TIMER_END(t_av, "backward.lstm_encoders");
    mark(m, G_ENC_L);
    mark(m, G_ENC_AV);
    mird_dist_grad_wait(m); // the sums over the ranks (data parallel) before anyone steps
}

// ---------------------------------------------------------------- estimator steps and the training step
float mird_estimator_steps(Mird *m, const MirdBatch *b, int K, float mi_lr, MirdClubMode mode, Rng *rng) {
    MirdInternal *in = m->in;
    float last = 0;
    for (int s = 0; s < K; s++) {
        if (s == 0 || mode == MIRD_CLUB_OFFICIAL) {
            TIMER_BEGIN(t_l);
            latents_forward(m, b, rng);
            club_inputs_forward(m, b);
            TIMER_END(t_l, "estimator.latents");
        }
        TIMER_BEGIN(t_c);
        params_zero_grad(&m->est);
        double tot = 0;
        for (int k = 0; k < 6; k++) {
            const float *x = club_in(m, CLUB_X[k]), *y = club_in(m, CLUB_Y[k]);
            tot += club_loss_forward(&in->club[k], &in->cacts[k], x, y, in->Bc);
            club_loss_backward(&in->club[k], &in->cacts[k], x, y, in->Bc, 1.0f);
        }
        optim_step(&m->est_opt, &m->est, mi_lr, NULL);
        TIMER_END(t_c, "estimator.club_adam");
        last = (float)tot;
    }
    m->loss.est_loss = last;
    return last;
}

void mird_train_step(Mird *m, const MirdBatch *b, const MirdStepOpts *o, Rng *rng) {
    TIMER_BEGIN(t_f);
    mird_forward(m, b, MIRD_FWD_FULL, o->objective, rng);
    TIMER_END(t_f, "forward");
    TIMER_BEGIN(t_b);
    mird_backward(m, b, o->objective);
    TIMER_END(t_b, "backward");
    TIMER_BEGIN(t_o);
    m->opt.weight_decay = o->weight_decay;
    optim_step(&m->opt, &m->params, o->lr, m->has_grad);
    TIMER_END(t_o, "optimizer.adamw");
    TIMER_BEGIN(t_e);
    if (mird_obj_has_mi(o->objective) && o->club_steps > 0)
        mird_estimator_steps(m, b, o->club_steps, o->mi_lr, o->club_mode, rng);
    TIMER_END(t_e, "estimator");
}
