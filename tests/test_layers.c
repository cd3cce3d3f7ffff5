// test_layers.c: forward references and finite-difference gradient checks of the element-wise and
// dense layers in layers.h: linear, layernorm, GELU/ReLU/tanh/sigmoid, softmax, sparsemax, dropout,
// embedding, MSE and cross entropy. Tolerances: see gradtest.h (eps 1e-3, rtol 1e-2,
// atol 1e-3 * max|grad|); forward references are double precision, compared at 1e-5 relative to scale.
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "gradtest.h"
#include "layers/layers.h"
#include "layers/vmath.h"
#include "testutil.h"

// ---------------------------------------------------------------- linear
typedef struct {
    float *inp, *W, *b, *out, *proj;
    int N, IC, OC;
} LinCtx;

static double lin_loss(void *p) {
    LinCtx *c = p;
    linear_forward(c->out, c->inp, c->W, c->b, c->N, c->IC, c->OC);
    return dot_d(c->out, c->proj, (long)c->N * c->OC);
}

static void test_linear(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 1, 0);
    LinCtx c = {.N = 5, .IC = 7, .OC = 4};
    long ni = (long)c.N * c.IC, nw = (long)c.OC * c.IC, no = (long)c.N * c.OC;
    c.inp = falloc(ni), c.W = falloc(nw), c.b = falloc(c.OC), c.out = falloc(no), c.proj = falloc(no);
    fill_normal(c.inp, ni, 1, &r), fill_normal(c.W, nw, 0.5f, &r), fill_normal(c.b, c.OC, 1, &r);
    fill_normal(c.proj, no, 1, &r);
    // forward vs double reference, with and without bias
    for (int wb = 0; wb < 2; wb++) {
        linear_forward(c.out, c.inp, c.W, wb ? c.b : NULL, c.N, c.IC, c.OC);
        for (int n = 0; n < c.N; n++)
            for (int o = 0; o < c.OC; o++) {
                double s = wb ? c.b[o] : 0;
                for (int i = 0; i < c.IC; i++) s += (double)c.inp[n * c.IC + i] * c.W[o * c.IC + i];
                assert_true(fabs(c.out[n * c.OC + o] - s) < 1e-5);
            }
    }
    float *dinp = falloc(ni), *dW = falloc(nw), *db = falloc(c.OC);
    float *pi = gt_prefill(dinp, ni, &r), *pw = gt_prefill(dW, nw, &r), *pb = gt_prefill(db, c.OC, &r);
    lin_loss(&c);
    for (int k = 0; k < 2; k++) linear_backward(dinp, dW, db, c.proj, c.inp, c.W, c.N, c.IC, c.OC);
    gt_unaccum(dinp, pi, ni), gt_unaccum(dW, pw, nw), gt_unaccum(db, pb, c.OC);
    assert_int_equal(gt_check("linear dinp", lin_loss, &c, c.inp, dinp, ni, 1000), 0);
    assert_int_equal(gt_check("linear dW", lin_loss, &c, c.W, dW, nw, 1000), 0);
    assert_int_equal(gt_check("linear db", lin_loss, &c, c.b, db, c.OC, 1000), 0);
    // NULL gradients are skipped; the others still come out right
    float *db2 = falloc(c.OC);
    linear_backward(NULL, NULL, db2, c.proj, c.inp, c.W, c.N, c.IC, c.OC);
    for (int o = 0; o < c.OC; o++) assert_float_equal(db2[o], db[o], 1e-5);
    free(c.inp), free(c.W), free(c.b), free(c.out), free(c.proj), free(dinp), free(dW), free(db), free(db2);
}

// ---------------------------------------------------------------- layernorm
typedef struct {
    float *inp, *w, *b, *out, *mean, *rstd, *proj;
    int N, C;
    float eps;
} LnCtx;

static double ln_loss(void *p) {
    LnCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, c->eps);
    return dot_d(c->out, c->proj, (long)c->N * c->C);
}

