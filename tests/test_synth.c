// test_synth.c: the synthetic benchmark (`mird synth`), its pickle writer and the
// disentanglement probe: exact pickle bytes and a round trip through the project's pickle reader,
// determinism, the label distribution, unaligned lengths and padding, oracle vs chance, vocabulary
// coverage through the real tokenizer, ridge R^2 on planted latents, and the two commands.
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/rng.h"
#include "data/disentangle.h"
#include "data/synth.h"
#include "io/pickle.h"
#include "io/pickle_write.h"
#include "io/safetensors.h"
#include "models/mird_config.h"
#include "testutil.h"
#include "text/tokenizer.h"
#include "train/metrics.h"

static const char *const NP_ALLOW[] = {"numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype", NULL};

// ---- temporary directories under build/
static char *make_tmpdir(void) {
    char *t = xstrdup("build/test_synth_XXXXXX");
    if (!mkdtemp(t)) fail_msg("mkdtemp failed");
    return t;
}
static void rm_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(dir);
}
static char *slurp(const char *dir, const char *name, size_t *len) {
    char p[4096], err[MIRD_ERRLEN];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *buf;
    if (read_file_all(p, &buf, len, err)) fail_msg("%s", err);
    return buf;
}

static void small_config(SynthConfig *c, uint64_t seed) {
    synth_default(c);
    c->seed = seed;
    c->n[SYN_TRAIN] = 50, c->n[SYN_VALID] = 20, c->n[SYN_TEST] = 30, c->n[SYN_UNLABELED] = 40;
    c->Ta = 30, c->Tv = 12, c->d_a = 7, c->d_v = 5;
}

// ---- the pickle writer
static void test_pickle_writer_exact_bytes(void **st) {
    (void)st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    PickleWriter w;
    pkw_begin(&w, f);
    pkw_dict_begin(&w, 2);
    pkw_str(&w, "a");
    pkw_list_begin(&w, 2);
    pkw_float(&w, 1.5);
    pkw_int(&w, 300);
    pkw_list_end(&w);
    pkw_str(&w, "b");
    pkw_list_begin(&w, 1);
    pkw_none(&w);
    pkw_list_end(&w);
    pkw_dict_end(&w);
    char err[MIRD_ERRLEN];
    assert_int_equal(pkw_finish(&w, err), 0);
    fclose(f);
    // What Python's pickle.dumps({'a': [1.5, 300], 'b': [None]}, protocol=4) writes, without
    // its FRAME and MEMOIZE opcodes.
    static const uint8_t want[] = {0x80, 4, '}', '(', 0x8c, 1, 'a', ']', '(', 'G', 0x3f, 0xf8, 0, 0, 0, 0, 0, 0,
                                   'M', 0x2c, 0x01, 'e', 0x8c, 1, 'b', ']', 'N', 'a', 'u', '.'};
    assert_int_equal(len, sizeof want);
    assert_memory_equal(buf, want, sizeof want);
    free(buf);

    // misuse is reported, not crashed on
    f = open_memstream(&buf, &len);
    pkw_begin(&w, f);
    pkw_list_begin(&w, 1);
    pkw_int(&w, 1);
    pkw_int(&w, 2);
    pkw_list_end(&w);
    assert_int_equal(pkw_finish(&w, err), -1);
    assert_non_null(strstr(err, "more items"));
    fclose(f);
    free(buf);
}

