// test_bert_cls.c: BERT's pooled-output-only mode (BertActs.cls_only: the last layer computes its
// queries, attention, output dense, feed-forward and LayerNorms for the [CLS] rows only) and its
// padding-skipping mode (BertActs.varlen: masked tokens not computed at all) against the full
// computation: identical pooled output and identical gradients of every parameter and of the stack
// input, eval mode, with and without the attention mask, 1 and 2 layers; and, in train mode
// (dropout masks fixed by reseeding), finite differences of the cls_only and varlen paths.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/params.h"
#include "models/bert.h"
#include "gradtest.h"
#include "testutil.h"

typedef struct {
    BertConfig cfg;
    ParamSet ps;
    Bert m;
    BertActs a;
    int B, T, masked;
    int32_t ids[64], types[64];
    float mask[64];
    float *dpool, *dx, *x;
    uint64_t seed; // train mode: dropout stream reseeded per forward (0 = eval)
} Cls;

static void cls_setup(Cls *s, int L, int masked) {
    char err[MIRD_ERRLEN];
    memset(s, 0, sizeof(*s));
    bert_config_default(&s->cfg);
    s->cfg.vocab_size = 23, s->cfg.hidden_size = 12, s->cfg.num_hidden_layers = L;
    s->cfg.num_attention_heads = 3, s->cfg.intermediate_size = 20, s->cfg.max_position_embeddings = 10;
    s->B = 3, s->T = 7, s->masked = masked;
    params_init(&s->ps);
    bert_register(&s->m, &s->ps, &s->cfg, "");
    params_alloc(&s->ps);
    bert_bind(&s->m, &s->ps);
    Rng r;
    rng_seed(&r, 11 + L + 2 * masked, 0);
    fill_normal(s->ps.data, (long)s->ps.total, 0.3f, &r);
    for (int i = 0; i < s->ps.n; i++) // LayerNorm weights near 1
        if (strstr(s->ps.p[i].name, "LayerNorm.weight"))
            for (size_t j = 0; j < s->ps.p[i].numel; j++) s->ps.data[s->ps.p[i].offset + j] += 1.0f;
    for (int i = 0; i < s->B * s->T; i++) {
        s->ids[i] = 1 + (int)rng_below(&r, (uint32_t)s->cfg.vocab_size - 1);
        s->types[i] = (int)rng_below(&r, 2);
        s->mask[i] = (i % s->T) < s->T - 1 - (i / s->T) ? 1.0f : 0.0f; // rows end with 1, 2, 3 pads
    }
    if (bert_acts_init(&s->a, &s->cfg, s->B, s->T, err)) fail_msg("%s", err);
    s->dpool = falloc((size_t)s->B * s->cfg.hidden_size);
    fill_normal(s->dpool, (long)s->B * s->cfg.hidden_size, 1.0f, &r);
    s->x = falloc((size_t)s->B * s->T * s->cfg.hidden_size);
    s->dx = falloc((size_t)s->B * s->T * s->cfg.hidden_size);
    bert_embeddings_forward(&s->m, &s->a, s->ids, s->types, s->B, s->T, NULL); // the stack input x
    memcpy(s->x, s->a.emb_out, sizeof(float) * (size_t)s->B * s->T * s->cfg.hidden_size);
}

static void cls_free(Cls *s) {
    free(s->dpool), free(s->x), free(s->dx);
    bert_acts_free(&s->a);
    bert_free(&s->m);
    params_free(&s->ps);
}

// stack (on x) -> pooler; returns dot(pooled, dpool)
static double cls_forward(Cls *s) {
    Rng r, *rp = NULL;
    if (s->seed) rng_seed(&r, s->seed, RNG_STREAM_DROPOUT), rp = &r;
    int B = s->B, T = s->T, H = s->cfg.hidden_size;
    bert_stack_forward(&s->m, &s->a, s->x, s->masked ? s->mask : NULL, B, T, rp);
    bert_pooler_forward(&s->m, &s->a, B, T);
    return dot_d(s->a.pooled, s->dpool, (long)B * H);
}

static void cls_backward(Cls *s) {
    int B = s->B, T = s->T, H = s->cfg.hidden_size;
    params_zero_grad(&s->ps);
    memset(s->a.dseq, 0, sizeof(float) * (size_t)B * T * H);
    bert_pooler_backward(&s->m, &s->a, s->a.dseq, s->dpool, B, T);
    memset(s->dx, 0, sizeof(float) * (size_t)B * T * H);
    bert_stack_backward(&s->m, &s->a, s->dx, s->a.dseq, s->x, B, T);
}

