// init.c: the official initialisation of a MIRD model (MIRD.md "Initialisation"):
//  - both BERTs and every other Linear / Embedding: N(0, initializer_range = 0.02) weights, zero
//    biases, LayerNorm weight 1 and bias 0 (Hugging Face's _init_weights applied to the whole model;
//    the [PAD] row is initialised like the others);
//  - LSTMCells keep PyTorch's default: every tensor U(-1/sqrt(h), 1/sqrt(h));
//  - the CLUB networks keep PyTorch's default Linear init (U(-1/sqrt(in), 1/sqrt(in)) for weight and bias).
// Deterministic in the seed (RNG_STREAM_INIT), drawn in registration order.
#include <math.h>
#include <string.h>

#include "models/mird_internal.h"

static void normal_fill(float *p, long n, float std, Rng *r) {
    for (long i = 0; i < n; i++) p[i] = std * rng_normal(r);
}
static void lin_init(Lin *l, float std, Rng *r) {
    normal_fill(l->W, (long)l->in * l->out, std, r);
    memset(l->b, 0, (size_t)l->out * sizeof(float));
}
static void cell_init(Cell *c, Rng *r) {
    float k = 1.0f / sqrtf((float)c->H);
    long n4 = 4L * c->H;
    float *t[4] = {c->Wih, c->Whh, c->bih, c->bhh};
    long n[4] = {n4 * c->D, n4 * c->H, n4, n4};
    for (int i = 0; i < 4; i++)
        for (long j = 0; j < n[i]; j++) t[i][j] = (2.0f * rng_uniform(r) - 1.0f) * k;
}

void mird_init_weights(Mird *m, uint64_t seed) {
    MirdInternal *in = m->in;
    const MirdConfig *c = &m->cfg;
    float std = c->bert.initializer_range;
    Rng r;
    rng_seed(&r, seed, RNG_STREAM_INIT);
    if (c->text_encoder == MIRD_TEXT_BERT) {
        bert_init_weights(&in->bert_l, &r);
    } else {
        normal_fill(in->emb_l, (long)c->bert.vocab_size * MIRD_TEXT_LSTM_EMB, std, &r);
        cell_init(&in->enc_cell[0], &r);
    }
    lin_init(&in->enc_l_fc, std, &r);
    for (int k = 1; k < 3; k++) cell_init(&in->enc_cell[k], &r), lin_init(&in->enc_fc[k], std, &r);
    for (int k = 0; k < 3; k++) cell_init(&in->dec_cell[k], &r), lin_init(&in->dec_fc[k], std, &r);
    bert_init_weights(&in->bert_m, &r);
    Wsa *w = &in->wsa;
    int H = w->H;
    float *W[6] = {w->w.Wv, w->w.Wa, w->w.Wv_, w->w.Wa_, w->w.Whv, w->w.Wha};
    float *b[6] = {w->w.bv, w->w.ba, w->w.bv_, w->w.ba_, w->w.bhv, w->w.bha};
    const int ins[6] = {w->d_v, w->d_a, w->d_v, w->d_a, w->d_v + H, w->d_a + H};
    for (int i = 0; i < 6; i++) {
        normal_fill(W[i], (long)H * ins[i], std, &r);
        memset(b[i], 0, (size_t)H * sizeof(float));
    }
    for (int h = 0; h < H; h++) w->w.ln_w[h] = 1.0f, w->w.ln_b[h] = 0.0f;
    lin_init(&in->mult_fc, std, &r);
    lin_init(&in->reg_fc1, std, &r);
    lin_init(&in->reg_fc2, std, &r);
    for (int k = 0; k < 6; k++) club_init_default(&in->club[k], &r);
}