static void test_pickle_writer_reader_roundtrip(void **st) {
    (void)st;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    float a[24];
    double d[3] = {0.25, -1e300, 3};
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f - 3;
    int64_t sa[3] = {2, 3, 4}, sd[1] = {3};
    PickleWriter w;
    pkw_begin(&w, f);
    pkw_dict_begin(&w, 4);
    pkw_str(&w, "big"); // 2500 items: batches of 1000, 1000, 500
    pkw_list_begin(&w, 2500);
    for (int i = 0; i < 2500; i++) pkw_int(&w, (int64_t)i * 100000 - 3000000000LL);
    pkw_list_end(&w);
    pkw_str(&w, "f32");
    pkw_ndarray_f32(&w, a, 3, sa);
    pkw_str(&w, "f64");
    pkw_ndarray_f64(&w, d, 1, sd);
    pkw_str(&w, "s\xc3\xa9");
    pkw_list_begin(&w, 3);
    pkw_bool(&w, 1);
    char longs[300];
    memset(longs, 'x', 299), longs[299] = 0;
    pkw_str(&w, longs);
    pkw_list_begin(&w, 0);
    pkw_list_end(&w);
    pkw_list_end(&w);
    pkw_dict_end(&w);
    char err[MIRD_ERRLEN];
    assert_int_equal(pkw_finish(&w, err), 0);
    fclose(f);

    Pickle *pk;
    PickleOptions o = {.allow = NP_ALLOW};
    if (pickle_parse(&pk, (const uint8_t *)buf, len, &o, "roundtrip", err)) fail_msg("%s", err);
    const PkObj *r = pickle_root(pk);
    assert_int_equal(r->kind, PK_DICT);
    const PkObj *big = pk_dict_get(r, "big");
    assert_int_equal(big->kind, PK_LIST);
    assert_int_equal(big->seq.n, 2500);
    for (int i = 0; i < 2500; i++) assert_true(big->seq.v[i]->i == (int64_t)i * 100000 - 3000000000LL);
    const PkObj *arr = pk_dict_get(r, "f32");
    assert_true(pk_is_call_of(arr, "numpy.core.multiarray._reconstruct"));
    const PkObj *state = arr->call.state;
    assert_int_equal(state->kind, PK_TUPLE);
    assert_int_equal(state->seq.n, 5);
    const PkObj *shape = state->seq.v[1];
    assert_int_equal(shape->seq.n, 3);
    assert_true(shape->seq.v[0]->i == 2 && shape->seq.v[1]->i == 3 && shape->seq.v[2]->i == 4);
    const PkObj *dt = state->seq.v[2];
    assert_true(pk_is_call_of(dt, "numpy.dtype"));
    assert_true(pk_is_str(dt->call.args->seq.v[0], "f4"));
    assert_true(pk_is_str(dt->call.state->seq.v[1], "<"));
    assert_int_equal(state->seq.v[3]->kind, PK_BOOL);
    assert_int_equal(state->seq.v[3]->i, 0);
    assert_int_equal(state->seq.v[4]->kind, PK_BYTES);
    assert_int_equal(state->seq.v[4]->s.len, sizeof a);
    assert_memory_equal(state->seq.v[4]->s.p, a, sizeof a);
    const PkObj *s64 = pk_dict_get(r, "f64")->call.state;
    assert_true(pk_is_str(s64->seq.v[2]->call.args->seq.v[0], "f8"));
    assert_memory_equal(s64->seq.v[4]->s.p, d, sizeof d);
    const PkObj *l = pk_dict_get(r, "s\xc3\xa9");
    assert_int_equal(l->seq.n, 3);
    assert_int_equal(l->seq.v[1]->s.len, 299);
    assert_int_equal(l->seq.v[2]->kind, PK_LIST);
    assert_int_equal(l->seq.v[2]->seq.n, 0);
    pickle_free(pk);
    free(buf);
}