static void test_layernorm(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 2, 0);
    LnCtx c = {.N = 4, .C = 6, .eps = 1e-5f};
    long n = (long)c.N * c.C;
    c.inp = falloc(n), c.w = falloc(c.C), c.b = falloc(c.C), c.out = falloc(n), c.proj = falloc(n);
    c.mean = falloc(c.N), c.rstd = falloc(c.N);
    fill_normal(c.inp, n, 1.5f, &r);
    for (long i = 0; i < n; i++) c.inp[i] += 0.5f; // non-zero mean
    fill_normal(c.w, c.C, 0.5f, &r);
    for (int i = 0; i < c.C; i++) c.w[i] += 1.0f;
    fill_normal(c.b, c.C, 1, &r), fill_normal(c.proj, n, 1, &r);
    ln_loss(&c);
    for (int r0 = 0; r0 < c.N; r0++) { // double reference: biased variance, eps inside the sqrt
        double m = 0, v = 0;
        for (int i = 0; i < c.C; i++) m += c.inp[r0 * c.C + i];
        m /= c.C;
        for (int i = 0; i < c.C; i++) v += (c.inp[r0 * c.C + i] - m) * (c.inp[r0 * c.C + i] - m);
        v /= c.C;
        double s = 1 / sqrt(v + c.eps);
        assert_true(fabs(c.mean[r0] - m) < 1e-6 && fabs(c.rstd[r0] - s) < 1e-5 * s);
        for (int i = 0; i < c.C; i++)
            assert_true(fabs(c.out[r0 * c.C + i] - ((c.inp[r0 * c.C + i] - m) * s * c.w[i] + c.b[i])) < 1e-5);
    }
    float *dinp = falloc(n), *dw = falloc(c.C), *db = falloc(c.C);
    float *pi = gt_prefill(dinp, n, &r), *pw = gt_prefill(dw, c.C, &r), *pb = gt_prefill(db, c.C, &r);
    for (int k = 0; k < 2; k++)
        layernorm_backward(dinp, dw, db, c.proj, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    gt_unaccum(dinp, pi, n), gt_unaccum(dw, pw, c.C), gt_unaccum(db, pb, c.C);
    assert_int_equal(gt_check("layernorm dinp", ln_loss, &c, c.inp, dinp, n, 1000), 0);
    assert_int_equal(gt_check("layernorm dw", ln_loss, &c, c.w, dw, c.C, 1000), 0);
    assert_int_equal(gt_check("layernorm db", ln_loss, &c, c.b, db, c.C, 1000), 0);
    // NULL gradients are skipped; each remaining one comes out the same alone
    ln_loss(&c); // gradcheck leaves the saved statistics of a perturbed forward
    float *dinp2 = falloc(n), *dw2 = falloc(c.C);
    layernorm_backward(dinp2, NULL, NULL, c.proj, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    layernorm_backward(NULL, dw2, NULL, c.proj, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    assert_true(rel_err_scale(dinp2, dinp, n, 1e-3) < 1e-5 && rel_err_scale(dw2, dw, c.C, 1e-3) < 1e-5);
    free(dinp2), free(dw2);
    free(c.inp), free(c.w), free(c.b), free(c.out), free(c.proj), free(c.mean), free(c.rstd);
    free(dinp), free(dw), free(db);
}

// ---------------------------------------------------------------- standardize (per column over rows)
typedef struct {
    float *inp, *out, *mean, *rstd, *proj;
    int N, D;
    float eps;
} StdCtx;

static double std_loss(void *p) {
    StdCtx *c = p;
    standardize_forward(c->out, c->mean, c->rstd, c->inp, c->N, c->D, c->eps);
    return dot_d(c->out, c->proj, (long)c->N * c->D);
}

static void test_standardize(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 12, 0);
    StdCtx c = {.N = 7, .D = 5, .eps = 1e-10f};
    long n = (long)c.N * c.D;
    c.inp = falloc(n), c.out = falloc(n), c.proj = falloc(n), c.mean = falloc(c.D), c.rstd = falloc(c.D);
    fill_normal(c.inp, n, 1.0f, &r);
    for (long i = 0; i < n; i++) c.inp[i] = c.inp[i] * (1.0f + (float)(i % c.D)) + 0.3f * (float)(i % c.D);
    fill_normal(c.proj, n, 1, &r);
    std_loss(&c);
    for (int d = 0; d < c.D; d++) { // double reference: each column has mean 0 and (biased) variance 1
        double m = 0, v = 0;
        for (int i = 0; i < c.N; i++) m += c.out[i * c.D + d];
        for (int i = 0; i < c.N; i++) v += c.out[i * c.D + d] * c.out[i * c.D + d];
        assert_true(fabs(m / c.N) < 1e-6 && fabs(v / c.N - 1) < 1e-5);
    }
    // scale invariance, the point of the layer: 1000x smaller inputs give the same output
    float *small = falloc(n), *out2 = falloc(n), *m2 = falloc(c.D), *s2 = falloc(c.D);
    for (long i = 0; i < n; i++) small[i] = c.inp[i] * 1e-3f;
    standardize_forward(out2, m2, s2, small, c.N, c.D, c.eps);
    assert_true(rel_err_scale(out2, c.out, n, 1e-3) < 1e-4);
    free(small), free(out2), free(m2), free(s2);
    float *dinp = falloc(n), *pi = gt_prefill(dinp, n, &r);
    for (int k = 0; k < 2; k++) standardize_backward(dinp, c.proj, c.out, c.rstd, c.N, c.D);
    gt_unaccum(dinp, pi, n);
    assert_int_equal(gt_check("standardize dinp", std_loss, &c, c.inp, dinp, n, 1000), 0);
    free(c.inp), free(c.out), free(c.proj), free(c.mean), free(c.rstd), free(dinp);
}

// ---------------------------------------------------------------- element-wise activations
typedef struct {
    void (*fwd)(float *, const float *, long);
    float *inp, *out, *proj;
    long n;
} ActCtx;

static double act_loss(void *p) {
    ActCtx *c = p;
    c->fwd(c->out, c->inp, c->n);
    return dot_d(c->out, c->proj, c->n);
}

static void check_activation(const char *name, void (*fwd)(float *, const float *, long),
                             void (*bwd)(float *, const float *, const float *, long), int bwd_uses_out,
                             double (*ref)(double), Rng *r) {
    ActCtx c = {.fwd = fwd, .n = 48};
    c.inp = falloc(c.n), c.out = falloc(c.n), c.proj = falloc(c.n);
    fill_normal(c.inp, c.n, 2.0f, r), fill_normal(c.proj, c.n, 1, r);
    for (long i = 0; i < c.n; i++) // keep clear of ReLU's kink for the finite differences
        if (fabsf(c.inp[i]) < 0.05f) c.inp[i] = c.inp[i] < 0 ? -0.05f : 0.05f;
    act_loss(&c);
    for (long i = 0; i < c.n; i++) {
        double want = ref(c.inp[i]);
        if (fabs(c.out[i] - want) > 2e-6 * (1 + fabs(want)))
            fail_msg("%s(%g) = %.9g, want %.9g", name, c.inp[i], c.out[i], want);
    }
    float *d = falloc(c.n), *pre = gt_prefill(d, c.n, r);
    for (int k = 0; k < 2; k++) bwd(d, c.proj, bwd_uses_out ? c.out : c.inp, c.n);
    gt_unaccum(d, pre, c.n);
    assert_int_equal(gt_check(name, act_loss, &c, c.inp, d, c.n, 1000), 0);
    free(c.inp), free(c.out), free(c.proj), free(d);
}

static double ref_gelu(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double ref_relu(double x) { return x > 0 ? x : 0; }
static double ref_sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void test_activations(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 3, 0);
    check_activation("gelu", gelu_forward, gelu_backward, 0, ref_gelu, &r);
    check_activation("relu", relu_forward, relu_backward, 1, ref_relu, &r);
    check_activation("tanh", tanh_forward, tanh_backward, 1, tanh, &r);
    check_activation("sigmoid", sigmoid_forward, sigmoid_backward, 1, ref_sigmoid, &r);
    // exact-erf GELU at known points (x * Phi(x)), not the tanh approximation
    const float xs[6] = {0.0f, 1.0f, -1.0f, 2.0f, -3.0f, 0.5f};
    const double want[6] = {0.0, 0.8413447460685429, -0.15865525393145707, 1.9544997361036416,
                            -0.0040496940948904, 0.34573123063700656};
    float ys[6];
    gelu_forward(ys, xs, 6);
    for (int i = 0; i < 6; i++) assert_true(fabs(ys[i] - want[i]) < 1e-6);
    // saturation: no NaN/inf
    const float big[4] = {-100.0f, 100.0f, -1e30f, 1e30f};
    float o[4];
    sigmoid_forward(o, big, 4);
    assert_true(o[0] == 0.0f && o[1] == 1.0f && o[2] == 0.0f && o[3] == 1.0f);
    tanh_forward(o, big, 4);
    assert_true(o[0] == -1.0f && o[1] == 1.0f);
}

// The vectorisable math of vmath.h swept against double precision (bounds a little above the
// measured worst cases: exp 7.9e-8, tanh 1.4e-7, sigmoid 1.2e-7 relative; GELU 1.5e-6 relative for
// |x| < 5 and 3.9e-6 for |x| < 8, where its values are below 1e-14; GELU' 1e-6 absolute).
static void test_vmath_accuracy(void **state) {
    (void)state;
    const long n = 200001;
    double we = 0, wt = 0, ws = 0, wg5 = 0, wg8 = 0, wd = 0;
    float *x = falloc(n), *y = falloc(n), *d = falloc(n), *one = falloc(n);
    for (long i = 0; i < n; i++) {
        float v = -110.0f + 199.0f * (float)i / (float)(n - 1);
        double e = exp((double)v), got = vexpf(v);
        if (e >= FLT_MIN && e <= FLT_MAX) we = fmax(we, fabs(got - e) / e);
        else if (e < FLT_MIN) assert_true(fabs(got - e) < 3e-45); // subnormal or 0, like expf
        else assert_true(isinf(got));
    }
    assert_true(vexpf(0.0f) == 1.0f && vexpf(-1e4f) == 0.0f && isinf(vexpf(1e4f)) && isnan(vexpf(NAN)));
    for (long i = 0; i < n; i++) x[i] = -20.0f + 40.0f * (float)i / (float)(n - 1), one[i] = 1.0f;
    tanh_forward(y, x, n);
    for (long i = 0; i < n; i++)
        if (x[i] != 0) wt = fmax(wt, fabs(y[i] - tanh((double)x[i])) / fabs(tanh((double)x[i])));
    sigmoid_forward(y, x, n);
    for (long i = 0; i < n; i++) ws = fmax(ws, fabs(y[i] - 1 / (1 + exp(-(double)x[i]))) * (1 + exp(-(double)x[i])));
    for (long i = 0; i < n; i++) x[i] = -8.0f + 16.0f * (float)i / (float)(n - 1);
    gelu_forward(y, x, n);
    gelu_backward(d, one, x, n);
    for (long i = 0; i < n; i++) {
        double X = x[i], g = 0.5 * X * erfc(-X / sqrt(2.0)); // erfc: no cancellation in the reference
        double dg = 0.5 * erfc(-X / sqrt(2.0)) + X * exp(-0.5 * X * X) / sqrt(2 * M_PI);
        if (g != 0) {
            double r = fabs(y[i] - g) / fabs(g);
            wg8 = fmax(wg8, r);
            if (fabs(X) < 5) wg5 = fmax(wg5, r);
        }
        wd = fmax(wd, fabs(d[i] - dg));
    }
    if (we > 2e-7 || wt > 3e-7 || ws > 3e-7 || wg5 > 3e-6 || wg8 > 1e-5 || wd > 1e-6)
        fail_msg("vmath: exp %g tanh %g sigmoid %g gelu %g/%g gelu' %g", we, wt, ws, wg5, wg8, wd);
    // the bfloat16-grade GELU (gelu_grad_map_lowp): absolute errors (measured 3.9e-7 on gelu / max(1, |x|),
    // 8.9e-7 on gelu', both near x = -0.1), over [-12, 12]
    double la = 0, ld = 0;
    for (long i = 0; i < n; i++) x[i] = -12.0f + 24.0f * (float)i / (float)(n - 1);
    gelu_grad_map_lowp(y, x, (int)n, d, 0);
    for (long i = 0; i < n; i++) {
        double X = x[i], P = 0.5 * erfc(-X / sqrt(2.0));
        la = fmax(la, fabs(y[i] - X * P) / fmax(1.0, fabs(X)));
        ld = fmax(ld, fabs(d[i] - (P + X * exp(-0.5 * X * X) / sqrt(2 * M_PI))));
    }
    if (la > 1e-6 || ld > 1.5e-6) fail_msg("vmath: bfloat16-grade gelu %g gelu' %g (absolute)", la, ld);
    free(x), free(y), free(d), free(one);
}

// ---------------------------------------------------------------- softmax / sparsemax
typedef struct {
    void (*fwd)(float *, const float *, int, int);
    float *inp, *out, *proj;
    int rows, n;
} RowCtx;

static double row_loss(void *p) {
    RowCtx *c = p;
    c->fwd(c->out, c->inp, c->rows, c->n);
    return dot_d(c->out, c->proj, (long)c->rows * c->n);
}

static void test_softmax(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 4, 0);
    RowCtx c = {.fwd = softmax_forward, .rows = 3, .n = 7};
    long n = (long)c.rows * c.n;
    c.inp = falloc(n), c.out = falloc(n), c.proj = falloc(n);
    fill_normal(c.inp, n, 2, &r), fill_normal(c.proj, n, 1, &r);
    row_loss(&c);
    for (int i = 0; i < c.rows; i++) {
        double s = 0, sum = 0;
        for (int j = 0; j < c.n; j++) s += exp(c.inp[i * c.n + j]);
        for (int j = 0; j < c.n; j++) {
            assert_true(fabs(c.out[i * c.n + j] - exp(c.inp[i * c.n + j]) / s) < 1e-6);
            sum += c.out[i * c.n + j];
        }
        assert_true(fabs(sum - 1) < 1e-6);
    }
    float *d = falloc(n), *pre = gt_prefill(d, n, &r);
    for (int k = 0; k < 2; k++) softmax_backward(d, c.proj, c.out, c.rows, c.n);
    gt_unaccum(d, pre, n);
    assert_int_equal(gt_check("softmax", row_loss, &c, c.inp, d, n, 1000), 0);
    // max-subtracted: huge logits stay finite
    const float big[3] = {1000.0f, 999.0f, -1000.0f};
    float o[3];
    softmax_forward(o, big, 1, 3);
    assert_true(fabs(o[0] - 1 / (1 + exp(-1.0))) < 1e-6 && fabs(o[1] - exp(-1.0) / (1 + exp(-1.0))) < 1e-6);
    assert_true(o[2] == 0.0f);
    free(c.inp), free(c.out), free(c.proj), free(d);
}

