// test_attention.c: the multi-head attention core against a double-precision reference (key mask
// with padded keys, dropout mask on the probabilities) and finite-difference gradients of q, k, v.
// Tolerances: gradtest.h (eps 1e-3, rtol 1e-2, atol 1e-3 * max|grad|); forward 1e-5 relative to scale.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "gradtest.h"
#include "layers/layers.h"
#include "testutil.h"

typedef struct {
    float *q, *k, *v, *out, *probs, *mask, *drop, *proj;
    int B, T, C, NH;
} AttCtx;

static double att_loss(void *p) {
    AttCtx *c = p;
    DropSrc ds = {c->drop, {0, 0, 1.0f}};
    attention_forward(c->out, c->probs, c->q, c->k, c->v, c->mask, c->drop ? &ds : NULL, NULL, c->B, c->T, c->C, c->NH);
    return dot_d(c->out, c->proj, (long)c->B * c->T * c->C);
}

static void att_alloc(AttCtx *c, int B, int T, int C, int NH, int with_mask, int with_drop, Rng *r) {
    *c = (AttCtx){.B = B, .T = T, .C = C, .NH = NH};
    long n = (long)B * T * C, nn = (long)B * NH * T * T;
    c->q = falloc(n), c->k = falloc(n), c->v = falloc(n), c->out = falloc(n), c->proj = falloc(n);
    c->probs = falloc(nn);
    fill_normal(c->q, n, 1, r), fill_normal(c->k, n, 1, r), fill_normal(c->v, n, 1, r);
    fill_normal(c->proj, n, 1, r);
    if (with_mask) { // batch b has its last b+1 keys padded (BERT's (1 - m) * -10000)
        c->mask = falloc((long)B * T);
        for (int b = 0; b < B; b++)
            for (int t = T - 1 - b; t < T; t++) c->mask[b * T + t] = -10000.0f;
    }
    if (with_drop) { // p = 0.25: values 0 or 1/(1-p)
        c->drop = falloc(nn);
        for (long i = 0; i < nn; i++) c->drop[i] = rng_uniform(r) < 0.25f ? 0.0f : 1.0f / 0.75f;
    }
}

static void att_free(AttCtx *c) {
    free(c->q), free(c->k), free(c->v), free(c->out), free(c->proj), free(c->probs), free(c->mask), free(c->drop);
}

// Naive double reference of out and probs (absolute errors; inputs are O(1)).
static void att_check_forward(AttCtx *c) {
    int B = c->B, T = c->T, C = c->C, NH = c->NH, hs = C / NH;
    double *s = calloc((size_t)T, sizeof(double));
    double worst_o = 0, worst_p = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                double mx = -1e300, sum = 0;
                for (int j = 0; j < T; j++) {
                    double d = 0;
                    for (int e = 0; e < hs; e++)
                        d += (double)c->q[(b * T + i) * C + h * hs + e] * c->k[(b * T + j) * C + h * hs + e];
                    s[j] = d / sqrt((double)hs) + (c->mask ? c->mask[b * T + j] : 0);
                    mx = fmax(mx, s[j]);
                }
                for (int j = 0; j < T; j++) sum += (s[j] = exp(s[j] - mx));
                const float *P = c->probs + (((long)b * NH + h) * T + i) * T;
                for (int j = 0; j < T; j++) {
                    s[j] /= sum;
                    worst_p = fmax(worst_p, fabs(P[j] - s[j]));
                    if (c->mask && c->mask[b * T + j] < 0) assert_true(P[j] == 0.0f); // padded key
                }
                for (int e = 0; e < hs; e++) {
                    double o = 0;
                    for (int j = 0; j < T; j++)
                        o += s[j] * (c->drop ? c->drop[(((long)b * NH + h) * T + i) * T + j] : 1) *
                             c->v[(b * T + j) * C + h * hs + e];
                    worst_o = fmax(worst_o, fabs(c->out[(b * T + i) * C + h * hs + e] - o));
                }
            }
    free(s);
    if (worst_o > 1e-5 || worst_p > 1e-6) fail_msg("attention forward: max err out %g probs %g", worst_o, worst_p);
}