// ---- the data set
static void test_files_deterministic_and_parse(void **st) {
    (void)st;
    SynthConfig c;
    small_config(&c, 7);
    char err[MIRD_ERRLEN];
    char *d1 = make_tmpdir(), *d2 = make_tmpdir(), *d3 = make_tmpdir();
    if (synth_write(&c, d1, NULL, err) || synth_write(&c, d2, NULL, err)) fail_msg("%s", err);
    c.seed = 8;
    if (synth_write(&c, d3, NULL, err)) fail_msg("%s", err);
    const char *files[] = {"data.pkl", "unlabeled.pkl", "vocab.txt", "model.json", "factors.safetensors",
                           "oracle.json", "synth.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t n1, n2;
        char *a = slurp(d1, files[i], &n1), *b = slurp(d2, files[i], &n2);
        if (n1 != n2 || memcmp(a, b, n1)) fail_msg("%s differs between two runs with the same seed", files[i]);
        free(a), free(b);
    }
    size_t n1, n3;
    char *a = slurp(d1, "data.pkl", &n1), *b = slurp(d3, "data.pkl", &n3);
    assert_true(n1 != n3 || memcmp(a, b, n1) != 0);
    free(a), free(b);

    // data.pkl parses with the project's reader and holds what the generator makes
    char p[4096];
    snprintf(p, sizeof p, "%s/data.pkl", d1);
    Pickle *pk;
    PickleOptions o = {.allow = NP_ALLOW};
    if (pickle_load(&pk, p, &o, err)) fail_msg("%s", err);
    c.seed = 7;
    SynthWorld w;
    synth_world_init(&w, &c);
    const char *names[3] = {"train", "valid", "test"};
    for (int k = 0; k < 3; k++) {
        SynthSplit s;
        synth_generate(&c, &w, k, c.n[k], &s);
        const PkObj *sp = pk_dict_get(pickle_root(pk), names[k]);
        assert_non_null(sp);
        const PkObj *txt = pk_dict_get(sp, "raw_text"), *lab = pk_dict_get(sp, "labels");
        assert_int_equal(txt->seq.n, c.n[k]);
        assert_int_equal(lab->seq.n, c.n[k]);
        for (int i = 0; i < c.n[k]; i++) {
            assert_true(pk_is_str(txt->seq.v[i], s.text[i]));
            assert_int_equal(lab->seq.v[i]->kind, PK_FLOAT);
            assert_true(lab->seq.v[i]->f == s.labels[i]);
        }
        const PkObj *au = pk_dict_get(sp, "audio")->call.state, *vi = pk_dict_get(sp, "video")->call.state;
        assert_true(au->seq.v[1]->seq.v[1]->i == c.Ta && au->seq.v[1]->seq.v[2]->i == c.d_a);
        assert_true(vi->seq.v[1]->seq.v[1]->i == c.Tv && vi->seq.v[1]->seq.v[2]->i == c.d_v);
        assert_memory_equal(au->seq.v[4]->s.p, s.audio, sizeof(float) * c.n[k] * c.Ta * c.d_a);
        assert_memory_equal(vi->seq.v[4]->s.p, s.video, sizeof(float) * c.n[k] * c.Tv * c.d_v);
        synth_split_free(&s);
    }
    pickle_free(pk);
    snprintf(p, sizeof p, "%s/unlabeled.pkl", d1);
    if (pickle_load(&pk, p, &o, err)) fail_msg("%s", err);
    assert_null(pk_dict_get(pickle_root(pk), "labels"));
    assert_int_equal(pk_dict_get(pickle_root(pk), "raw_text")->seq.n, c.n[SYN_UNLABELED]);
    pickle_free(pk);

    // model.json is a valid model configuration for this data
    MirdConfig mc;
    snprintf(p, sizeof p, "%s/model.json", d1);
    if (mird_config_load(&mc, p, err)) fail_msg("%s", err);
    const char *const *tok;
    assert_int_equal(mc.bert.vocab_size, synth_vocab(&tok));
    assert_int_equal(mc.d_a, c.d_a);
    assert_int_equal(mc.d_v, c.d_v);
    assert_int_equal(mc.zy_size, c.z);
    assert_int_equal(mc.bert.hidden_size, c.hidden);

    // the factor file matches the generator
    float *fac;
    int n;
    if (disent_load_factors(d1, "valid", &fac, &n, err)) fail_msg("%s", err);
    SynthSplit s;
    synth_generate(&c, &w, SYN_VALID, c.n[SYN_VALID], &s);
    assert_int_equal(n, c.n[SYN_VALID]);
    assert_memory_equal(fac, s.factors, sizeof(float) * n * SYN_NFACT);
    synth_split_free(&s);
    free(fac);
    synth_world_free(&w);
    rm_tree(d1), rm_tree(d2), rm_tree(d3);
    free(d1), free(d2), free(d3);
}

// Clip i does not depend on how many clips the split has.
static void test_prefix_stable(void **st) {
    (void)st;
    SynthConfig c;
    small_config(&c, 3);
    SynthWorld w;
    synth_world_init(&w, &c);
    SynthSplit a, b;
    synth_generate(&c, &w, SYN_TEST, 10, &a);
    synth_generate(&c, &w, SYN_TEST, 25, &b);
    for (int i = 0; i < 10; i++) assert_string_equal(a.text[i], b.text[i]);
    assert_memory_equal(a.audio, b.audio, sizeof(float) * 10 * c.Ta * c.d_a);
    assert_memory_equal(a.labels, b.labels, sizeof(double) * 10);
    synth_split_free(&a), synth_split_free(&b);
    synth_world_free(&w);
}

