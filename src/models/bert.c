// bert.c: BERT parameter registration / binding / init, activations, input checks.
// The forward and backward passes are in bert_pass.c.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "models/bert.h"

// The per-layer tensor names (after "encoder.layer.{i}.") in BertLayerW field order.
static const char *LAYER_NAMES[16] = {
    "attention.self.query.weight",     "attention.self.query.bias",     "attention.self.key.weight",
    "attention.self.key.bias",         "attention.self.value.weight",   "attention.self.value.bias",
    "attention.output.dense.weight",   "attention.output.dense.bias",   "attention.output.LayerNorm.weight",
    "attention.output.LayerNorm.bias", "intermediate.dense.weight",     "intermediate.dense.bias",
    "output.dense.weight",             "output.dense.bias",             "output.LayerNorm.weight",
    "output.LayerNorm.bias"};

static float **layer_slot(BertLayerW *lw, int j) {
    float **s[16] = {&lw->q_w,  &lw->q_b,   &lw->k_w,  &lw->k_b,  &lw->v_w,    &lw->v_b,    &lw->ao_w,  &lw->ao_b,
                     &lw->ln1_w, &lw->ln1_b, &lw->fc_w, &lw->fc_b, &lw->proj_w, &lw->proj_b, &lw->ln2_w, &lw->ln2_b};
    return s[j];
}

static void layer_shape(const BertConfig *c, int j, int *ndim, int64_t *d0, int64_t *d1) {
    int64_t H = c->hidden_size, I = c->intermediate_size;
    *d1 = 0;
    switch (j) {
    case 0: case 2: case 4: case 6: *ndim = 2, *d0 = H, *d1 = H; break;
    case 10: *ndim = 2, *d0 = I, *d1 = H; break;
    case 12: *ndim = 2, *d0 = H, *d1 = I; break;
    case 11: *ndim = 1, *d0 = I; break;
    default: *ndim = 1, *d0 = H; break;
    }
}

static const char *full_name(char *buf, const Bert *m, const char *suffix) {
    int n = snprintf(buf, PARAM_NAME_MAX, "%s%s", m->prefix, suffix);
    if (n >= PARAM_NAME_MAX) {
        fprintf(stderr, "mird: internal error: parameter name too long: %s%s\n", m->prefix, suffix);
        abort();
    }
    return buf;
}

void bert_register(Bert *m, ParamSet *ps, const BertConfig *cfg, const char *prefix) {
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    if (strlen(prefix) >= sizeof(m->prefix)) {
        fprintf(stderr, "mird: internal error: bert prefix too long: %s\n", prefix);
        abort();
    }
    strcpy(m->prefix, prefix);
    const BertConfig *c = cfg;
    int64_t H = c->hidden_size;
    char name[PARAM_NAME_MAX], sfx[PARAM_NAME_MAX];
    params_add2(ps, full_name(name, m, "embeddings.word_embeddings.weight"), c->vocab_size, H);
    params_add2(ps, full_name(name, m, "embeddings.position_embeddings.weight"), c->max_position_embeddings, H);
    params_add2(ps, full_name(name, m, "embeddings.token_type_embeddings.weight"), c->type_vocab_size, H);
    params_add1(ps, full_name(name, m, "embeddings.LayerNorm.weight"), H);
    params_add1(ps, full_name(name, m, "embeddings.LayerNorm.bias"), H);
    for (int l = 0; l < c->num_hidden_layers; l++)
        for (int j = 0; j < 16; j++) {
            int nd;
            int64_t d0, d1;
            layer_shape(c, j, &nd, &d0, &d1);
            snprintf(sfx, sizeof(sfx), "encoder.layer.%d.%s", l, LAYER_NAMES[j]);
            if (nd == 2)
                params_add2(ps, full_name(name, m, sfx), d0, d1);
            else
                params_add1(ps, full_name(name, m, sfx), d0);
        }
    params_add2(ps, full_name(name, m, "pooler.dense.weight"), H, H);
    params_add1(ps, full_name(name, m, "pooler.dense.bias"), H);
    m->w.layer = xcalloc((size_t)c->num_hidden_layers, sizeof(BertLayerW));
    m->g.layer = xcalloc((size_t)c->num_hidden_layers, sizeof(BertLayerW));
}

