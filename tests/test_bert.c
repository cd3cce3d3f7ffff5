// test_bert.c: the C BERT against PyTorch (tests/fixtures/bert_tiny.safetensors, written by
// tools/bert_golden.py from a plain-torch re-implementation of HF BertModel in float64), with and
// without the attention mask: outputs, the gradient of the stack input and every parameter
// gradient; the padding_idx row; config.json parsing; and finite differences of the whole model
// (eval and dropout) including the gradient routed to the stack input.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/params.h"
#include "io/safetensors.h"
#include "models/bert.h"
#include "testutil.h"

#define FIX_ST "tests/fixtures/bert_tiny.safetensors"
#define FIX_CFG "tests/fixtures/bert_tiny_config.json"
#define PREFIX "encoder_l.bert."

// Tolerances (relative to each reference tensor's max |value|): the reference is float64 PyTorch,
// the C code float32.
#define TOL_OUT 1e-5
#define TOL_GRAD 1e-4

static json_t *load_json(const char *path) {
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) fail_msg("%s: %s", path, je.text);
    return o;
}

// ---------------------------------------------------------------- config

static void test_config(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    BertConfig c, d;
    json_t *o = load_json(FIX_CFG);
    assert_int_equal(bert_config_from_json(&c, o, err), 0);
    assert_int_equal(c.vocab_size, 40);
    assert_int_equal(c.hidden_size, 32);
    assert_int_equal(c.num_hidden_layers, 2);
    assert_int_equal(c.num_attention_heads, 4);
    assert_int_equal(c.intermediate_size, 48);
    assert_int_equal(c.max_position_embeddings, 16);
    assert_int_equal(c.type_vocab_size, 2);
    assert_int_equal(c.pad_token_id, 0);
    assert_true(c.layer_norm_eps == 1e-12f && c.hidden_dropout_prob == 0.1f);
    json_decref(o);

    // defaults: bert-base-uncased
    o = json_object();
    assert_int_equal(bert_config_from_json(&c, o, err), 0);
    assert_int_equal(c.vocab_size, 30522);
    assert_int_equal(c.hidden_size, 768);
    assert_int_equal(c.num_hidden_layers, 12);
    assert_int_equal(c.intermediate_size, 3072);
    assert_int_equal(c.max_position_embeddings, 512);
    // round trip
    c.hidden_dropout_prob = 0.25f, c.pad_token_id = -1, c.layer_norm_eps = 1e-5f;
    json_t *j = bert_config_to_json(&c);
    assert_int_equal(bert_config_from_json(&d, j, err), 0);
    assert_memory_equal(&c, &d, sizeof(c));
    assert_true(json_real_value(json_object_get(j, "hidden_dropout_prob")) == 0.25);
    assert_true(json_is_null(json_object_get(j, "pad_token_id")));
    json_decref(j);
    json_decref(o);

    // errors
    const char *bad[] = {"[1, 2]",
                         "{\"hidden_size\": 30, \"num_attention_heads\": 4}",
                         "{\"hidden_act\": \"relu\"}",
                         "{\"hidden_act\": \"gelu_new\"}",
                         "{\"hidden_size\": \"768\"}",
                         "{\"num_hidden_layers\": 0}",
                         "{\"vocab_size\": -5}",
                         "{\"hidden_size\": 7.5}",
                         "{\"hidden_dropout_prob\": 1.0}",
                         "{\"pad_token_id\": 30522}",
                         "{\"layer_norm_eps\": 0}",
                         "{\"vocab_size\": 99999999999}",
                         "{\"position_embedding_type\": \"relative_key\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_error_t je;
        o = json_loads(bad[i], 0, &je);
        assert_non_null(o);
        err[0] = 0;
        if (bert_config_from_json(&c, o, err) == 0) fail_msg("accepted bad config %s", bad[i]);
        assert_true(strlen(err) > 0 && !strchr(err, '\n'));
        json_decref(o);
    }
}

