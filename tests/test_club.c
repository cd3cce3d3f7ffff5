// test_club.c: the CLUB estimator: its estimate and training loss against a direct evaluation of
// the formulas of MIRD.md in double, and finite-difference checks of every gradient (x, y and all
// eight parameter tensors).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "layers/club.h"
#include "testutil.h"

typedef struct {
    Club c;
    ClubActs a;
    ParamSet ps;
    float *x, *y;
    int N;
    int loss; // 0 = estimate, 1 = training loss
} Ctx;

static void setup(Ctx *t, int N, int xd, int yd, int hid, Rng *r) {
    memset(t, 0, sizeof(*t));
    params_init(&t->ps);
    club_register(&t->c, &t->ps, "club_xy.", xd, yd, hid);
    params_alloc(&t->ps);
    club_bind(&t->c, &t->ps);
    fill_normal(t->ps.data, (long)t->ps.total, 0.5f, r);
    club_acts_init(&t->a, &t->c, N);
    t->N = N;
    t->x = falloc((size_t)N * xd), t->y = falloc((size_t)N * yd);
    fill_normal(t->x, (long)N * xd, 1.0f, r);
    fill_normal(t->y, (long)N * yd, 1.0f, r);
}

static void teardown(Ctx *t) {
    club_acts_free(&t->a);
    params_free(&t->ps);
    free(t->x), free(t->y);
}

static double value(void *p) {
    Ctx *t = p;
    return t->loss ? club_loss_forward(&t->c, &t->a, t->x, t->y, t->N)
                   : club_estimate_forward(&t->c, &t->a, t->x, t->y, t->N);
}

// the formulas evaluated directly, in double, from the MLP outputs
static void direct(Ctx *t, double *est, double *loss) {
    club_mlp_forward(&t->c, &t->a, t->x, t->N);
    int N = t->N, Y = t->c.yd;
    double e = 0, l = 0;
    for (int i = 0; i < N; i++)
        for (int d = 0; d < Y; d++) {
            double mu = t->a.mu[i * Y + d], lv = t->a.lv[i * Y + d], y = t->y[i * Y + d];
            double pos = -(mu - y) * (mu - y) / 2 / exp(lv), neg = 0;
            for (int j = 0; j < N; j++) neg += (t->y[j * Y + d] - mu) * (t->y[j * Y + d] - mu);
            neg = -neg / N / 2 / exp(lv);
            e += pos - neg;
            l -= -(mu - y) * (mu - y) / exp(lv) - lv;
        }
    *est = e / N, *loss = l / N;
}

static void test_club_values(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 11, 0);
    Ctx t;
    setup(&t, 7, 5, 4, 3, &r);
    double e, l;
    direct(&t, &e, &l);
    double ge = club_estimate_forward(&t.c, &t.a, t.x, t.y, t.N), gl = club_loss_forward(&t.c, &t.a, t.x, t.y, t.N);
    if (fabs(ge - e) > 1e-5 * (1 + fabs(e)) || fabs(gl - l) > 1e-5 * (1 + fabs(l)))
        fail_msg("club values: estimate %g vs %g, loss %g vs %g", ge, e, gl, l);
    // tanh bounds the log-variance
    for (int i = 0; i < t.N * t.c.yd; i++) assert_true(fabsf(t.a.lv[i]) <= 1.0f);
    teardown(&t);
}

static void check_grads(int loss) {
    Rng r;
    rng_seed(&r, 12 + loss, 0);
    Ctx t;
    setup(&t, 6, 5, 4, 3, &r);
    t.loss = loss;
    int N = t.N;
    float *dx = falloc((size_t)N * 5), *dy = falloc((size_t)N * 4);
    params_zero_grad(&t.ps);
    value(&t);
    if (loss)
        club_loss_backward(&t.c, &t.a, t.x, t.y, N, 1.0f);
    else
        club_estimate_backward(&t.c, &t.a, dx, dy, t.x, t.y, N, 1.0f, 1);
    int bad = 0;
    if (!loss) {
        bad += gradcheck("club dx", value, &t, t.x, dx, (long)N * 5, 1e-2, 1e-2, 2e-4, 100);
        bad += gradcheck("club dy", value, &t, t.y, dy, (long)N * 4, 1e-2, 1e-2, 2e-4, 100);
    }
    for (int i = 0; i < t.ps.n; i++) {
        const ParamInfo *pi = &t.ps.p[i];
        bad += gradcheck(pi->name, value, &t, t.ps.data + pi->offset, t.ps.grad + pi->offset, (long)pi->numel, 1e-2,
                         1e-2, 2e-4, 100);
    }
    // backward accumulates: a second call doubles the parameter gradients
    float *g1 = falloc(t.ps.total);
    memcpy(g1, t.ps.grad, t.ps.total * sizeof(float));
    value(&t);
    if (loss)
        club_loss_backward(&t.c, &t.a, t.x, t.y, N, 1.0f);
    else
        club_estimate_backward(&t.c, &t.a, NULL, NULL, t.x, t.y, N, 1.0f, 1);
    for (size_t k = 0; k < t.ps.total; k++)
        if (fabsf(t.ps.grad[k] - 2 * g1[k]) > 1e-6f * (1 + fabsf(g1[k]))) bad++;
    free(g1), free(dx), free(dy);
    teardown(&t);
    assert_int_equal(bad, 0);
}

static void test_club_estimate_grads(void **state) {
    (void)state;
    check_grads(0);
}

static void test_club_loss_grads(void **state) {
    (void)state;
    check_grads(1);
}

static void test_club_names_and_init(void **state) {
    (void)state;
    ParamSet ps;
    params_init(&ps);
    Club c;
    club_register(&c, &ps, "club_la.", 64, 48, 16);
    params_alloc(&ps);
    club_bind(&c, &ps);
    const char *names[8] = {"club_la.p_mu.0.weight",     "club_la.p_mu.0.bias",     "club_la.p_mu.2.weight",
                            "club_la.p_mu.2.bias",       "club_la.p_logvar.0.weight", "club_la.p_logvar.0.bias",
                            "club_la.p_logvar.2.weight", "club_la.p_logvar.2.bias"};
    const int64_t shape0[8] = {16, 16, 48, 48, 16, 16, 48, 48}, shape1[8] = {64, 0, 16, 0, 64, 0, 16, 0};
    assert_int_equal(ps.n, 8);
    for (int i = 0; i < 8; i++) {
        int k = params_find(&ps, names[i]);
        assert_true(k >= 0);
        assert_int_equal(ps.p[k].shape[0], shape0[i]);
        if (shape1[i]) assert_int_equal(ps.p[k].shape[1], shape1[i]);
    }
    Rng r;
    rng_seed(&r, 3, RNG_STREAM_INIT);
    club_init_default(&c, &r);
    // U(-1/sqrt(in), 1/sqrt(in)): in = 64 for layer 0, 16 for layer 2
    float m0 = 0, m2 = 0;
    for (int i = 0; i < 16 * 64; i++) m0 = fmaxf(m0, fabsf(c.w.mu0_w[i]));
    for (int i = 0; i < 48 * 16; i++) m2 = fmaxf(m2, fabsf(c.w.lv2_w[i]));
    assert_true(m0 <= 0.125f && m0 > 0.1f);
    assert_true(m2 <= 0.25f && m2 > 0.2f);
    params_free(&ps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_club_values),
        cmocka_unit_test(test_club_estimate_grads),
        cmocka_unit_test(test_club_loss_grads),
        cmocka_unit_test(test_club_names_and_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