static void test_label_distribution(void **st) {
    (void)st;
    SynthConfig c;
    synth_default(&c);
    c.d_a = 2, c.d_v = 2; // labels do not depend on the feature sizes; keep it fast
    SynthWorld w;
    synth_world_init(&w, &c);
    SynthSplit s;
    synth_generate(&c, &w, SYN_TRAIN, c.n[SYN_TRAIN], &s);
    double sum = 0, sum2 = 0, mn = 9, mx = -9;
    int zeros = 0, extreme = 0, off_grid = 0;
    for (int i = 0; i < s.n; i++) {
        double y = s.labels[i];
        sum += y, sum2 += y * y, mn = fmin(mn, y), mx = fmax(mx, y);
        zeros += y == 0, extreme += fabs(y) >= 2.5;
        int on = 0;
        for (int m = 3; m <= 5; m++) on |= fabs(y * m - nearbyint(y * m)) < 1e-9;
        off_grid += !on;
    }
    double mean = sum / s.n, sd = sqrt(sum2 / s.n - mean * mean);
    print_message("train labels: mean %.3f std %.3f range [%.2f, %.2f] zero %.3f |y|>=2.5 %.3f\n", mean, sd, mn, mx,
                  (double)zeros / s.n, (double)extreme / s.n);
    assert_true(fabs(mean) < 0.25);
    assert_true(sd > 1.3 && sd < 1.75);
    assert_true(mn >= -3 && mx <= 3 && mn <= -2.5 && mx >= 2.5);
    assert_true(zeros >= 0.015 * s.n && zeros <= 0.1 * s.n);   // Has0 and Non0 differ
    assert_true(extreme >= 0.02 * s.n && extreme <= 0.2 * s.n); // few extreme
    assert_int_equal(off_grid, 0);                              // multiples of 1/3, 1/4 or 1/5
    synth_split_free(&s);
    synth_world_free(&w);
}

static void check_lengths(int pad_front) {
    SynthConfig c;
    synth_default(&c);
    c.d_a = 6, c.d_v = 4, c.pad_front = pad_front;
    SynthWorld w;
    synth_world_init(&w, &c);
    SynthSplit s;
    synth_generate(&c, &w, SYN_VALID, c.n[SYN_VALID], &s);
    int seen_a[1024] = {0}, distinct = 0, full = 0, equal = 0;
    for (int i = 0; i < s.n; i++) {
        int la = s.len_a[i], lv = s.len_v[i];
        assert_true(la >= 4 && la <= c.Ta && lv >= 2 && lv <= c.Tv);
        distinct += !seen_a[la]++;
        full += la == c.Ta;
        equal += la == lv;
        // the true frames are non-zero, the padding exactly zero
        for (int t = 0; t < c.Ta; t++) {
            int inside = pad_front ? t >= c.Ta - la : t < la;
            double e = 0;
            for (int j = 0; j < c.d_a; j++) e += fabs(s.audio[((size_t)i * c.Ta + t) * c.d_a + j]);
            if (inside ? e == 0 : e != 0) fail_msg("clip %d audio frame %d (len %d): wrong padding", i, t, la);
        }
        for (int t = 0; t < c.Tv; t++) {
            int inside = pad_front ? t >= c.Tv - lv : t < lv;
            double e = 0;
            for (int j = 0; j < c.d_v; j++) e += fabs(s.video[((size_t)i * c.Tv + t) * c.d_v + j]);
            if (inside ? e == 0 : e != 0) fail_msg("clip %d visual frame %d (len %d): wrong padding", i, t, lv);
        }
        // audio and visual at their own rates: about Ta/Tv = 2.5 audio frames per visual frame
        double ratio = (double)la / lv;
        assert_true(ratio > 1.8 && ratio < 3.3);
    }
    assert_true(distinct >= 20);
    assert_true(full < s.n / 10);
    assert_true(equal == 0);
    synth_split_free(&s);
    synth_world_free(&w);
}
static void test_unaligned_lengths(void **st) {
    (void)st;
    check_lengths(0);
    check_lengths(1);
}