// Double-precision sparsemax by bisection on tau (sum max(z - tau, 0) = 1): a different algorithm.
static void sparsemax_ref(double *p, const float *z, int n) {
    double lo = -1e30, hi = 1e30, mx = -1e30;
    for (int i = 0; i < n; i++) mx = z[i] > mx ? z[i] : mx;
    lo = mx - 1, hi = mx;
    for (int it = 0; it < 200; it++) {
        double tau = 0.5 * (lo + hi), s = 0;
        for (int i = 0; i < n; i++) s += z[i] > tau ? z[i] - tau : 0;
        if (s > 1) lo = tau;
        else hi = tau;
    }
    double tau = 0.5 * (lo + hi);
    for (int i = 0; i < n; i++) p[i] = z[i] > tau ? z[i] - tau : 0;
}

static void test_sparsemax_forward(void **state) {
    (void)state;
    // hand-computed: sorted z, k = max{k : 1 + k z_(k) > cumsum_k}, tau = (cumsum_k - 1) / k
    struct {
        float z[4];
        float p[4];
    } cases[] = {
        {{1.0f, 0.5f, -1.0f, -2.0f}, {0.75f, 0.25f, 0.0f, 0.0f}},  // k = 2, tau = 0.25
        {{0.0f, 3.0f, 0.0f, 0.0f}, {0.0f, 1.0f, 0.0f, 0.0f}},      // k = 1, tau = 2
        {{0.1f, 0.1f, 0.1f, 0.1f}, {0.25f, 0.25f, 0.25f, 0.25f}},  // uniform
        {{2.0f, 1.0f, 0.5f, 1.0f}, {1.0f, 0.0f, 0.0f, 0.0f}},      // ties at exactly max - 1: k = 1
        {{0.5f, 0.2f, 0.1f, -5.0f}, {0.5f + 0.2f / 3, 0.2f + 0.2f / 3, 0.1f + 0.2f / 3, 0.0f}}, // tau = -0.2/3
        {{-1.0f, 2.0f, 1.5f, 1.8f}, {0.0f, 0.0f, 0.0f, 0.0f}}, // filled below
    };
    // last case: sorted 2, 1.8, 1.5, -1: k = 3 (1 + 3*1.5 = 5.5 > 5.3), tau = (5.3 - 1) / 3 = 1.4333
    cases[5].p[1] = 2.0f - 4.3f / 3, cases[5].p[2] = 1.5f - 4.3f / 3, cases[5].p[3] = 1.8f - 4.3f / 3;
    for (size_t t = 0; t < sizeof(cases) / sizeof(cases[0]); t++) {
        float o[4];
        sparsemax_forward(o, cases[t].z, 1, 4);
        for (int i = 0; i < 4; i++)
            if (fabsf(o[i] - cases[t].p[i]) > 1e-6f) fail_msg("case %zu [%d]: %g want %g", t, i, o[i], cases[t].p[i]);
    }
    // random rows of several lengths against the bisection reference; each sums to 1
    Rng r;
    rng_seed(&r, 5, 0);
    int lens[] = {1, 2, 5, 33, 400};
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        int n = lens[li], rows = 6;
        float *z = falloc((size_t)rows * n), *o = falloc((size_t)rows * n);
        double *p = calloc((size_t)n, sizeof(double));
        fill_normal(z, (long)rows * n, li % 2 ? 0.3f : 3.0f, &r);
        sparsemax_forward(o, z, rows, n);
        for (int i = 0; i < rows; i++) {
            sparsemax_ref(p, z + (long)i * n, n);
            double s = 0;
            for (int j = 0; j < n; j++) {
                assert_true(fabs(o[(long)i * n + j] - p[j]) < 2e-6);
                assert_true(o[(long)i * n + j] >= 0);
                s += o[(long)i * n + j];
            }
            assert_true(fabs(s - 1) < 2e-6);
        }
        free(z), free(o), free(p);
    }
}