// ---------------------------------------------------------------- golden comparison

typedef struct {
    StFile st;
    BertConfig cfg;
    ParamSet ps;
    Bert m;
    BertActs a;
    int B, T;
    int32_t ids[64], types[64];
    float mask[64];
} Golden;

static const float *fx(Golden *g, const char *name, size_t numel, float *buf) {
    char err[MIRD_ERRLEN];
    const StTensor *t = st_find(&g->st, name);
    if (!t) fail_msg("fixture lacks %s", name);
    if (t->numel != numel) fail_msg("fixture %s: %zu values, expected %zu", name, t->numel, numel);
    if (st_to_f32(&g->st, t, buf, numel, err)) fail_msg("%s", err);
    return buf;
}

static void golden_open(Golden *g, int Bmax, int Tmax) {
    char err[MIRD_ERRLEN];
    memset(g, 0, sizeof(*g));
    if (st_open(&g->st, FIX_ST, err)) fail_msg("%s", err);
    json_t *o = load_json(FIX_CFG);
    if (bert_config_from_json(&g->cfg, o, err)) fail_msg("%s", err);
    json_decref(o);
    params_init(&g->ps);
    bert_register(&g->m, &g->ps, &g->cfg, PREFIX);
    params_alloc(&g->ps);
    bert_bind(&g->m, &g->ps);
    // every registered tensor is in the fixture with HF's name and shape
    for (int i = 0; i < g->ps.n; i++) {
        const ParamInfo *pi = &g->ps.p[i];
        const StTensor *t = st_find(&g->st, pi->name);
        if (!t) fail_msg("fixture lacks parameter %s", pi->name);
        assert_int_equal(t->ndim, pi->ndim);
        for (int d = 0; d < pi->ndim; d++) assert_int_equal(t->shape[d], pi->shape[d]);
        if (st_to_f32(&g->st, t, g->ps.data + pi->offset, pi->numel, err)) fail_msg("%s", err);
    }
    // ... and the fixture holds no parameter we did not register
    int nparam = 0;
    for (int i = 0; i < st_count(&g->st); i++)
        if (!strncmp(st_tensor(&g->st, i)->name, PREFIX, strlen(PREFIX))) nparam++;
    assert_int_equal(nparam, g->ps.n);
    const StTensor *ids = st_find(&g->st, "input_ids");
    assert_non_null(ids);
    g->B = (int)ids->shape[0], g->T = (int)ids->shape[1];
    assert_true(g->B * g->T <= 64);
    int32_t im[64];
    if (st_to_i32(&g->st, ids, g->ids, ids->numel, err) ||
        st_to_i32(&g->st, st_find(&g->st, "token_type_ids"), g->types, ids->numel, err) ||
        st_to_i32(&g->st, st_find(&g->st, "attention_mask"), im, ids->numel, err))
        fail_msg("%s", err);
    bert_mask_from_int(g->mask, im, g->B * g->T);
    if (bert_check_inputs(&g->cfg, g->ids, g->types, g->B, g->T, err)) fail_msg("%s", err);
    if (bert_acts_init(&g->a, &g->cfg, Bmax ? Bmax : g->B, Tmax ? Tmax : g->T, err)) fail_msg("%s", err);
}

static void golden_close(Golden *g) {
    bert_acts_free(&g->a);
    bert_free(&g->m);
    params_free(&g->ps);
    st_close(&g->st);
}

static double cmp_floor(Golden *g, const char *what, const float *got, const char *ref_name, size_t n, double tol,
                        double floor) {
    float *ref = falloc(n);
    fx(g, ref_name, n, ref);
    double e = rel_err_scale(got, ref, (long)n, floor);
    free(ref);
    if (!(e <= tol)) fail_msg("%s (%s): relative error %.3g > %.1g", what, ref_name, e, tol);
    return e;
}
static double cmp(Golden *g, const char *what, const float *got, const char *ref_name, size_t n, double tol) {
    return cmp_floor(g, what, got, ref_name, n, tol, 1e-6);
}

