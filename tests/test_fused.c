// test_fused.c: the kernels added for speed, each against its unfused composition or a double
// reference, with finite-difference gradients where they have a backward:
//   counter-based dropout keys (rate, scaling, reproducible, independent of the thread count);
//   residual + dropout + LayerNorm forward / backward (gradients of x, y, w, b);
//   GELU with its cached derivative, linear_backward_set (written, aliasing its input);
//   attention over packed sequences of different lengths = the padded computation with masked keys;
//   matmul() on every backend path (primitive for op(B) = B^T, BLAS otherwise, bias, alpha, beta)
//   against double, and bfloat16 products within bfloat16's rounding (2^-8 relative per input).
// Tolerances: gradtest.h for gradients; forwards 1e-5 relative to scale unless stated.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/matmul.h"
#include "gradtest.h"
#include "layers/layers.h"
#include "testutil.h"

// ---------------------------------------------------------------- dropout keys
static void test_dropkey(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 3, RNG_STREAM_DROPOUT);
    DropKey d = dropkey_draw(0.3f, &r);
    long n = 200000, zeros = 0;
    float *x = falloc(n), *y1 = falloc(n), *y2 = falloc(n), *m = falloc(n);
    for (long i = 0; i < n; i++) x[i] = 1.0f + (float)(i % 7);
    for (long i = 0; i < n; i++) {
        float v = dropkey_mask(&d, (uint64_t)i);
        assert_true(v == 0.0f || fabsf(v - 1 / 0.7f) < 1e-6f);
        zeros += v == 0.0f;
    }
    assert_true(fabs(zeros / (double)n - 0.3) < 0.005);
    // the same values on 1 and 2 threads; dropout_apply = x * mask, also in place
    omp_set_num_threads(1);
    dropout_apply(y1, x, n, &d);
    omp_set_num_threads(2);
    dropout_apply(y2, x, n, &d);
    assert_memory_equal(y1, y2, sizeof(float) * (size_t)n);
    for (long i = 0; i < n; i++) assert_true(y1[i] == x[i] * dropkey_mask(&d, (uint64_t)i));
    memcpy(y2, x, sizeof(float) * (size_t)n);
    dropout_apply(y2, y2, n, &d);
    assert_memory_equal(y1, y2, sizeof(float) * (size_t)n);
    // the stored-mask dropout draws the same mask from the same stream state
    Rng r2;
    rng_seed(&r2, 3, RNG_STREAM_DROPOUT);
    dropout_forward(y2, m, x, n, 0.3f, &r2);
    assert_memory_equal(y1, y2, sizeof(float) * (size_t)n);
    // a run across a 2^32 index boundary (the hash's high half changes there) and with an addend
    float yr[40], xr[40], o[40];
    for (int i = 0; i < 40; i++) yr[i] = 1.0f + i, xr[i] = 0.5f * i;
    uint64_t base = 0x100000000ull - 17;
    dropout_run(o, xr, yr, 40, &d, base);
    for (int i = 0; i < 40; i++) assert_true(o[i] == xr[i] + yr[i] * dropkey_mask(&d, base + (uint64_t)i));
    // another key gives another mask; off (p 0 or eval) draws nothing and is the identity
    DropKey d2 = dropkey_draw(0.3f, &r);
    long same = 0;
    for (long i = 0; i < n; i++) same += (dropkey_mask(&d, (uint64_t)i) == 0) == (dropkey_mask(&d2, (uint64_t)i) == 0);
    assert_true(fabs(same / (double)n - (0.3 * 0.3 + 0.7 * 0.7)) < 0.01); // independent masks
    Rng before = r;
    DropKey off = dropkey_draw(0.0f, &r), off2 = dropkey_draw(0.5f, NULL);
    assert_memory_equal(&before, &r, sizeof r);
    assert_true(off.thr == 0 && off2.thr == 0 && dropkey_mask(&off, 5) == 1.0f);
    DropKey all = dropkey_draw(1.0f, &r);
    for (long i = 0; i < 1000; i++) assert_true(dropkey_mask(&all, (uint64_t)i) == 0.0f);
    free(x), free(y1), free(y2), free(m);
}