static void test_sparsemax_grad(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 6, 0);
    RowCtx c = {.fwd = sparsemax_forward, .rows = 5, .n = 8};
    long n = (long)c.rows * c.n;
    c.inp = falloc(n), c.out = falloc(n), c.proj = falloc(n);
    fill_normal(c.inp, n, 0.6f, &r), fill_normal(c.proj, n, 1, &r);
    // sparsemax is piecewise linear: every input must be > 3 eps from its row's threshold tau so the
    // support does not change inside the finite difference (rows that miss are redrawn); and some
    // rows need |S| >= 3 and a non-empty complement so both the mean term and the zeroing matter.
    int big_support = 0, has_zero = 0;
    for (int i = 0; i < c.rows; i++) {
        float *z = c.inp + i * c.n, *o = c.out + i * c.n;
        for (int tries = 0;; tries++) {
            assert_true(tries < 100);
            sparsemax_forward(o, z, 1, c.n);
            float tau = 0;
            int ok = 1;
            for (int j = 0; j < c.n; j++)
                if (o[j] > 0) tau = z[j] - o[j];
            for (int j = 0; j < c.n; j++) ok &= fabsf(z[j] - tau) > 3 * GC_EPS;
            if (ok) break;
            fill_normal(z, c.n, 0.6f, &r);
        }
        int cnt = 0;
        for (int j = 0; j < c.n; j++) cnt += o[j] > 0;
        big_support += cnt >= 3;
        has_zero += cnt < c.n;
    }
    assert_true(big_support >= 2 && has_zero >= 2);
    row_loss(&c);
    float *d = falloc(n), *pre = gt_prefill(d, n, &r);
    for (int k = 0; k < 2; k++) sparsemax_backward(d, c.proj, c.out, c.rows, c.n);
    gt_unaccum(d, pre, n);
    assert_int_equal(gt_check("sparsemax", row_loss, &c, c.inp, d, n, 1000), 0);
    free(c.inp), free(c.out), free(c.proj), free(d);
}