// The largest |value| of all reference parameter gradients with this tag.
static double grad_scale(Golden *g, const char *tag) {
    char name[256];
    double m = 0;
    for (int i = 0; i < g->ps.n; i++) {
        const ParamInfo *pi = &g->ps.p[i];
        snprintf(name, sizeof name, "%sgrad.%s", tag, pi->name);
        float *ref = falloc(pi->numel);
        fx(g, name, pi->numel, ref);
        for (size_t j = 0; j < pi->numel; j++) m = fabs(ref[j]) > m ? fabs(ref[j]) : m;
        free(ref);
    }
    return m;
}

// The full-model and split-stage paths on the fixture, mask on (masked=1) or off.
static void run_golden(int masked, int Bmax, int Tmax) {
    Golden g;
    golden_open(&g, Bmax, Tmax);
    const char *tag = masked ? "masked." : "nomask.";
    int B = g.B, T = g.T, H = g.cfg.hidden_size;
    size_t n = (size_t)B * T * H;
    char name[256];
    float *R1 = falloc(n), *R2 = falloc((size_t)B * H);
    fx(&g, "R1", n, R1);
    fx(&g, "R2", (size_t)B * H, R2);
    const float *mask = masked ? g.mask : NULL;

    // full model
    bert_forward(&g.m, &g.a, g.ids, g.types, mask, B, T, NULL);
    double e_emb, e_seq, e_pool, e_grad = 0, e_kb = 0, e_dx;
    snprintf(name, sizeof name, "%semb_out", tag);
    e_emb = cmp(&g, "emb_out", g.a.emb_out, name, n, TOL_OUT);
    snprintf(name, sizeof name, "%sseq", tag);
    e_seq = cmp(&g, "seq", g.a.seq, name, n, TOL_OUT);
    snprintf(name, sizeof name, "%spooled", tag);
    e_pool = cmp(&g, "pooled", g.a.pooled, name, (size_t)B * H, TOL_OUT);
    params_zero_grad(&g.ps);
    bert_backward(&g.m, &g.a, R1, R2, g.ids, g.types, B, T);
    // Each gradient is compared relative to max(its own scale, 1e-2 * the largest gradient of the
    // model): the key biases' true gradient is exactly 0 (softmax is shift-invariant), so their
    // float32 values are pure rounding noise that only a model-wide floor can judge.
    double gfloor = 1e-2 * grad_scale(&g, tag);
    for (int i = 0; i < g.ps.n; i++) {
        const ParamInfo *pi = &g.ps.p[i];
        snprintf(name, sizeof name, "%sgrad.%s", tag, pi->name);
        double e = cmp_floor(&g, pi->name, g.ps.grad + pi->offset, name, pi->numel, TOL_GRAD, gfloor);
        if (strstr(pi->name, "key.bias")) {
            if (e > e_kb) e_kb = e;
        } else if (e > e_grad) {
            e_grad = e;
        }
    }
    // padding_idx: the pad row's gradient is exactly zero (the fixture has pad ids in the batch)
    int pad = g.cfg.pad_token_id, seen = 0;
    for (int i = 0; i < B * T; i++) seen += g.ids[i] == pad;
    assert_true(seen > 0);
    for (int j = 0; j < H; j++) assert_true(g.m.g.word[(size_t)pad * H + j] == 0.0f);
    // ... while the rows that occur get one
    double s = 0;
    for (int j = 0; j < H; j++) s += fabs(g.m.g.word[(size_t)g.ids[0] * H + j]);
    assert_true(s > 0);

    // split stages (as WSA-BERT calls them): same results, and the stack-input gradient
    float *x = falloc(n), *dx = falloc(n), *dseq = falloc(n);
    float *grad_full = falloc(g.ps.total);
    memcpy(grad_full, g.ps.grad, g.ps.total * sizeof(float));
    params_zero_grad(&g.ps);
    bert_embeddings_forward(&g.m, &g.a, g.ids, g.types, B, T, NULL);
    memcpy(x, g.a.emb_out, n * sizeof(float)); // the caller's own copy ("fused" input)
    bert_stack_forward(&g.m, &g.a, x, mask, B, T, NULL);
    bert_pooler_forward(&g.m, &g.a, B, T);
    snprintf(name, sizeof name, "%spooled", tag);
    cmp(&g, "split pooled", g.a.pooled, name, (size_t)B * H, TOL_OUT);
    memcpy(dseq, R1, n * sizeof(float));
    bert_pooler_backward(&g.m, &g.a, dseq, R2, B, T);
    for (size_t i = 0; i < n; i++) dx[i] = 1.0f; // accumulates: start from 1, subtract later
    bert_stack_backward(&g.m, &g.a, dx, dseq, x, B, T);
    for (size_t i = 0; i < n; i++) dx[i] -= 1.0f;
    snprintf(name, sizeof name, "%sd_emb_out", tag);
    e_dx = cmp(&g, "stack input gradient", dx, name, n, TOL_GRAD);
    bert_embeddings_backward(&g.m, &g.a, dx, g.ids, g.types, B, T);
    double diff = rel_err_scale(g.ps.grad, grad_full, (long)g.ps.total, 1e-6);
    if (diff > 1e-5) fail_msg("split-stage gradients differ from the full backward: %.3g", diff);
    print_message("bert golden %s (acts %dx%d for %dx%d): emb_out %.2g seq %.2g pooled %.2g d_input %.2g "
                  "worst param grad %.2g (key biases, true value 0: %.2g)\n",
                  tag, g.a.Bmax, g.a.Tmax, B, T, e_emb, e_seq, e_pool, e_dx, e_grad, e_kb);
    free(x), free(dx), free(dseq), free(grad_full), free(R1), free(R2);
    golden_close(&g);
}