void bert_bind(Bert *m, const ParamSet *ps) {
    char name[PARAM_NAME_MAX], sfx[PARAM_NAME_MAX];
    struct {
        const char *s;
        float **w, **g;
    } top[] = {{"embeddings.word_embeddings.weight", &m->w.word, &m->g.word},
               {"embeddings.position_embeddings.weight", &m->w.pos, &m->g.pos},
               {"embeddings.token_type_embeddings.weight", &m->w.type, &m->g.type},
               {"embeddings.LayerNorm.weight", &m->w.ln_w, &m->g.ln_w},
               {"embeddings.LayerNorm.bias", &m->w.ln_b, &m->g.ln_b},
               {"pooler.dense.weight", &m->w.pool_w, &m->g.pool_w},
               {"pooler.dense.bias", &m->w.pool_b, &m->g.pool_b}};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        *top[i].w = params_data(ps, full_name(name, m, top[i].s));
        *top[i].g = params_grad(ps, name);
    }
    for (int l = 0; l < m->cfg.num_hidden_layers; l++)
        for (int j = 0; j < 16; j++) {
            snprintf(sfx, sizeof(sfx), "encoder.layer.%d.%s", l, LAYER_NAMES[j]);
            *layer_slot(&m->w.layer[l], j) = params_data(ps, full_name(name, m, sfx));
            *layer_slot(&m->g.layer[l], j) = params_grad(ps, name);
        }
}

static void fill_normal_std(float *x, long n, float std, Rng *r) {
    for (long i = 0; i < n; i++) x[i] = std * rng_normal(r);
}
static void fill_const(float *x, long n, float v) {
    for (long i = 0; i < n; i++) x[i] = v;
}

void bert_init_weights(Bert *m, Rng *rng) {
    const BertConfig *c = &m->cfg;
    long H = c->hidden_size, I = c->intermediate_size;
    float s = c->initializer_range;
    fill_normal_std(m->w.word, (long)c->vocab_size * H, s, rng);
    fill_normal_std(m->w.pos, (long)c->max_position_embeddings * H, s, rng);
    fill_normal_std(m->w.type, (long)c->type_vocab_size * H, s, rng);
    fill_const(m->w.ln_w, H, 1), fill_const(m->w.ln_b, H, 0);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        BertLayerW *w = &m->w.layer[l];
        for (int j = 0; j < 16; j++) {
            int nd;
            int64_t d0, d1;
            layer_shape(c, j, &nd, &d0, &d1);
            float *p = *layer_slot(w, j);
            if (j == 8 || j == 14)
                fill_const(p, d0, 1); // LayerNorm weights
            else if (nd == 1)
                fill_const(p, d0, 0); // biases
            else
                fill_normal_std(p, (long)(d0 * d1), s, rng);
        }
    }
    (void)I;
    fill_normal_std(m->w.pool_w, H * H, s, rng);
    fill_const(m->w.pool_b, H, 0);
}

void bert_free(Bert *m) {
    free(m->w.layer);
    free(m->g.layer);
    m->w.layer = m->g.layer = NULL;
}

// ---- activations