// ---------------------------------------------------------------- residual + dropout + LayerNorm
typedef struct {
    float *x, *y, *w, *b, *res, *out, *mean, *rstd, *proj;
    DropKey drop;
    int N, C;
} RlnCtx;

static double rln_loss(void *p) {
    RlnCtx *c = p;
    residual_layernorm_forward(c->res, c->out, c->mean, c->rstd, c->x, c->y, &c->drop, c->w, c->b, c->N, c->C, 1e-5f);
    return dot_d(c->out, c->proj, (long)c->N * c->C);
}

static void test_residual_layernorm(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 4, 0);
    for (int dr = 0; dr < 2; dr++) {
        RlnCtx c = {.N = 5, .C = 9};
        long n = (long)c.N * c.C;
        c.x = falloc(n), c.y = falloc(n), c.w = falloc(c.C), c.b = falloc(c.C), c.res = falloc(n), c.out = falloc(n);
        c.mean = falloc(c.N), c.rstd = falloc(c.N), c.proj = falloc(n);
        fill_normal(c.x, n, 1, &r), fill_normal(c.y, n, 1.5f, &r), fill_normal(c.w, c.C, 0.5f, &r);
        for (int i = 0; i < c.C; i++) c.w[i] += 1.0f;
        fill_normal(c.b, c.C, 1, &r), fill_normal(c.proj, n, 1, &r);
        c.drop = dropkey_draw(dr ? 0.3f : 0.0f, &r);
        rln_loss(&c);
        // the unfused composition: x + dropout(y), then layernorm_forward
        float *yd = falloc(n), *ref = falloc(n), *m2 = falloc(c.N), *s2 = falloc(c.N);
        dropout_apply(yd, c.y, n, &c.drop);
        for (long i = 0; i < n; i++) yd[i] += c.x[i];
        assert_memory_equal(yd, c.res, sizeof(float) * (size_t)n);
        layernorm_forward(ref, m2, s2, yd, c.w, c.b, c.N, c.C, 1e-5f);
        assert_memory_equal(ref, c.out, sizeof(float) * (size_t)n);
        // gradients: dres (= d x) and dy written, dw / db accumulated
        float *dres = falloc(n), *dy = falloc(n), *dw = falloc(c.C), *db = falloc(c.C);
        fill_normal(dres, n, 1, &r), fill_normal(dy, n, 1, &r); // garbage: both are written
        float *pw = gt_prefill(dw, c.C, &r), *pb = gt_prefill(db, c.C, &r);
        for (int k = 0; k < 2; k++)
            residual_layernorm_backward(dres, dy, dw, db, c.proj, c.res, c.w, c.mean, c.rstd, &c.drop, c.N, c.C);
        gt_unaccum(dw, pw, c.C), gt_unaccum(db, pb, c.C);
        assert_int_equal(gt_check("add&norm dx", rln_loss, &c, c.x, dres, n, 1000), 0);
        assert_int_equal(gt_check("add&norm dy", rln_loss, &c, c.y, dy, n, 1000), 0);
        assert_int_equal(gt_check("add&norm dw", rln_loss, &c, c.w, dw, c.C, 1000), 0);
        assert_int_equal(gt_check("add&norm db", rln_loss, &c, c.b, db, c.C, 1000), 0);
        free(c.x), free(c.y), free(c.w), free(c.b), free(c.res), free(c.out), free(c.mean), free(c.rstd), free(c.proj);
        free(yd), free(ref), free(m2), free(s2), free(dres), free(dy), free(dw), free(db);
    }
}