static void test_golden_masked(void **state) {
    (void)state;
    run_golden(1, 0, 0);
}
static void test_golden_nomask(void **state) {
    (void)state;
    run_golden(0, 0, 0);
}
// activations sized for a larger batch than used: the strided layout
static void test_golden_masked_larger_acts(void **state) {
    (void)state;
    run_golden(1, 5, 11);
}

// ---------------------------------------------------------------- finite differences

typedef struct {
    Bert m;
    BertActs a;
    ParamSet ps;
    int B, T, split;
    int32_t ids[16], types[16];
    float mask[16];
    float *x; // stack input in split mode
    float *R1, *R2;
    Rng *rng;          // dropout rng (reseeded before every forward), or NULL
    uint64_t rng_seed_;
} Fd;

static void fd_forward(Fd *f) {
    Rng r;
    Rng *rp = NULL;
    if (f->rng) {
        rng_seed(&r, f->rng_seed_, RNG_STREAM_DROPOUT);
        rp = &r;
    }
    if (f->split) {
        bert_stack_forward(&f->m, &f->a, f->x, f->mask, f->B, f->T, rp);
        bert_pooler_forward(&f->m, &f->a, f->B, f->T);
    } else {
        bert_forward(&f->m, &f->a, f->ids, f->types, f->mask, f->B, f->T, rp);
    }
}

static double fd_loss(void *ctx) {
    Fd *f = ctx;
    fd_forward(f);
    int H = f->m.cfg.hidden_size;
    return dot_d(f->a.seq, f->R1, (long)f->B * f->T * H) + dot_d(f->a.pooled, f->R2, (long)f->B * H);
}