// ---------------------------------------------------------------- dropout
typedef struct {
    float *inp, *out, *mask, *proj;
    long n;
    float p;
} DropCtx;

static double drop_loss(void *p) {
    DropCtx *c = p;
    Rng r;
    rng_seed(&r, 77, RNG_STREAM_DROPOUT); // same mask at every evaluation
    dropout_forward(c->out, c->mask, c->inp, c->n, c->p, &r);
    return dot_d(c->out, c->proj, c->n);
}

static void test_dropout(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7, 0);
    DropCtx c = {.n = 4000, .p = 0.3f};
    c.inp = falloc(c.n), c.out = falloc(c.n), c.mask = falloc(c.n), c.proj = falloc(c.n);
    fill_normal(c.inp, c.n, 1, &r), fill_normal(c.proj, c.n, 1, &r);
    drop_loss(&c);
    long zeros = 0;
    for (long i = 0; i < c.n; i++) {
        assert_true(c.mask[i] == 0.0f || fabsf(c.mask[i] - 1 / 0.7f) < 1e-6f); // inverted scaling
        assert_true(c.out[i] == c.inp[i] * c.mask[i]);
        zeros += c.mask[i] == 0.0f;
    }
    assert_true(fabs(zeros / (double)c.n - 0.3) < 0.03);
    float *m2 = gt_copy(c.mask, c.n); // reproducible from the seed
    drop_loss(&c);
    assert_memory_equal(m2, c.mask, sizeof(float) * (size_t)c.n);
    float *d = falloc(c.n), *pre = gt_prefill(d, c.n, &r);
    for (int k = 0; k < 2; k++) dropout_backward(d, c.proj, c.mask, c.n);
    gt_unaccum(d, pre, c.n);
    assert_int_equal(gt_check("dropout", drop_loss, &c, c.inp, d, c.n, 300), 0);
    // eval mode (rng NULL) and p = 0 copy with mask 1; p = 1 drops everything
    dropout_forward(c.out, c.mask, c.inp, c.n, 0.5f, NULL);
    for (long i = 0; i < c.n; i++) assert_true(c.mask[i] == 1.0f && c.out[i] == c.inp[i]);
    dropout_forward(c.out, c.mask, c.inp, c.n, 0.0f, &r);
    for (long i = 0; i < c.n; i++) assert_true(c.mask[i] == 1.0f && c.out[i] == c.inp[i]);
    dropout_forward(c.out, c.mask, c.inp, c.n, 1.0f, &r);
    for (long i = 0; i < c.n; i++) assert_true(c.mask[i] == 0.0f && c.out[i] == 0.0f);
    free(c.inp), free(c.out), free(c.mask), free(c.proj), free(m2), free(d);
}