// ---------------------------------------------------------------- GELU maps and cached derivative, linear_backward_set
static void test_gelu_maps_and_linear_set(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 5, 0);
    long n = 3000;
    float *x = falloc(n), *a1 = falloc(n), *a2 = falloc(n), *g = falloc(n + 7), *d = falloc(n), *dref = falloc(n);
    fill_normal(x, n, 2, &r), fill_normal(d, n, 1, &r);
    gelu_forward(a1, x, n);
    gelu_map(a2, x, (int)n, NULL, 0);
    assert_memory_equal(a2, a1, sizeof(float) * (size_t)n);
    memset(a2, 0, sizeof(float) * (size_t)n);
    gelu_grad_map(a2, x, (int)n, g - 7, 7); // the derivative at ctx + off
    assert_memory_equal(a2, a1, sizeof(float) * (size_t)n);
    gelu_backward(dref, d, x, n); // dref was zero: dref = d * gelu'(x)
    gelu_backward_cached(d, g, n);
    assert_true(rel_err_scale(d, dref, n, 1e-6) < 1e-6);
    // linear_backward_set writes dinp (even into its own input buffer) and accumulates dW, db
    int N = 6, IC = 5, OC = 4;
    float *inp = falloc(N * IC), *W = falloc(OC * IC), *dout = falloc(N * OC), *di1 = falloc(N * IC);
    float *dW1 = falloc(OC * IC), *db1 = falloc(OC), *dW2 = falloc(OC * IC), *db2 = falloc(OC);
    fill_normal(inp, N * IC, 1, &r), fill_normal(W, OC * IC, 1, &r), fill_normal(dout, N * OC, 1, &r);
    linear_backward(di1, dW1, db1, dout, inp, W, N, IC, OC); // di1 zero: the written value
    float *alias = gt_copy(inp, N * IC);
    linear_backward_set(alias, dW2, db2, dout, alias, W, N, IC, OC);
    assert_memory_equal(alias, di1, sizeof(float) * (size_t)(N * IC));
    assert_memory_equal(dW2, dW1, sizeof(float) * (size_t)(OC * IC));
    assert_memory_equal(db2, db1, sizeof(float) * (size_t)OC);
    free(x), free(a1), free(a2), free(g), free(d), free(dref);
    free(inp), free(W), free(dout), free(di1), free(dW1), free(db1), free(dW2), free(db2), free(alias);
}