static void run_fd(int dropout, int split) {
    char err[MIRD_ERRLEN];
    // Thousands of tiny forwards: one thread (OpenMP barriers only cost time at these sizes,
    // a lot of it on a loaded machine); the golden tests cover the threaded kernels.
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    BertConfig c;
    bert_config_default(&c);
    c.vocab_size = 11, c.hidden_size = 8, c.num_hidden_layers = 2, c.num_attention_heads = 2;
    c.intermediate_size = 12, c.max_position_embeddings = 6, c.type_vocab_size = 3, c.pad_token_id = 1;
    c.hidden_dropout_prob = 0.2f, c.attention_probs_dropout_prob = 0.3f;
    c.layer_norm_eps = 1e-5f;
    assert_int_equal(bert_config_validate(&c, err), 0);
    Fd f;
    memset(&f, 0, sizeof(f));
    f.B = 2, f.T = 5, f.split = split;
    params_init(&f.ps);
    bert_register(&f.m, &f.ps, &c, "m.");
    params_alloc(&f.ps);
    bert_bind(&f.m, &f.ps);
    Rng r;
    rng_seed(&r, 7 + dropout + 2 * split, RNG_STREAM_INIT);
    fill_normal(f.ps.data, (long)f.ps.total, 0.4f, &r); // everything random, LayerNorm weights too
    if (bert_acts_init(&f.a, &c, f.B, f.T, err)) fail_msg("%s", err);
    int BT = f.B * f.T, H = c.hidden_size;
    for (int i = 0; i < BT; i++) {
        f.ids[i] = (int32_t)rng_below(&r, (uint32_t)c.vocab_size);
        f.types[i] = (int32_t)rng_below(&r, (uint32_t)c.type_vocab_size);
        f.mask[i] = 1;
    }
    f.ids[3] = c.pad_token_id, f.ids[8] = c.pad_token_id, f.ids[9] = c.pad_token_id;
    f.mask[8] = f.mask[9] = 0;
    f.R1 = falloc((size_t)BT * H), f.R2 = falloc((size_t)f.B * H), f.x = falloc((size_t)BT * H);
    fill_normal(f.R1, (long)BT * H, 1, &r);
    fill_normal(f.R2, (long)f.B * H, 1, &r);
    fill_normal(f.x, (long)BT * H, 1, &r);
    Rng dr;
    if (dropout) f.rng = &dr, f.rng_seed_ = 99;
    float *dx = falloc((size_t)BT * H);
    fd_forward(&f);
    params_zero_grad(&f.ps);
    if (split) {
        float *dseq = falloc((size_t)BT * H);
        memcpy(dseq, f.R1, (size_t)BT * H * sizeof(float));
        bert_pooler_backward(&f.m, &f.a, dseq, f.R2, f.B, f.T);
        bert_stack_backward(&f.m, &f.a, dx, dseq, f.x, f.B, f.T);
        free(dseq);
    } else {
        bert_backward(&f.m, &f.a, f.R1, f.R2, f.ids, f.types, f.B, f.T);
    }
    const char *names[] = {"embeddings.word_embeddings.weight",
                           "embeddings.position_embeddings.weight",
                           "embeddings.token_type_embeddings.weight",
                           "embeddings.LayerNorm.weight",
                           "embeddings.LayerNorm.bias",
                           "encoder.layer.0.attention.self.query.weight",
                           "encoder.layer.0.attention.self.key.weight",
                           "encoder.layer.0.attention.self.value.bias",
                           "encoder.layer.0.attention.output.dense.weight",
                           "encoder.layer.0.attention.output.LayerNorm.weight",
                           "encoder.layer.0.intermediate.dense.weight",
                           "encoder.layer.1.attention.self.key.bias",
                           "encoder.layer.1.output.dense.weight",
                           "encoder.layer.1.output.LayerNorm.bias",
                           "pooler.dense.weight",
                           "pooler.dense.bias"};
    int bad = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (split && !strncmp(names[i], "embeddings.", 11)) continue;
        char full[PARAM_NAME_MAX];
        snprintf(full, sizeof full, "m.%s", names[i]);
        int k = params_find(&f.ps, full);
        assert_true(k >= 0);
        float *pd = f.ps.data + f.ps.p[k].offset, *pg = f.ps.grad + f.ps.p[k].offset;
        if (i == 0) { // word table: the pad row (padding_idx) is deliberately not its true gradient
            size_t pad = (size_t)c.pad_token_id * H;
            bad += gradcheck("word rows before pad", fd_loss, &f, pd, pg, (long)pad, 1e-2, 2e-2, 2e-3, 16);
            bad += gradcheck("word rows after pad", fd_loss, &f, pd + pad + H, pg + pad + H,
                             (long)(f.ps.p[k].numel - pad - H), 1e-2, 2e-2, 2e-3, 16);
            continue;
        }
        bad += gradcheck(full, fd_loss, &f, pd, pg, (long)f.ps.p[k].numel, 1e-2, 2e-2, 2e-3, 16);
    }
    if (split) bad += gradcheck("stack input", fd_loss, &f, f.x, dx, (long)BT * H, 1e-2, 2e-2, 2e-3, 40);
    // the pad row never gets a gradient
    if (!split)
        for (int j = 0; j < H; j++) assert_true(f.m.g.word[(size_t)c.pad_token_id * H + j] == 0.0f);
    assert_int_equal(bad, 0);
    free(dx), free(f.R1), free(f.R2), free(f.x);
    bert_acts_free(&f.a);
    bert_free(&f.m);
    params_free(&f.ps);
    omp_set_num_threads(threads);
}