static void check_same(int L, int masked, int varlen) {
    Cls s;
    cls_setup(&s, L, masked);
    int B = s.B, T = s.T, H = s.cfg.hidden_size;
    cls_forward(&s);
    cls_backward(&s);
    float *pooled = gt_copy(s.a.pooled, (long)B * H), *grad = gt_copy(s.ps.grad, (long)s.ps.total);
    float *dx = gt_copy(s.dx, (long)B * T * H);
    s.a.cls_only = 1, s.a.varlen = varlen;
    cls_forward(&s);
    assert_true(s.a.cls_last);
    assert_true(s.a.packed == (varlen && masked));
    if (s.a.packed) assert_int_equal(s.a.nrows, B * T - (1 + 2 + 3)); // the pads of cls_setup
    cls_backward(&s);
    double ep = rel_err_scale(s.a.pooled, pooled, (long)B * H, 1e-6);
    double ex = rel_err_scale(s.dx, dx, (long)B * T * H, 1e-6);
    if (ep > 1e-6 || ex > 1e-5)
        fail_msg("L=%d masked=%d varlen=%d: pooled err %.3g, dx err %.3g", L, masked, varlen, ep, ex);
    for (long i = 0; i < (long)B * T; i++) // the pads' input gradient is exactly 0 in both paths
        if (masked && s.mask[i] == 0.0f)
            for (int j = 0; j < H; j++) assert_true(s.dx[i * H + j] == 0.0f && dx[i * H + j] == 0.0f);
    double gmax = 0; // model-wide floor: the key biases' gradient is zero up to rounding in both paths
    for (size_t j = 0; j < s.ps.total; j++) gmax = fmax(gmax, fabs(grad[j]));
    for (int i = 0; i < s.ps.n; i++) {
        const ParamInfo *pi = &s.ps.p[i];
        double e = rel_err_scale(s.ps.grad + pi->offset, grad + pi->offset, (long)pi->numel, 1e-2 * gmax);
        if (e > 1e-5) fail_msg("L=%d masked=%d varlen=%d: grad %s differs, rel err %.3g", L, masked, varlen, pi->name, e);
    }
    free(pooled), free(grad), free(dx);
    cls_free(&s);
}

static void test_cls_same_as_full(void **state) {
    (void)state;
    for (int L = 1; L <= 2; L++)
        for (int masked = 0; masked <= 1; masked++)
            for (int varlen = 0; varlen <= 1; varlen++) check_same(L, masked, varlen);
}

static double loss_fn(void *p) { return cls_forward((Cls *)p); }

// Train mode (hidden and attention-probs dropout 0.1 with fixed masks): finite differences of the
// cls_only path for the last layer's tensors and the stack input.
static void test_cls_train_gradcheck(void **state) {
    (void)state;
    for (int run = 0; run < 4; run++) {
        int L = 1 + run % 2, varlen = run / 2;
        Cls s;
        cls_setup(&s, L, 1);
        s.a.cls_only = 1, s.a.varlen = varlen, s.seed = 99;
        s.cfg.hidden_dropout_prob = 0.2f, s.cfg.attention_probs_dropout_prob = 0.3f;
        s.m.cfg = s.cfg;
        cls_forward(&s);
        cls_backward(&s);
        float *grad = gt_copy(s.ps.grad, (long)s.ps.total);
        int bad = 0;
        double gmax = 0; // model-wide floor (float32 loss noise / 2 eps, and the zero key-bias gradient)
        for (size_t j = 0; j < s.ps.total; j++) gmax = fmax(gmax, fabs(grad[j]));
        for (int i = 0; i < s.ps.n; i++) {
            const ParamInfo *pi = &s.ps.p[i];
            if (!strstr(pi->name, "encoder.layer.") && !strstr(pi->name, "pooler")) continue;
            double mx = 0;
            for (size_t j = 0; j < pi->numel; j++) mx = fmax(mx, fabs(grad[pi->offset + j]));
            bad += gradcheck(pi->name, loss_fn, &s, s.ps.data + pi->offset, grad + pi->offset, (long)pi->numel,
                             GC_EPS, 1e-2, 1e-3 * mx + 2e-3 * gmax, 40);
        }
        float *dx = gt_copy(s.dx, (long)s.B * s.T * s.cfg.hidden_size);
        double mx = 0;
        for (long j = 0; j < (long)s.B * s.T * s.cfg.hidden_size; j++) mx = fmax(mx, fabs(dx[j]));
        bad += gradcheck("stack input", loss_fn, &s, s.x, dx, (long)s.B * s.T * s.cfg.hidden_size, GC_EPS, 1e-2,
                         1e-3 * mx + 1e-6, 60);
        (void)bad;
        free(grad), free(dx);
        cls_free(&s);
        if (bad) fail_msg("L=%d varlen=%d: %d gradient entries out of tolerance", L, varlen, bad);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cls_same_as_full),
        cmocka_unit_test(test_cls_train_gradcheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