static void test_oracle_beats_chance(void **st) {
    (void)st;
    SynthConfig c;
    synth_default(&c);
    c.d_a = 2, c.d_v = 2;
    SynthWorld w;
    synth_world_init(&w, &c);
    SynthSplit tr, te;
    synth_generate(&c, &w, SYN_TRAIN, c.n[SYN_TRAIN], &tr);
    synth_generate(&c, &w, SYN_TEST, c.n[SYN_TEST], &te);
    double mean = 0;
    for (int i = 0; i < tr.n; i++) mean += tr.labels[i] / tr.n;
    float *y = xmalloc(sizeof(float) * te.n), *po = xmalloc(sizeof(float) * te.n), *pc = xmalloc(sizeof(float) * te.n);
    for (int i = 0; i < te.n; i++) {
        y[i] = (float)te.labels[i], pc[i] = (float)mean;
        po[i] = (float)synth_score(te.factors + (size_t)i * SYN_NFACT);
        assert_true(po[i] == (float)te.score[i]);
    }
    Metrics mo, mc;
    metrics_compute(&mo, po, y, te.n);
    metrics_compute(&mc, pc, y, te.n);
    print_message("oracle MAE %.3f Corr %.3f Non0 Acc-2 %.3f | chance MAE %.3f Non0 Acc-2 %.3f\n", mo.v[MET_MAE],
                  mo.v[MET_CORR], mo.v[MET_NON0_ACC2], mc.v[MET_MAE], mc.v[MET_NON0_ACC2]);
    assert_true(mo.v[MET_MAE] < 0.45 * mc.v[MET_MAE]);
    assert_true(mo.v[MET_CORR] > 0.9);
    assert_true(mo.v[MET_NON0_ACC2] > 0.88 && mc.v[MET_NON0_ACC2] < 0.6);
    assert_true(mo.v[MET_ACC7] > mc.v[MET_ACC7] + 0.25);
    free(y), free(po), free(pc);
    synth_split_free(&tr), synth_split_free(&te);
    synth_world_free(&w);
}

// Every word of the generated text is in the vocabulary (whole or as WordPiece pieces) except the
// director names, which are absent on purpose; almost every text fits Tl.
static void test_vocab_covers_text(void **st) {
    (void)st;
    SynthConfig c;
    small_config(&c, 11);
    c.n[SYN_TRAIN] = 400;
    char err[MIRD_ERRLEN];
    char *dir = make_tmpdir();
    char p[4096];
    snprintf(p, sizeof p, "%s/vocab.txt", dir);
    AtomicFile af;
    if (atomic_open(&af, p, err)) fail_msg("%s", err);
    const char *const *tok;
    int nv = synth_vocab(&tok);
    for (int i = 0; i < nv; i++) fprintf(af.f, "%s\n", tok[i]);
    if (atomic_commit(&af, err)) fail_msg("%s", err);
    Tokenizer *tk;
    if (tokenizer_load(&tk, p, err)) fail_msg("%s", err);
    assert_int_equal(tk->pad_id, 0);
    SynthWorld w;
    synth_world_init(&w, &c);
    SynthSplit s;
    synth_generate(&c, &w, SYN_TRAIN, c.n[SYN_TRAIN], &s);
    static const char *const names[] = {"kubrick", "tarantino", "nolan", "fincher", "villeneuve", "spielberg"};
    int32_t ids[256];
    int too_long = 0, split_words = 0;
    for (int i = 0; i < s.n; i++) {
        long np = tokenizer_pieces(tk, s.text[i], strlen(s.text[i]), ids, 256);
        assert_true(np > 0 && np <= 256);
        int unk = 0, want = 0;
        for (long j = 0; j < np; j++) unk += ids[j] == tk->unk_id, split_words += ids[j] >= nv - 7;
        for (int k = 0; k < 6; k++) want += strstr(s.text[i], names[k]) != NULL;
        if (unk != want) fail_msg("text %d '%s': %d [UNK] pieces, expected %d", i, s.text[i], unk, want);
        too_long += np > c.Tl - 2;
    }
    assert_true(too_long <= s.n / 50);
    assert_true(split_words > s.n / 10); // the "##" pieces are used
    synth_split_free(&s);
    synth_world_free(&w);
    tokenizer_free(tk);
    rm_tree(dir);
    free(dir);
}