// ---------------------------------------------------------------- packed attention = padded attention
static void test_attention_packed(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 6, 0);
    enum { B = 3, T = 6, C = 8, NH = 2 };
    const int len[B] = {6, 2, 4};
    int off[B + 1] = {0};
    for (int b = 0; b < B; b++) off[b + 1] = off[b] + len[b];
    long n = (long)B * T * C, nn = (long)B * NH * T * T;
    float *q = falloc(n), *k = falloc(n), *v = falloc(n), *dout = falloc(n), *mask = falloc(B * T);
    fill_normal(q, n, 1, &r), fill_normal(k, n, 1, &r), fill_normal(v, n, 1, &r), fill_normal(dout, n, 1, &r);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            mask[b * T + t] = t < len[b] ? 0.0f : -10000.0f;
            // the pads' own outputs are never read (BERT's pooled output): no gradient arrives there
            if (t >= len[b]) memset(dout + ((size_t)b * T + t) * C, 0, C * 4);
        }
    // packed copies of the unpadded rows
    float *qp = falloc(n), *kp = falloc(n), *vp = falloc(n), *dop = falloc(n);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < len[b]; t++) {
            size_t s = ((size_t)b * T + t) * C, d = ((size_t)off[b] + t) * C;
            memcpy(qp + d, q + s, C * 4), memcpy(kp + d, k + s, C * 4), memcpy(vp + d, v + s, C * 4);
            memcpy(dop + d, dout + s, C * 4);
        }
    Rng kr;
    rng_seed(&kr, 9, RNG_STREAM_DROPOUT);
    DropSrc drop = {NULL, dropkey_draw(0.25f, &kr)};
    float *o1 = falloc(n), *o2 = falloc(n), *p1 = falloc(nn), *p2 = falloc(nn), *s1 = falloc(nn), *s2 = falloc(nn);
    float *dq1 = falloc(n), *dk1 = falloc(n), *dv1 = falloc(n), *dq2 = falloc(n), *dk2 = falloc(n), *dv2 = falloc(n);
    attention_forward(o1, p1, q, k, v, mask, &drop, NULL, B, T, C, NH);
    attention_forward(o2, p2, qp, kp, vp, NULL, &drop, off, B, T, C, NH);
    attention_backward(dq1, dk1, dv1, s1, dout, p1, &drop, q, k, v, NULL, B, T, C, NH);
    attention_backward(dq2, dk2, dv2, s2, dop, p2, &drop, qp, kp, vp, off, B, T, C, NH);
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < len[b]; t++) {
            size_t s = ((size_t)b * T + t) * C, d = ((size_t)off[b] + t) * C;
            assert_true(rel_err_scale(o2 + d, o1 + s, C, 1) < 1e-5);
            assert_true(rel_err_scale(dq2 + d, dq1 + s, C, 1) < 1e-5);
            assert_true(rel_err_scale(dk2 + d, dk1 + s, C, 1) < 1e-5);
            assert_true(rel_err_scale(dv2 + d, dv1 + s, C, 1) < 1e-5);
        }
        for (int t = len[b]; t < T; t++) // padded keys: no gradient in the padded computation either
            for (int c = 0; c < C; c++) assert_true(dk1[((size_t)b * T + t) * C + c] == 0.0f);
        for (int h = 0; h < NH; h++) // the probabilities of real keys agree (pads get exactly 0)
            for (int i = 0; i < len[b]; i++)
                for (int j = 0; j < T; j++) {
                    size_t at = (((size_t)b * NH + h) * T + i) * T + j;
                    if (j < len[b]) assert_true(fabsf(p1[at] - p2[at]) < 1e-6f);
                    else assert_true(p1[at] == 0.0f);
                }
    }
    free(q), free(k), free(v), free(dout), free(mask), free(qp), free(kp), free(vp), free(dop);
    free(o1), free(o2), free(p1), free(p2), free(s1), free(s2), free(dq1), free(dk1), free(dv1), free(dq2), free(dk2),
        free(dv2);
}

// ---------------------------------------------------------------- matmul backends and precision
// C = alpha op(A) op(B) + beta C0 + bias in double; returns the max error relative to max |ref|.
static double mm_err(int ta, int tb, int M, int N, int K, float alpha, float beta, int with_bias, Rng *r) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2; // padded leading dimensions
    float *A = falloc((size_t)(ta ? K : M) * lda), *Bm = falloc((size_t)(tb ? N : K) * ldb);
    float *C = falloc((size_t)M * ldc), *bias = falloc(N);
    fill_normal(A, (long)(ta ? K : M) * lda, 1, r), fill_normal(Bm, (long)(tb ? N : K) * ldb, 1, r);
    fill_normal(C, (long)M * ldc, 1, r), fill_normal(bias, N, 1, r);
    double *ref = calloc((size_t)M * N, sizeof(double)), mx = 0, err = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++)
                s += (double)(ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]) *
                     (tb ? Bm[(size_t)j * ldb + p] : Bm[(size_t)p * ldb + j]);
            ref[(size_t)i * N + j] = alpha * s + beta * C[(size_t)i * ldc + j] + (with_bias ? bias[j] : 0);
            mx = fmax(mx, fabs(ref[(size_t)i * N + j]));
        }
    float pad = C[N]; // a padding column beyond N must stay untouched
    matmul_bias(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C, ldc, with_bias ? bias : NULL);
    assert_true(C[N] == pad);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) err = fmax(err, fabs(C[(size_t)i * ldc + j] - ref[(size_t)i * N + j]));
    free(A), free(Bm), free(C), free(bias), free(ref);
    return err / mx;
}