static void test_fd_eval(void **state) {
    (void)state;
    run_fd(0, 0);
}
static void test_fd_dropout(void **state) {
    (void)state;
    run_fd(1, 0);
}
static void test_fd_split_stack_input(void **state) {
    (void)state;
    run_fd(1, 1);
}

// ---------------------------------------------------------------- dropout (training mode)

// Fraction of the n first mask elements of a dropout key that are 0 (every kept one checked to
// carry the 1 / (1 - p) scaling).
static double zero_frac(const DropKey *d, long n, float p) {
    long z = 0;
    for (long i = 0; i < n; i++) {
        float m = dropkey_mask(d, (uint64_t)i);
        z += m == 0.0f;
        assert_true(m == 0.0f || fabs(m - 1 / (1.0 - p)) < 1e-6);
    }
    return (double)z / n;
}

// Training mode draws masks at the configured rates (HF: hidden_dropout_prob on the embeddings and
// after both dense outputs, attention_probs_dropout_prob on the attention probabilities), is
// reproducible from the seed, and leaves no state behind for a following eval forward.
static void test_dropout_train_mode(void **state) {
    (void)state;
    Golden g;
    golden_open(&g, 0, 0);
    g.m.cfg.hidden_dropout_prob = 0.25f, g.m.cfg.attention_probs_dropout_prob = 0.4f;
    int B = g.B, T = g.T, H = g.cfg.hidden_size, NH = g.cfg.num_attention_heads, L = g.cfg.num_hidden_layers;
    size_t n = (size_t)B * T * H, natt = (size_t)B * NH * T * T;
    float *seq1 = falloc(n);
    Rng r;
    rng_seed(&r, 5, RNG_STREAM_DROPOUT);
    bert_forward(&g.m, &g.a, g.ids, g.types, g.mask, B, T, &r);
    assert_true(g.a.emb_drop.thr && g.a.stack_train);
    memcpy(seq1, g.a.seq, n * sizeof(float));
    double fe = zero_frac(&g.a.emb_drop, (long)n, 0.25f), fa = 0, fh = 0;
    for (int l = 0; l < L; l++) {
        fa += zero_frac(&g.a.attn_drop[l], (long)natt, 0.4f) / L;
        fh += (zero_frac(&g.a.ao_drop[l], (long)n, 0.25f) + zero_frac(&g.a.proj_drop[l], (long)n, 0.25f)) / (2 * L);
    }
    print_message("bert dropout zero fractions: embeddings %.3f hidden %.3f (p 0.25) attention %.3f (p 0.4)\n", fe,
                  fh, fa);
    assert_true(fabs(fe - 0.25) < 0.05 && fabs(fh - 0.25) < 0.03 && fabs(fa - 0.4) < 0.05);
    // the same seed gives the same result
    rng_seed(&r, 5, RNG_STREAM_DROPOUT);
    bert_forward(&g.m, &g.a, g.ids, g.types, g.mask, B, T, &r);
    assert_memory_equal(seq1, g.a.seq, n * sizeof(float));
    // eval afterwards: the golden outputs again
    bert_forward(&g.m, &g.a, g.ids, g.types, g.mask, B, T, NULL);
    assert_false(g.a.emb_drop.thr || g.a.stack_train);
    cmp(&g, "eval after training", g.a.seq, "masked.seq", n, TOL_OUT);
    free(seq1);
    golden_close(&g);
}