// ---------------------------------------------------------------- embedding
typedef struct {
    float *table, *out, *proj;
    const int32_t *ids;
    int N, C;
} EmbCtx;

static double emb_loss(void *p) {
    EmbCtx *c = p;
    embedding_forward(c->out, c->ids, c->table, c->N, c->C);
    return dot_d(c->out, c->proj, (long)c->N * c->C);
}

static void test_embedding(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 8, 0);
    const int V = 6;
    const int32_t ids[7] = {3, 0, 5, 3, 1, 0, 3}; // repeats accumulate; 0 is the padding row below
    EmbCtx c = {.ids = ids, .N = 7, .C = 4};
    long nt = (long)V * c.C, no = (long)c.N * c.C;
    c.table = falloc(nt), c.out = falloc(no), c.proj = falloc(no);
    fill_normal(c.table, nt, 1, &r), fill_normal(c.proj, no, 1, &r);
    emb_loss(&c);
    for (int n = 0; n < c.N; n++)
        assert_memory_equal(c.out + n * c.C, c.table + ids[n] * c.C, sizeof(float) * (size_t)c.C);
    float *d = falloc(nt), *pre = gt_prefill(d, nt, &r);
    for (int k = 0; k < 2; k++) embedding_backward(d, c.proj, ids, c.N, c.C, -1);
    gt_unaccum(d, pre, nt);
    assert_int_equal(gt_check("embedding", emb_loss, &c, c.table, d, nt, 1000), 0);
    // padding_idx = 0: row 0 gets nothing, the other rows the same as before
    float *d0 = falloc(nt);
    embedding_backward(d0, c.proj, ids, c.N, c.C, 0);
    for (long i = 0; i < nt; i++) assert_float_equal(d0[i], i < c.C ? 0.0f : d[i], 1e-6);
    free(c.table), free(c.out), free(c.proj), free(d), free(d0);
}