static void test_matmul_paths(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 7, 0);
    // 2 M N K = 2 * 96 * 640 * 512 = 6.3e7 FLOPs: over the threshold of the primitive and bf16 paths
    const int M = 96, N = 640, K = 512;
    for (int prec = 0; prec < 2; prec++) {
        if (prec && !matmul_bf16_supported()) {
            print_message("bfloat16 products not supported on this CPU / build: bf16 cases skipped\n");
            break;
        }
        assert_int_equal(matmul_set_precision(prec ? MATMUL_BF16 : MATMUL_FP32), prec ? MATMUL_BF16 : MATMUL_FP32);
        // fp32: float rounding over K = 512 terms; bf16: inputs rounded to 8 bits (2^-9 relative
        // each), errors of random sign over K terms: about 2^-8 / sqrt(K) of the result's scale
        double tol = prec ? 2e-2 : 2e-5;
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++)
                for (int v = 0; v < 3; v++) { // plain; alpha + beta; bias
                    float alpha = v == 1 ? 0.5f : 1.0f, beta = v == 1 ? 0.75f : 0.0f;
                    double e = mm_err(ta, tb, M, N, K, alpha, beta, v == 2, &r);
                    if (e > tol) fail_msg("matmul %s ta=%d tb=%d variant %d: rel err %.3g", prec ? "bf16" : "fp32", ta, tb, v, e);
                    if (prec && e < 1e-5) fail_msg("bf16 product as exact as fp32 (%.3g): not run in bf16?", e);
                }
        // forward-shaped products (A B^T) of MATMUL_WPACK_MIN_ROWS rows or more run on B reordered into
        // oneDNN's blocked layout (from the padded ldb here), with and without bias, alpha and beta
        for (int v = 0; v < 3; v++) {
            float alpha = v == 1 ? 0.5f : 1.0f, beta = v == 1 ? 0.75f : 0.0f;
            double e = mm_err(0, 1, MATMUL_WPACK_MIN_ROWS + 52, 64, 256, alpha, beta, v == 2, &r);
            if (e > tol) fail_msg("matmul %s blocked weights variant %d: rel err %.3g", prec ? "bf16" : "fp32", v, e);
            if (prec && e < 1e-5) fail_msg("bf16 product as exact as fp32 (%.3g): not run in bf16?", e);
        }
        // small products stay float32 in either precision
        assert_true(mm_err(0, 1, 8, 9, 10, 1.0f, 0.0f, 1, &r) < 2e-6);
        // reuse scope: the same results as without one, and an input rewritten as a product's C in
        // the scope is converted again (X = Y W1^T overwrites the X of the first product)
        float *X = falloc((size_t)M * K), *W1 = falloc((size_t)K * K), *Y = falloc((size_t)M * K);
        float *C1 = falloc((size_t)M * N), *C2 = falloc((size_t)M * N), *Wn = falloc((size_t)N * K);
        fill_normal(X, (long)M * K, 1, &r), fill_normal(W1, (long)K * K, 0.05f, &r), fill_normal(Y, (long)M * K, 1, &r);
        fill_normal(Wn, (long)N * K, 1, &r);
        float *X0 = gt_copy(X, (long)M * K);
        matmul(0, 1, M, N, K, 1.0f, X, K, Wn, K, 0.0f, C1, N); // reference, no scope
        matmul_reuse_begin();
        matmul(0, 1, M, N, K, 1.0f, X, K, Wn, K, 0.0f, C2, N);
        assert_memory_equal(C1, C2, sizeof(float) * (size_t)M * N);
        matmul(0, 1, M, K, K, 1.0f, Y, K, W1, K, 0.0f, X, K); // X rewritten by a product
        matmul(0, 1, M, N, K, 1.0f, X, K, Wn, K, 0.0f, C2, N);
        matmul_reuse_end();
        matmul(0, 1, M, N, K, 1.0f, X, K, Wn, K, 0.0f, C1, N); // the new X, no scope
        assert_memory_equal(C1, C2, sizeof(float) * (size_t)M * N);
        memcpy(X, X0, sizeof(float) * (size_t)M * K);
        free(X), free(W1), free(Y), free(C1), free(C2), free(Wn), free(X0);
    }
    matmul_set_precision(MATMUL_FP32);
    MatmulPrecision p;
    assert_int_equal(matmul_precision_parse("bf16", &p), 0);
    assert_int_equal(p, MATMUL_BF16);
    assert_int_equal(matmul_precision_parse("fp16", &p), -1);
}