static void att_gradcheck(AttCtx *c, Rng *r, const char *tag) {
    DropSrc ds = {c->drop, {0, 0, 1.0f}};
    long n = (long)c->B * c->T * c->C, nn = (long)c->B * c->NH * c->T * c->T;
    att_loss(c);
    float *dq = falloc(n), *dk = falloc(n), *dv = falloc(n), *scratch = falloc(nn);
    fill_normal(scratch, nn, 1, r); // garbage in the scratch must not matter
    float *pq = gt_prefill(dq, n, r), *pk = gt_prefill(dk, n, r), *pv = gt_prefill(dv, n, r);
    for (int k = 0; k < 2; k++)
        attention_backward(dq, dk, dv, scratch, c->proj, c->probs, c->drop ? &ds : NULL, c->q, c->k, c->v, NULL, c->B,
                           c->T, c->C, c->NH);
    gt_unaccum(dq, pq, n), gt_unaccum(dk, pk, n), gt_unaccum(dv, pv, n);
    char name[64];
    snprintf(name, sizeof(name), "attention dq (%s)", tag);
    assert_int_equal(gt_check(name, att_loss, c, c->q, dq, n, 1000), 0);
    snprintf(name, sizeof(name), "attention dk (%s)", tag);
    assert_int_equal(gt_check(name, att_loss, c, c->k, dk, n, 1000), 0);
    snprintf(name, sizeof(name), "attention dv (%s)", tag);
    assert_int_equal(gt_check(name, att_loss, c, c->v, dv, n, 1000), 0);
    // NULL gradients are skipped and the remaining ones are unchanged
    float *dq2 = falloc(n), *dv2 = falloc(n);
    att_loss(c); // gradcheck leaves the saved probs of a perturbed forward
    attention_backward(dq2, NULL, NULL, scratch, c->proj, c->probs, c->drop ? &ds : NULL, c->q, c->k, c->v, NULL,
                       c->B, c->T, c->C, c->NH);
    attention_backward(NULL, NULL, dv2, scratch, c->proj, c->probs, c->drop ? &ds : NULL, c->q, c->k, c->v, NULL,
                       c->B, c->T, c->C, c->NH);
    assert_true(rel_err_scale(dq2, dq, n, 1e-3) < 1e-5 && rel_err_scale(dv2, dv, n, 1e-3) < 1e-5);
    free(dq), free(dk), free(dv), free(scratch), free(dq2), free(dv2);
}

static void test_attention_mask_and_dropout(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 21, 0);
    AttCtx c;
    att_alloc(&c, 2, 6, 6, 2, 1, 1, &r);
    att_loss(&c);
    att_check_forward(&c);
    att_gradcheck(&c, &r, "mask+dropout");
    att_free(&c);
}

static void test_attention_plain(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 22, 0);
    AttCtx c;
    att_alloc(&c, 3, 5, 8, 2, 0, 0, &r);
    att_loss(&c);
    att_check_forward(&c);
    att_gradcheck(&c, &r, "plain");
    att_free(&c);
}

// T = 130 > 4096 / T rows per tile: the dropout product runs over several row tiles.
static void test_attention_long_forward(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 23, 0);
    AttCtx c;
    att_alloc(&c, 2, 130, 16, 4, 1, 1, &r);
    att_loss(&c);
    att_check_forward(&c);
    att_free(&c);
}

// A longer head, 140 rows x 64 channels, with mask and dropout: forward against
// the double reference and gradients by finite differences on a sample of entries.
static void test_attention_gemm_path(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 24, 0);
    AttCtx c;
    att_alloc(&c, 1, 140, 64, 1, 1, 1, &r);
    att_loss(&c);
    att_check_forward(&c);
    long n = (long)c.B * c.T * c.C, nn = (long)c.B * c.NH * c.T * c.T;
    float *dq = falloc(n), *dk = falloc(n), *dv = falloc(n), *scratch = falloc(nn);
    DropSrc ds = {c.drop, {0, 0, 1.0f}};
    attention_backward(dq, dk, dv, scratch, c.proj, c.probs, &ds, c.q, c.k, c.v, NULL, c.B, c.T, c.C, c.NH);
    // 140 x 64 outputs in the loss: float32 rounding noise / 2 eps is near the default tolerance, so
    // a larger step (truncation error O(eps^2) ~ 1e-4 relative) and 2% relative
    double aq = 1e-3 * gt_maxabs(dq, n), ak = 1e-3 * gt_maxabs(dk, n), av = 1e-3 * gt_maxabs(dv, n);
    assert_int_equal(gradcheck("attention dq (gemm path)", att_loss, &c, c.q, dq, n, 1e-2, 2e-2, aq, 30), 0);
    assert_int_equal(gradcheck("attention dk (gemm path)", att_loss, &c, c.k, dk, n, 1e-2, 2e-2, ak, 30), 0);
    assert_int_equal(gradcheck("attention dv (gemm path)", att_loss, &c, c.v, dv, n, 1e-2, 2e-2, av, 30), 0);
    free(dq), free(dk), free(dv), free(scratch);
    att_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_mask_and_dropout),
        cmocka_unit_test(test_attention_plain),
        cmocka_unit_test(test_attention_long_forward),
        cmocka_unit_test(test_attention_gemm_path),
    };
    return cmocka_run_group_tests_name("attention", tests, NULL, NULL);
}