// ---------------------------------------------------------------- misc

static void test_inputs_and_names(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    BertConfig c;
    bert_config_default(&c);
    c.vocab_size = 10, c.hidden_size = 4, c.num_hidden_layers = 3, c.num_attention_heads = 2;
    c.intermediate_size = 6, c.max_position_embeddings = 4;
    int32_t ids[4] = {0, 9, 3, 2}, types[4] = {0, 1, 1, 0};
    assert_int_equal(bert_check_inputs(&c, ids, types, 1, 4, err), 0);
    assert_int_equal(bert_check_inputs(&c, ids, NULL, 2, 2, err), 0);
    ids[2] = 10;
    assert_int_equal(bert_check_inputs(&c, ids, types, 1, 4, err), -1);
    ids[2] = 3, types[1] = 2;
    assert_int_equal(bert_check_inputs(&c, ids, types, 1, 4, err), -1);
    assert_int_equal(bert_check_inputs(&c, ids, NULL, 1, 5, err), -1);
    BertActs a;
    assert_int_equal(bert_acts_init(&a, &c, 2, 5, err), -1); // T > max_position_embeddings
    // registration: count and a few exact names with the prefix
    ParamSet ps;
    Bert m;
    params_init(&ps);
    bert_register(&m, &ps, &c, "mult_encoder.model.");
    assert_int_equal(ps.n, 5 + 16 * 3 + 2);
    assert_true(params_find(&ps, "mult_encoder.model.encoder.layer.2.output.LayerNorm.bias") >= 0);
    int k = params_find(&ps, "mult_encoder.model.encoder.layer.1.intermediate.dense.weight");
    assert_true(k >= 0 && ps.p[k].shape[0] == 6 && ps.p[k].shape[1] == 4);
    k = params_find(&ps, "mult_encoder.model.encoder.layer.0.output.dense.weight");
    assert_true(k >= 0 && ps.p[k].shape[0] == 4 && ps.p[k].shape[1] == 6);
    assert_true(params_find(&ps, "mult_encoder.model.pooler.dense.bias") >= 0);
    params_alloc(&ps);
    bert_bind(&m, &ps);
    Rng r;
    rng_seed(&r, 1, RNG_STREAM_INIT);
    bert_init_weights(&m, &r);
    assert_true(m.w.layer[2].ln2_w[3] == 1.0f && m.w.layer[2].ln2_b[3] == 0.0f && m.w.pool_b[0] == 0.0f);
    assert_true(m.w.word[0] != 0.0f); // the pad row is initialised like the others (MIRD.md)
    bert_free(&m);
    params_free(&ps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_inputs_and_names),
        cmocka_unit_test(test_golden_masked),
        cmocka_unit_test(test_golden_nomask),
        cmocka_unit_test(test_golden_masked_larger_acts),
        cmocka_unit_test(test_dropout_train_mode),
        cmocka_unit_test(test_fd_eval),
        cmocka_unit_test(test_fd_dropout),
        cmocka_unit_test(test_fd_split_stack_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
