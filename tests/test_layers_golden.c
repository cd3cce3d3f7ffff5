// test_layers_golden.c: the layer kernels against PyTorch itself (tests/fixtures/layers_golden.h, written by
// tools/layers_golden.py from nn.LSTMCell, F.linear, F.layer_norm, F.gelu, F.softmax, F.cross_entropy
// and an attention in torch ops, evaluated in float64 with autograd). This pins the semantics the
// finite-difference tests cannot: gate order, exact GELU, biased variance, mean reduction, masks.
// Tolerance: max |C - torch| <= 2e-5 * max(max |torch|, 1e-2) per tensor (float32 rounding).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "fixtures/layers_golden.h"
#include "layers/layers.h"
#include "testutil.h"

#define GOLD_TOL 2e-5

static float *fcopy(const float *x, long n) {
    float *y = falloc((size_t)n);
    memcpy(y, x, sizeof(float) * (size_t)n);
    return y;
}

static void near(const char *name, const float *got, const double *want, long n) {
    double m = 1e-2, e = 0;
    for (long i = 0; i < n; i++) {
        m = fmax(m, fabs(want[i]));
        double d = fabs(got[i] - want[i]);
        e = isnan(d) ? INFINITY : fmax(e, d);
    }
    if (e > GOLD_TOL * m) fail_msg("%s: max err %g (scale %g)", name, e, m);
}

static void test_golden_linear(void **state) {
    (void)state;
    float out[LIN_N * LIN_OC], dx[LIN_N * LIN_IC] = {0}, dW[LIN_OC * LIN_IC] = {0}, db[LIN_OC] = {0};
    linear_forward(out, lin_x, lin_W, lin_b, LIN_N, LIN_IC, LIN_OC);
    linear_backward(dx, dW, db, lin_proj, lin_x, lin_W, LIN_N, LIN_IC, LIN_OC);
    near("linear out", out, lin_out, LIN_N * LIN_OC);
    near("linear dx", dx, lin_dx, LIN_N * LIN_IC), near("linear dW", dW, lin_dW, LIN_OC * LIN_IC);
    near("linear db", db, lin_db, LIN_OC);
}

static void test_golden_layernorm(void **state) {
    (void)state;
    float out[LN_N * LN_C], mean[LN_N], rstd[LN_N], dx[LN_N * LN_C] = {0}, dw[LN_C] = {0}, db[LN_C] = {0};
    layernorm_forward(out, mean, rstd, ln_x, ln_w, ln_b, LN_N, LN_C, 1e-5f);
    layernorm_backward(dx, dw, db, ln_proj, ln_x, ln_w, mean, rstd, LN_N, LN_C);
    near("layernorm out", out, ln_out, LN_N * LN_C), near("layernorm dx", dx, ln_dx, LN_N * LN_C);
    near("layernorm dw", dw, ln_dw, LN_C), near("layernorm db", db, ln_db, LN_C);
}

static void test_golden_gelu_softmax_ce(void **state) {
    (void)state;
    float out[GELU_N], dx[GELU_N] = {0};
    gelu_forward(out, gelu_x, GELU_N);
    gelu_backward(dx, gelu_proj, gelu_x, GELU_N);
    near("gelu out", out, gelu_out, GELU_N), near("gelu dx", dx, gelu_dx, GELU_N);
    float p[SM_R * SM_V], d[SM_R * SM_V] = {0};
    softmax_forward(p, sm_x, SM_R, SM_V);
    softmax_backward(d, sm_proj, p, SM_R, SM_V);
    near("softmax out", p, sm_out, SM_R * SM_V), near("softmax dx", d, sm_dx, SM_R * SM_V);
    float probs[SM_R * SM_V], dl[SM_R * SM_V] = {0};
    float loss = cross_entropy_forward(probs, sm_x, ce_targets, SM_R, SM_V);
    cross_entropy_backward(dl, probs, ce_targets, SM_R, SM_V, 1.0f);
    assert_true(fabs(loss - ce_loss[0]) < 1e-6 * fabs(ce_loss[0]) + 1e-7);
    near("cross_entropy dlogits", dl, ce_dx, SM_R * SM_V);
}