// ---- disentanglement
static void planted(int n, int k, float *z, const float *fac, int group, double noise, Rng *r) {
    // z = tanh-free random mixing of the group's two factors (or pure noise if group < 0) + noise
    float m[2][64];
    assert_true(k <= 64);
    for (int a = 0; a < 2; a++)
        for (int j = 0; j < k; j++) m[a][j] = rng_normal(r);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double v = noise * rng_normal(r);
            if (group >= 0) v += m[0][j] * fac[i * SYN_NFACT + 2 * group] + m[1][j] * fac[i * SYN_NFACT + 2 * group + 1];
            z[i * k + j] = (float)v;
        }
}
static void test_disentangle_planted(void **st) {
    (void)st;
    enum { N = 600 };
    Rng r;
    rng_seed(&r, 5, 0);
    float *fac = xmalloc(sizeof(float) * N * SYN_NFACT);
    for (int i = 0; i < N * SYN_NFACT; i++) fac[i] = rng_normal(&r);
    int dims[4] = {16, 8, 32, 4};
    float *z[4];
    for (int g = 0; g < 4; g++) z[g] = xmalloc(sizeof(float) * N * dims[g]);
    planted(N, dims[0], z[0], fac, 0, 0.2, &r);  // z_S = S
    planted(N, dims[1], z[1], fac, 1, 0.2, &r);  // z_L = L
    planted(N, dims[2], z[2], fac, -1, 1.0, &r); // z_A = independent noise
    planted(N, dims[3], z[3], fac, 0, 0.2, &r);  // z_V = S: shared leakage, V missing
    DisentResult res;
    char err[MIRD_ERRLEN];
    if (disent_measure(N, (const float *const *)z, dims, fac, 0.01, 5, &res, err)) fail_msg("%s", err);
    for (int g = 0; g < 4; g++)
        print_message("r2 %s: %7.3f %7.3f %7.3f %7.3f\n", DIS_LATENT_NAMES[g], res.r2[g][0], res.r2[g][1], res.r2[g][2],
                      res.r2[g][3]);
    assert_true(res.r2[0][0] > 0.9 && res.r2[1][1] > 0.9 && res.r2[3][0] > 0.9);
    // independent 32-dim latent: out-of-fold R^2 about -k / n (in-sample it would be about +k / n)
    for (int h = 0; h < 4; h++) assert_true(res.r2[2][h] > -0.15 && res.r2[2][h] < 0.01);
    assert_true(fabs(res.r2[0][1]) < 0.05 && fabs(res.r2[1][0]) < 0.05 && fabs(res.r2[3][3]) < 0.05);
    assert_true(res.shared_leakage > 0.3 && res.shared_leakage < 0.34); // only z_V holds S: 1/3
    assert_true(res.cross_leakage < 0.02 && res.specific_in_shared < 0.02);
    assert_true(fabs(res.informativeness - (res.r2[0][0] + res.r2[1][1]) / 4) < 0.02);
    // latent -> latent: z_S and z_V both hold S (either predicts the other), the rest are independent
    print_message("dep zy->zv %.3f zv->zy %.3f zy->za %.3f zl->zv %.3f latent_dependence %.3f\n", res.dep[0][3],
                  res.dep[3][0], res.dep[0][2], res.dep[1][3], res.latent_dependence);
    assert_true(res.dep[0][3] > 0.9 && res.dep[3][0] > 0.9);
    for (int g = 0; g < 4; g++)
        for (int h = 0; h < 4; h++)
            if (g != h && !((g == 0 && h == 3) || (g == 3 && h == 0))) assert_true(fabs(res.dep[g][h]) < 0.1);
    assert_true(fabs(res.latent_dependence - res.dep[0][3] / 6) < 0.02); // one of the six CLUB pairs
    // scale-free: z_V * 1000 changes no R^2
    double dep03 = res.dep[0][3], dep30 = res.dep[3][0];
    for (int i = 0; i < N * dims[3]; i++) z[3][i] *= 1000.0f;
    assert_int_equal(disent_measure(N, (const float *const *)z, dims, fac, 0.01, 5, &res, err), 0);
    assert_true(fabs(res.dep[0][3] - dep03) < 1e-6 && fabs(res.dep[3][0] - dep30) < 1e-6);
    // a constant latent column and bad arguments are handled
    for (int i = 0; i < N; i++) z[2][i * dims[2]] = 1.0f;
    assert_int_equal(disent_measure(N, (const float *const *)z, dims, fac, 0.01, 5, &res, err), 0);
    assert_int_equal(disent_measure(N, (const float *const *)z, dims, fac, 0.0, 5, &res, err), -1);
    assert_int_equal(disent_measure(5, (const float *const *)z, dims, fac, 0.01, 5, &res, err), -1);
    z[1][3] = NAN;
    assert_int_equal(disent_measure(N, (const float *const *)z, dims, fac, 0.01, 5, &res, err), -1);
    assert_non_null(strstr(err, "zl"));
    for (int g = 0; g < 4; g++) free(z[g]);
    free(fac);
}

