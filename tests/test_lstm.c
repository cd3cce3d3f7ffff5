// test_lstm.c: the LSTMCell encoder and decoder unrolled over T = 5 steps with B = 3, against a
// double-precision step-by-step reference and finite-difference gradients of every input and
// parameter (loss = random projection of ALL hidden states, and of the last one only).
// Tolerances: gradtest.h (eps 1e-3, rtol 1e-2, atol 1e-3 * max|grad|); forward 2e-6 absolute.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "gradtest.h"
#include "layers/layers.h"
#include "testutil.h"

typedef struct {
    int decoder, B, T, D, H;
    float *x, *Wih, *Whh, *bih, *bhh; // x is z[B,H] for the decoder
    float *h, *c, *act, *proj;
} LstmCtx;

static double lstm_loss(void *p) {
    LstmCtx *s = p;
    if (s->decoder)
        lstm_decoder_forward(s->h, s->c, s->act, s->x, s->Wih, s->Whh, s->bih, s->bhh, s->B, s->T, s->H);
    else
        lstm_encoder_forward(s->h, s->c, s->act, s->x, s->Wih, s->Whh, s->bih, s->bhh, s->B, s->T, s->D, s->H);
    return dot_d(s->h, s->proj, (long)s->B * s->T * s->H);
}

static long xsize(const LstmCtx *s) { return s->decoder ? (long)s->B * s->H : (long)s->B * s->T * s->D; }

static void lstm_alloc(LstmCtx *s, int decoder, int B, int T, int D, int H, Rng *r) {
    *s = (LstmCtx){.decoder = decoder, .B = B, .T = T, .D = decoder ? H : D, .H = H};
    long G = 4L * H, BT = (long)B * T;
    s->x = falloc(xsize(s)), s->Wih = falloc(G * s->D), s->Whh = falloc(G * H);
    s->bih = falloc(G), s->bhh = falloc(G);
    s->h = falloc(BT * H), s->c = falloc(BT * H), s->act = falloc(BT * G), s->proj = falloc(BT * H);
    // weights large enough that every path (recurrence, forget gate) carries real weight, small
    // enough that the gates do not saturate
    fill_normal(s->x, xsize(s), 1, r);
    fill_normal(s->Wih, G * s->D, 0.5f, r), fill_normal(s->Whh, G * H, 0.6f, r);
    fill_normal(s->bih, G, 0.3f, r), fill_normal(s->bhh, G, 0.3f, r);
    for (int j = H; j < 2 * H; j++) s->bih[j] += 1.0f; // forget gates mostly open: c_{t-1} matters
    fill_normal(s->proj, BT * H, 1, r);
}

static void lstm_free(LstmCtx *s) {
    free(s->x), free(s->Wih), free(s->Whh), free(s->bih), free(s->bhh);
    free(s->h), free(s->c), free(s->act), free(s->proj);
}

static double sg(double x) { return 1 / (1 + exp(-x)); }

// Step-by-step double reference of PyTorch's LSTMCell (gate rows i, f, g, o of W and b).
static void lstm_check_forward(LstmCtx *s) {
    int B = s->B, T = s->T, D = s->D, H = s->H;
    double *hp = calloc((size_t)H, sizeof(double)), *cp = calloc((size_t)H, sizeof(double));
    double *g = calloc(4 * (size_t)H, sizeof(double)), *in = calloc((size_t)D, sizeof(double));
    double worst = 0;
    for (int b = 0; b < B; b++) {
        memset(hp, 0, sizeof(double) * (size_t)H), memset(cp, 0, sizeof(double) * (size_t)H);
        for (int t = 0; t < T; t++) {
            for (int d = 0; d < D; d++)
                in[d] = s->decoder ? (t == 0 ? s->x[b * H + d] : hp[d]) : s->x[((long)b * T + t) * D + d];
            for (int j = 0; j < 4 * H; j++) {
                double a = (double)s->bih[j] + s->bhh[j];
                for (int d = 0; d < D; d++) a += s->Wih[(long)j * D + d] * in[d];
                for (int e = 0; e < H; e++) a += s->Whh[(long)j * H + e] * hp[e];
                g[j] = a;
            }
            for (int j = 0; j < H; j++) {
                double ig = sg(g[j]), fg = sg(g[H + j]), gg = tanh(g[2 * H + j]), og = sg(g[3 * H + j]);
                cp[j] = fg * cp[j] + ig * gg;
                hp[j] = og * tanh(cp[j]);
                long o = ((long)b * T + t) * H + j;
                worst = fmax(worst, fmax(fabs(s->h[o] - hp[j]), fabs(s->c[o] - cp[j])));
            }
        }
    }
    free(hp), free(cp), free(g), free(in);
    if (worst > 2e-6) fail_msg("lstm %s forward: max err %g", s->decoder ? "decoder" : "encoder", worst);
}