// ---------------------------------------------------------------- losses
typedef struct {
    float *pred, *target, *probs;
    const int32_t *targets;
    long n;
    int N, V;
    float scale;
} LossCtx;

static double mse_loss(void *p) {
    LossCtx *c = p;
    return (double)c->scale * mse_forward(c->pred, c->target, c->n);
}

static double ce_loss(void *p) {
    LossCtx *c = p;
    return (double)c->scale * cross_entropy_forward(c->probs, c->pred, c->targets, c->N, c->V);
}

static void test_mse(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 9, 0);
    LossCtx c = {.n = 11, .scale = 0.7f};
    c.pred = falloc(c.n), c.target = falloc(c.n);
    fill_normal(c.pred, c.n, 1, &r), fill_normal(c.target, c.n, 1, &r);
    double s = 0;
    for (long i = 0; i < c.n; i++) s += ((double)c.pred[i] - c.target[i]) * ((double)c.pred[i] - c.target[i]);
    assert_true(fabs(mse_forward(c.pred, c.target, c.n) - s / c.n) < 1e-6 * (s / c.n));
    float *d = falloc(c.n), *pre = gt_prefill(d, c.n, &r);
    for (int k = 0; k < 2; k++) mse_backward(d, c.pred, c.target, c.n, c.scale);
    gt_unaccum(d, pre, c.n);
    assert_int_equal(gt_check("mse", mse_loss, &c, c.pred, d, c.n, 1000), 0);
    free(c.pred), free(c.target), free(d);
}