// ---- the commands
static int run(const char *args) {
    const char *bin = getenv("MIRD_BIN");
    char cmd[20000];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>&1", bin ? bin : "build/mird", args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}
static void test_commands(void **st) {
    (void)st;
    char *dir = make_tmpdir();
    char a[16384], err[MIRD_ERRLEN];
    assert_int_equal(run("synth"), 2);
    assert_int_equal(run("synth --out x --bogus 1"), 2);
    assert_int_equal(run("synth --out x --n-train abc"), 2);
    assert_int_equal(run("synth --out x --heads 3"), 2); // 64 % 3 != 0
    snprintf(a, sizeof a, "synth --out %s/sub --n-train 40 --n-valid 10 --n-test 60 --n-unlabeled 5 --ta 20 --tv 8 "
                          "--d-a 5 --d-v 3 --seed 2 --quiet",
             dir);
    assert_int_equal(run(a), 0);
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/sub", dir);
    // latents for the 60 test clips: z_S = S exactly, the others noise
    float *fac;
    int n;
    if (disent_load_factors(sub, "test", &fac, &n, err)) fail_msg("%s", err);
    assert_int_equal(n, 60);
    float zs[60 * 2], zo[60 * 3];
    Rng r;
    rng_seed(&r, 1, 0);
    for (int i = 0; i < 60; i++) {
        zs[2 * i] = fac[i * SYN_NFACT], zs[2 * i + 1] = fac[i * SYN_NFACT + 1];
        for (int j = 0; j < 3; j++) zo[3 * i + j] = rng_normal(&r);
    }
    StWriter w;
    stw_init(&w);
    int64_t s2[2] = {60, 2}, s3[2] = {60, 3};
    stw_add_f32(&w, "zy", 2, s2, zs);
    stw_add_f32(&w, "zl", 2, s3, zo);
    stw_add_f32(&w, "za", 2, s3, zo);
    char lat[4096];
    snprintf(lat, sizeof lat, "%s/lat.safetensors", dir);
    if (stw_write(&w, lat, err)) fail_msg("%s", err);
    snprintf(a, sizeof a, "disentangle --latents %s --factors %s", lat, sub);
    assert_int_equal(run(a), 1); // zv missing
    stw_add_f32(&w, "zv", 2, s3, zo);
    if (stw_write(&w, lat, err)) fail_msg("%s", err);
    snprintf(a, sizeof a, "disentangle --latents %s --factors %s --split valid", lat, sub);
    assert_int_equal(run(a), 1); // 60 rows, valid has 10
    snprintf(a, sizeof a, "disentangle --latents %s --factors %s --out %s/dis.json", lat, sub, dir);
    assert_int_equal(run(a), 0);
    snprintf(a, sizeof a, "disentangle --latents %s --factors %s --lambda -1", lat, sub);
    assert_int_equal(run(a), 2);
    size_t len;
    char *js = slurp(dir, "dis.json", &len);
    assert_non_null(strstr(js, "\"informativeness\""));
    assert_non_null(strstr(js, "\"zy\""));
    free(js);
    stw_free(&w);
    free(fac);
    snprintf(a, sizeof a, "%s/lat.safetensors", dir);
    unlink(a);
    snprintf(a, sizeof a, "%s/dis.json", dir);
    unlink(a);
    rm_tree(sub);
    rm_tree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pickle_writer_exact_bytes),
        cmocka_unit_test(test_pickle_writer_reader_roundtrip),
        cmocka_unit_test(test_files_deterministic_and_parse),
        cmocka_unit_test(test_prefix_stable),
        cmocka_unit_test(test_label_distribution),
        cmocka_unit_test(test_unaligned_lengths),
        cmocka_unit_test(test_oracle_beats_chance),
        cmocka_unit_test(test_vocab_covers_text),
        cmocka_unit_test(test_disentangle_planted),
        cmocka_unit_test(test_commands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