static void test_golden_attention(void **state) {
    (void)state;
    enum { N = ATT_B * ATT_T * ATT_C, NN = ATT_B * ATT_NH * ATT_T * ATT_T };
    float out[N], probs[NN], scratch[NN], dq[N] = {0}, dk[N] = {0}, dv[N] = {0};
    DropSrc drop = {att_drop, {0, 0, 1.0f}}; // PyTorch's mask
    attention_forward(out, probs, att_q, att_k, att_v, att_mask, &drop, NULL, ATT_B, ATT_T, ATT_C, ATT_NH);
    attention_backward(dq, dk, dv, scratch, att_proj, probs, &drop, att_q, att_k, att_v, NULL, ATT_B, ATT_T, ATT_C,
                       ATT_NH);
    near("attention out", out, att_out, N), near("attention probs", probs, att_probs, NN);
    near("attention dq", dq, att_dq, N), near("attention dk", dk, att_dk, N), near("attention dv", dv, att_dv, N);
}

static void test_golden_lstm_encoder(void **state) {
    (void)state;
    enum { B = ENC_B, T = ENC_T, D = ENC_D, H = ENC_H, G = 4 * ENC_H };
    float h[B * T * H], c[B * T * H], act[B * T * G];
    float dx[B * T * D] = {0}, dWih[G * D] = {0}, dWhh[G * H] = {0}, dbih[G] = {0}, dbhh[G] = {0};
    float *scratch = falloc((size_t)lstm_encoder_scratch_size(B, T, H));
    lstm_encoder_forward(h, c, act, enc_x, enc_weight_ih, enc_weight_hh, enc_bias_ih, enc_bias_hh, B, T, D, H);
    lstm_encoder_backward(dx, dWih, dWhh, dbih, dbhh, scratch, enc_proj, enc_x, h, c, act, enc_weight_ih,
                          enc_weight_hh, B, T, D, H);
    near("lstm encoder h", h, enc_h, B * T * H), near("lstm encoder dx", dx, enc_dx, B * T * D);
    near("lstm encoder dWih", dWih, enc_dweight_ih, G * D), near("lstm encoder dWhh", dWhh, enc_dweight_hh, G * H);
    near("lstm encoder dbih", dbih, enc_dbias_ih, G), near("lstm encoder dbhh", dbhh, enc_dbias_hh, G);
    free(scratch);
}

static void test_golden_lstm_decoder(void **state) {
    (void)state;
    enum { B = DEC_B, T = DEC_T, H = DEC_H, G = 4 * DEC_H };
    float h[B * T * H], c[B * T * H], act[B * T * G];
    float dz[B * H] = {0}, dWih[G * H] = {0}, dWhh[G * H] = {0}, dbih[G] = {0}, dbhh[G] = {0};
    float *scratch = falloc((size_t)lstm_decoder_scratch_size(B, T, H));
    float *z = fcopy(dec_x, B * H);
    lstm_decoder_forward(h, c, act, z, dec_weight_ih, dec_weight_hh, dec_bias_ih, dec_bias_hh, B, T, H);
    lstm_decoder_backward(dz, dWih, dWhh, dbih, dbhh, scratch, dec_proj, z, h, c, act, dec_weight_ih,
                          dec_weight_hh, B, T, H);
    near("lstm decoder h", h, dec_h, B * T * H), near("lstm decoder dz", dz, dec_dx, B * H);
    near("lstm decoder dWih", dWih, dec_dweight_ih, G * H), near("lstm decoder dWhh", dWhh, dec_dweight_hh, G * H);
    near("lstm decoder dbih", dbih, dec_dbias_ih, G), near("lstm decoder dbhh", dbhh, dec_dbias_hh, G);
    free(scratch), free(z);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_linear),        cmocka_unit_test(test_golden_layernorm),
        cmocka_unit_test(test_golden_gelu_softmax_ce), cmocka_unit_test(test_golden_attention),
        cmocka_unit_test(test_golden_lstm_encoder),  cmocka_unit_test(test_golden_lstm_decoder),
    };
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