static void test_cross_entropy(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 10, 0);
    const int32_t targets[5] = {2, 0, 4, 4, 1};
    LossCtx c = {.N = 5, .V = 6, .targets = targets, .scale = 0.8f};
    long n = (long)c.N * c.V;
    c.pred = falloc(n), c.probs = falloc(n);
    fill_normal(c.pred, n, 2, &r);
    c.pred[7] += 500.0f; // a huge logit: logsumexp must stay finite
    double want = 0;      // mean over rows of logsumexp - logit[target], in double
    for (int i = 0; i < c.N; i++) {
        double mx = -1e300, s = 0;
        for (int j = 0; j < c.V; j++) mx = fmax(mx, c.pred[i * c.V + j]);
        for (int j = 0; j < c.V; j++) s += exp(c.pred[i * c.V + j] - mx);
        want += mx + log(s) - c.pred[i * c.V + targets[i]];
    }
    want /= c.N;
    float got = cross_entropy_forward(c.probs, c.pred, targets, c.N, c.V);
    assert_true(fabs(got - want) < 1e-5 * fabs(want));
    for (int i = 0; i < c.N; i++) {
        double s = 0;
        for (int j = 0; j < c.V; j++) s += c.probs[i * c.V + j];
        assert_true(fabs(s - 1) < 1e-6);
    }
    c.pred[7] -= 500.0f;
    ce_loss(&c);
    float *d = falloc(n), *pre = gt_prefill(d, n, &r);
    for (int k = 0; k < 2; k++) cross_entropy_backward(d, c.probs, targets, c.N, c.V, c.scale);
    gt_unaccum(d, pre, n);
    assert_int_equal(gt_check("cross_entropy", ce_loss, &c, c.pred, d, n, 1000), 0);
    free(c.pred), free(c.probs), free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),          cmocka_unit_test(test_layernorm), cmocka_unit_test(test_standardize),
        cmocka_unit_test(test_activations),     cmocka_unit_test(test_vmath_accuracy),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_sparsemax_forward), cmocka_unit_test(test_sparsemax_grad),
        cmocka_unit_test(test_dropout),         cmocka_unit_test(test_embedding),
        cmocka_unit_test(test_mse),             cmocka_unit_test(test_cross_entropy),
    };
    return cmocka_run_group_tests_name("layers", tests, NULL, NULL);
}