int bert_acts_init(BertActs *a, const BertConfig *c, int Bmax, int Tmax, char *err) {
    memset(a, 0, sizeof(*a));
    if (Bmax <= 0 || Tmax <= 0) return errf(err, "bert: batch %d x %d tokens must be positive", Bmax, Tmax);
    if (Tmax > c->max_position_embeddings)
        return errf(err, "bert: sequence length %d exceeds max_position_embeddings %d", Tmax,
                    c->max_position_embeddings);
    a->Bmax = Bmax, a->Tmax = Tmax, a->L = c->num_hidden_layers, a->H = c->hidden_size;
    a->I = c->intermediate_size, a->NH = c->num_attention_heads;
    size_t BT = (size_t)Bmax * Tmax, L = a->L, H = a->H, I = a->I, ATT = (size_t)Bmax * a->NH * Tmax * Tmax;
    struct {
        float **p;
        size_t n;
    } bufs[] = {
        {&a->emb_sum, BT * H},   {&a->emb_mean, BT},        {&a->emb_rstd, BT},        {&a->emb_ln, BT * H},
        {&a->emb_out, BT * H},   {&a->mask_add, BT},        {&a->q, L * BT * H},       {&a->k, L * BT * H},
        {&a->v, L * BT * H},     {&a->probs, L * ATT},      {&a->ctx, L * BT * H},     {&a->res1, L * BT * H},
        {&a->ln1_mean, L * BT},  {&a->ln1_rstd, L * BT},    {&a->ln1, L * BT * H},     {&a->fc, L * BT * I},
        {&a->res2, L * BT * H},  {&a->ln2_mean, L * BT},    {&a->ln2_rstd, L * BT},    {&a->ln2, L * BT * H},
        {&a->xpack, BT * H},     {&a->pool_in, (size_t)Bmax * H}, {&a->pool_pre, (size_t)Bmax * H},
        {&a->pooled, (size_t)Bmax * H}, {&a->dseq, BT * H}, {&a->demb, BT * H},
        {&a->d_h[0], BT * H},    {&a->d_h[1], BT * H},      {&a->d_h[2], BT * H},      {&a->d_h[3], BT * H},
        {&a->d_h[4], BT * H},    {&a->d_h[5], BT * H},      {&a->d_h[6], BT * H},      {&a->d_i[0], BT * I},
        {&a->d_i[1], BT * I},    {&a->d_att, ATT},
    };
    size_t nb = sizeof(bufs) / sizeof(bufs[0]), total = 0;
    for (size_t i = 0; i < nb; i++) total += (bufs[i].n + 15) & ~(size_t)15; // keep every buffer 64-byte aligned
    a->block_ = falloc(total);
    float *p = a->block_;
    for (size_t i = 0; i < nb; i++) {
        *bufs[i].p = p;
        p += (bufs[i].n + 15) & ~(size_t)15;
    }
    a->seq = a->ln2 + (L - 1) * BT * H;
    a->seq_off = xcalloc((size_t)Bmax + 1, sizeof(int));
    a->rows = xcalloc(BT, sizeof(int));
    a->attn_drop = xcalloc(L ? L : 1, sizeof(DropKey));
    a->ao_drop = xcalloc(L ? L : 1, sizeof(DropKey));
    a->proj_drop = xcalloc(L ? L : 1, sizeof(DropKey));
    return 0;
}

void bert_acts_free(BertActs *a) {
    free(a->block_);
    free(a->seq_off), free(a->rows), free(a->attn_drop), free(a->ao_drop), free(a->proj_drop);
    memset(a, 0, sizeof(*a));
}

int bert_check_inputs(const BertConfig *c, const int32_t *ids, const int32_t *types, int B, int T, char *err) {
    if (B <= 0 || T <= 0) return errf(err, "bert: batch %d x %d tokens must be positive", B, T);
    if (T > c->max_position_embeddings)
        return errf(err, "bert: sequence length %d exceeds max_position_embeddings %d", T, c->max_position_embeddings);
    for (long i = 0; i < (long)B * T; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return errf(err, "bert: token id %d at [%ld, %ld] outside the vocabulary (size %d)", (int)ids[i], i / T,
                        i % T, c->vocab_size);
        if (types && (types[i] < 0 || types[i] >= c->type_vocab_size))
            return errf(err, "bert: token type %d at [%ld, %ld] outside [0, %d)", (int)types[i], i / T, i % T,
                        c->type_vocab_size);
    }
    return 0;
}

void bert_mask_from_int(float *out, const int32_t *mask, long n) {
    for (long i = 0; i < n; i++) out[i] = (float)mask[i];
}