// ---------------------------------------------------------------- operand maps (matmul_mapped)
// Whether a product of 2 M N K FLOPs runs in bfloat16 (and a mapped one then on fn_bf16).
static int runs_bf16(int M, int N, int K) {
    return matmul_precision() == MATMUL_BF16 && 2.0 * M * N * K >= MATMUL_BF16_MIN_FLOPS;
}

// matmul_mapped(which, GELU with its derivative as side output, ...) against gelu_grad_map (or its
// _lowp form where the product runs in bfloat16) over the whole operand, then matmul_bias: the same
// bits in either precision (float32: the same values multiplied; bfloat16: the same values rounded),
// and the same derivative (written for the operand's own columns, not the padding), on padded leading
// dimensions.
static void mapped_case(int which, int ta, int tb, int M, int N, int K, float beta, int with_bias, Rng *r) {
    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    long na = (long)(ta ? K : M) * lda, nb = (long)(tb ? N : K) * ldb, nc = (long)M * ldc;
    long nx = which == MATMUL_MAP_A ? na : nb, ld = which == MATMUL_MAP_A ? lda : ldb, rows = nx / ld;
    float *A = falloc(na), *Bm = falloc(nb), *C1 = falloc(nc), *C2 = falloc(nc), *bias = falloc(N);
    float *work = falloc(nx), *G = falloc(nx), *d1 = falloc(nx), *d2 = falloc(nx);
    fill_normal(A, na, 1.5f, r), fill_normal(Bm, nb, 1.5f, r), fill_normal(C1, nc, 1, r), fill_normal(bias, N, 1, r);
    memcpy(C2, C1, sizeof(float) * (size_t)nc);
    MatmulMapFn ref = runs_bf16(M, N, K) ? gelu_grad_map_lowp : gelu_grad_map;
    ref(G, which == MATMUL_MAP_A ? A : Bm, (int)nx, d1, 0);
    const float *b = with_bias ? bias : NULL;
    if (which == MATMUL_MAP_A) matmul_bias(ta, tb, M, N, K, 1.0f, G, lda, Bm, ldb, beta, C1, ldc, b);
    else matmul_bias(ta, tb, M, N, K, 1.0f, A, lda, G, ldb, beta, C1, ldc, b);
    MatmulMap map = {gelu_grad_map, gelu_grad_map_lowp, d2};
    matmul_mapped(which, &map, work, ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, beta, C2, ldc, b);
    const char *prec = matmul_precision_name(matmul_precision());
    for (int i = 0; i < M; i++)
        if (memcmp(C1 + (size_t)i * ldc, C2 + (size_t)i * ldc, sizeof(float) * (size_t)N))
            fail_msg("mapped %c ta=%d tb=%d %dx%dx%d (%s): row %d differs from gelu then matmul", "AB"[which], ta, tb,
                     M, N, K, prec, i);
    for (long i = 0; i < rows; i++) // the side output where the operand is read (not the padding)
        if (memcmp(d1 + i * ld, d2 + i * ld, sizeof(float) * (size_t)(ld - (which == MATMUL_MAP_A ? 3 : 1))))
            fail_msg("mapped %c ta=%d tb=%d (%s): derivative row %ld differs", "AB"[which], ta, tb, prec, i);
    free(A), free(Bm), free(C1), free(C2), free(bias), free(work), free(G), free(d1), free(d2);
}