static void lstm_backward_call(LstmCtx *s, float *dx, float *dWih, float *dWhh, float *dbih, float *dbhh,
                               float *scratch, const float *dh) {
    if (s->decoder)
        lstm_decoder_backward(dx, dWih, dWhh, dbih, dbhh, scratch, dh, s->x, s->h, s->c, s->act, s->Wih, s->Whh,
                              s->B, s->T, s->H);
    else
        lstm_encoder_backward(dx, dWih, dWhh, dbih, dbhh, scratch, dh, s->x, s->h, s->c, s->act, s->Wih, s->Whh,
                              s->B, s->T, s->D, s->H);
}

static void lstm_gradcheck(LstmCtx *s, Rng *r, const char *tag) {
    long G = 4L * s->H, nx = xsize(s), nwi = G * s->D, nwh = G * s->H;
    long ns = s->decoder ? lstm_decoder_scratch_size(s->B, s->T, s->H) : lstm_encoder_scratch_size(s->B, s->T, s->H);
    lstm_loss(s);
    float *dx = falloc(nx), *dWih = falloc(nwi), *dWhh = falloc(nwh), *dbih = falloc(G), *dbhh = falloc(G);
    float *scratch = falloc(ns);
    fill_normal(scratch, ns, 1, r); // garbage in the scratch must not matter
    float *px = gt_prefill(dx, nx, r), *pwi = gt_prefill(dWih, nwi, r), *pwh = gt_prefill(dWhh, nwh, r);
    float *pbi = gt_prefill(dbih, G, r), *pbh = gt_prefill(dbhh, G, r);
    for (int k = 0; k < 2; k++) lstm_backward_call(s, dx, dWih, dWhh, dbih, dbhh, scratch, s->proj);
    gt_unaccum(dx, px, nx), gt_unaccum(dWih, pwi, nwi), gt_unaccum(dWhh, pwh, nwh);
    gt_unaccum(dbih, pbi, G), gt_unaccum(dbhh, pbh, G);
    const char *xn = s->decoder ? "dz" : "dx";
    char name[80];
#define CHECK(label, param, grad, n)                                                                     \
    snprintf(name, sizeof(name), "lstm %s %s (%s)", s->decoder ? "decoder" : "encoder", label, tag);    \
    assert_int_equal(gt_check(name, lstm_loss, s, param, grad, n, 1000), 0)
    CHECK(xn, s->x, dx, nx);
    CHECK("dWih", s->Wih, dWih, nwi);
    CHECK("dWhh", s->Whh, dWhh, nwh);
    CHECK("dbih", s->bih, dbih, G);
    CHECK("dbhh", s->bhh, dbhh, G);
#undef CHECK
    // NULL gradients are skipped; the weight gradient alone comes out the same
    float *dWhh2 = falloc(nwh);
    lstm_loss(s); // gradcheck leaves the saved state of a perturbed forward
    lstm_backward_call(s, NULL, NULL, dWhh2, NULL, NULL, scratch, s->proj);
    double e = rel_err_scale(dWhh2, dWhh, nwh, 1e-3);
    if (e > 1e-5) fail_msg("dWhh alone differs: %g", e);
    free(dx), free(dWih), free(dWhh), free(dbih), free(dbhh), free(scratch), free(dWhh2);
}

static void run_case(int decoder, int last_only, const char *tag, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed, 0);
    LstmCtx s;
    lstm_alloc(&s, decoder, 3, 5, 4, 3, &r);
    if (last_only) // encoder use: only h[:, T-1] reaches the loss
        for (int b = 0; b < s.B; b++)
            for (int t = 0; t < s.T - 1; t++) memset(s.proj + ((long)b * s.T + t) * s.H, 0, sizeof(float) * s.H);
    lstm_loss(&s);
    lstm_check_forward(&s);
    lstm_gradcheck(&s, &r, tag);
    lstm_free(&s);
}

static void test_lstm_encoder(void **state) {
    (void)state;
    run_case(0, 0, "all steps", 31);
    run_case(0, 1, "last step", 32);
}

static void test_lstm_decoder(void **state) {
    (void)state;
    run_case(1, 0, "all steps", 33);
    run_case(1, 1, "last step", 34);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_encoder),
        cmocka_unit_test(test_lstm_decoder),
    };
    return cmocka_run_group_tests_name("lstm", tests, NULL, NULL);
}