static void test_matmul_mapped(void **state) {
    (void)state;
    Rng r;
    rng_seed(&r, 8, 0);
    for (int prec = 0; prec < 2; prec++) {
        if (prec && !matmul_bf16_supported()) break; // test_matmul_paths says so
        matmul_set_precision(prec ? MATMUL_BF16 : MATMUL_FP32);
        for (int which = 0; which < 2; which++)
            for (int ta = 0; ta < 2; ta++)
                for (int tb = 0; tb < 2; tb++) mapped_case(which, ta, tb, 96, 640, 512, tb ? 0.0f : 1.0f, !ta, &r);
        mapped_case(MATMUL_MAP_A, 0, 1, MATMUL_WPACK_MIN_ROWS + 52, 64, 256, 0.0f, 1, &r); // blocked weights
        mapped_case(MATMUL_MAP_B, 0, 1, MATMUL_WPACK_MIN_ROWS + 52, 64, 256, 0.0f, 1, &r); // not blocked then
        mapped_case(MATMUL_MAP_A, 0, 1, 8, 9, 2500, 0.0f, 1, &r);                          // small: float32
        // bfloat16 copies kept in a reuse scope: a mapped product of X after a plain one (and the
        // reverse) converts again; the results are those outside a scope
        enum { M = 96, N = 640, K = 512 };
        float *X = falloc(M * K), *W = falloc(N * K), *work = falloc(M * K), *G = falloc(M * K);
        float *P1 = falloc(M * N), *P2 = falloc(M * N), *G1 = falloc(M * N), *G2 = falloc(M * N);
        fill_normal(X, M * K, 1.5f, &r), fill_normal(W, N * K, 1, &r);
        gelu_forward(G, X, M * K);
        matmul(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, P1, N);
        matmul(0, 1, M, N, K, 1.0f, G, K, W, K, 0.0f, G1, N);
        matmul_reuse_begin();
        matmul(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, P2, N);
        MatmulMap gm = {gelu_map, NULL, NULL}; // fn in both precisions
        matmul_mapped(MATMUL_MAP_A, &gm, work, 0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, G2, N, NULL);
        assert_memory_equal(G1, G2, sizeof(float) * M * N);
        matmul(0, 1, M, N, K, 1.0f, X, K, W, K, 0.0f, P2, N);
        assert_memory_equal(P1, P2, sizeof(float) * M * N);
        matmul_reuse_end();
        // the linear layer's GELU variants = GELU (bfloat16-grade where the product runs in bfloat16)
        // then the plain ones
        MatmulMapFn ref = runs_bf16(M, N, K) ? gelu_grad_map_lowp : gelu_grad_map;
        ref(G, X, M * K, work, 0);
        float *o1 = falloc(M * N), *o2 = falloc(M * N), *b = falloc(N), *dW1 = falloc(N * K), *dW2 = falloc(N * K);
        float *db1 = falloc(N), *db2 = falloc(N), *di1 = falloc(M * K), *dg1 = falloc(M * K), *dg2 = falloc(M * K);
        fill_normal(b, N, 1, &r), fill_normal(o1, M * N, 1, &r); // o1: the dout below
        linear_backward_set(di1, dW1, db1, o1, G, W, M, K, N);
        linear_backward_set_gelu(work, dW2, db2, dg2, o1, X, work, W, M, K, N); // dinp = work, as BERT's
        assert_memory_equal(work, di1, sizeof(float) * M * K);
        ref(G, X, M * K, dg1, 0);
        assert_memory_equal(dg2, dg1, sizeof(float) * M * K);
        assert_memory_equal(dW2, dW1, sizeof(float) * N * K);
        assert_memory_equal(db2, db1, sizeof(float) * N);
        linear_forward(o1, G, W, b, M, K, N);
        linear_forward_gelu(o2, X, work, W, b, M, K, N);
        assert_memory_equal(o2, o1, sizeof(float) * M * N);
        free(X), free(W), free(work), free(G), free(P1), free(P2), free(G1), free(G2);
        free(o1), free(o2), free(b), free(dW1), free(dW2), free(db1), free(db2), free(di1), free(dg1), free(dg2);
    }
    matmul_set_precision(MATMUL_FP32);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropkey),
        cmocka_unit_test(test_residual_layernorm),
        cmocka_unit_test(test_gelu_maps_and_linear_set),
        cmocka_unit_test(test_attention_packed),
        cmocka_unit_test(test_matmul_paths),
        cmocka_unit_test(test_matmul_mapped),
    };
    return cmocka_run_group_tests_name("fused", tests, NULL, NULL);
}
