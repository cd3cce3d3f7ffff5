// test_api.c: the C API (include/mird.h) against the library's own code paths, in both test builds
// (so the sanitizers see the API): predictions and latents bit-identical to the path of
// `mird predict` (model_from_checkpoint, batch_seq, model_predict) at the same batch size, token
// ids equal to raw text, the error convention on every kind of bad argument, a hostile checkpoint
// refused before any allocation, the caller's OpenMP thread count and MXCSR restored, distinct
// handles in concurrent threads, and mird_train with its callbacks, cancellation and warnings.
// (tests/test_python.sh compares the Python package with the `mird` program itself.)
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "core/common.h"
#include "core/matmul.h"
#include "data/batch.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "io/safetensors.h"
#include "mird.h"
#include "testutil.h"
#include "train/model_glue.h"
#include "train/runlog.h"
#include "train/traindata.h"

static char TMP[64];
static char CKPT[256], DATA[256], VOCAB[256];
static Dataset DS;       // the data set (raw text and frames of the test split)
static TSplit TS;        // the test split tokenised as `mird predict` does
static const DataSplit *TEST;

// ---------------------------------------------------------------- training through the API (setup)
typedef struct {
    int epochs, stop_at, warnings;
    char lines[8][4096];
} Seen;

static int on_epoch(void *user, int seed, const char *rec) {
    Seen *s = user;
    assert_int_equal(seed, 0);
    if (s->epochs < 8) snprintf(s->lines[s->epochs], sizeof s->lines[0], "%s", rec);
    s->epochs++;
    return s->stop_at && s->epochs >= s->stop_at;
}

static void on_warning(void *user, const char *msg) {
    Seen *s = user;
    assert_non_null(strstr(msg, "other values of: lr"));
    s->warnings++;
}

static int train_json(const char *out, const char *extra, Seen *seen, char **summary, mird_error *e) {
    char js[2048];
    snprintf(js, sizeof js,
             "{\"data\": \"%s/syn/data.pkl\", \"unlabeled\": \"%s/syn/unlabeled.pkl\", \"model\": \"%s/syn/model.json\","
             " \"out\": \"%s/%s\", \"epochs\": 2, \"batch_size\": 8, \"lr\": 1e-3, \"club_steps\": 1, \"max_len\": 12,"
             " \"threads\": 1, \"dump_latents\": true%s}",
             TMP, TMP, TMP, TMP, out, extra);
    mird_train_callbacks cb = {on_epoch, on_warning, seen};
    return mird_train(js, &cb, summary, e);
}

static int setup(void **state) {
    (void)state;
    snprintf(TMP, sizeof TMP, "build/test_api_XXXXXX");
    if (!mkdtemp(TMP)) return -1;
    SynthConfig c;
    synth_default(&c);
    c.n[SYN_TRAIN] = 24, c.n[SYN_VALID] = 8, c.n[SYN_TEST] = 70, c.n[SYN_UNLABELED] = 48;
    c.Ta = 8, c.Tv = 6, c.Tl = 12, c.d_a = 5, c.d_v = 4, c.hidden = 16, c.layers = 1, c.heads = 2, c.z = 8;
    char dir[128], err[MIRD_ERRLEN];
    snprintf(dir, sizeof dir, "%s/syn", TMP);
    if (synth_write(&c, dir, NULL, err)) fail_msg("%s", err);
    Seen seen = {0};
    mird_error e;
    char *summary = NULL;
    if (train_json("run", "", &seen, &summary, &e)) fail_msg("mird_train: %s", e.message);
    assert_int_equal(e.code, MIRD_OK);
    assert_int_equal(seen.epochs, 2);
    // the records are the log lines, and the summary is summary.json
    char p[256], *log, *sj;
    size_t len;
    snprintf(p, sizeof p, "%s/run/seed_0/log.jsonl", TMP);
    if (read_file_all(p, &log, &len, err)) fail_msg("%s", err);
    char both[8300];
    snprintf(both, sizeof both, "%s\n%s\n", seen.lines[0], seen.lines[1]);
    assert_string_equal(log, both);
    free(log);
    snprintf(p, sizeof p, "%s/run/summary.json", TMP);
    if (read_file_all(p, &sj, &len, err)) fail_msg("%s", err);
    assert_non_null(summary);
    assert_string_equal(summary, sj);
    free(sj);
    mird_string_free(summary);
    snprintf(CKPT, sizeof CKPT, "%s/run/seed_0/best.safetensors", TMP);
    snprintf(DATA, sizeof DATA, "%s/syn/data.pkl", TMP);
    snprintf(VOCAB, sizeof VOCAB, "%s/syn/vocab.txt", TMP);
    Tokenizer *tok;
    if (tokenizer_load(&tok, VOCAB, err)) fail_msg("%s", err);
    DatasetOptions o = {tok, 12};
    if (dataset_load(&DS, DATA, &o, err)) fail_msg("%s", err);
    tokenizer_free(tok);
    TEST = dataset_split(&DS, "test");
    if (tdata_load_split(DATA, "test", VOCAB, 12, &TS, NULL, err)) fail_msg("%s", err);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    dataset_free(&DS);
    tsplit_free(&TS);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", TMP);
    return system(cmd) != 0;
}

// ---------------------------------------------------------------- the reference: `mird predict`'s path
typedef struct {
    float *y, *z[4];
} Outs;

static Outs outs_alloc(int n, int z) {
    Outs o;
    o.y = xcalloc((size_t)n, sizeof(float));
    for (int k = 0; k < 4; k++) o.z[k] = xcalloc((size_t)n * z, sizeof(float));
    return o;
}
static void outs_free(Outs *o) {
    free(o->y);
    for (int k = 0; k < 4; k++) free(o->z[k]);
}

// cli/evalcommon.c's eval_predict with batches of bs clips (and the latents as the trainer takes them)
static Outs reference(const TSplit *s, int bs) {
    char err[MIRD_ERRLEN];
    Model m;
    int cap = bs < s->n ? bs : s->n;
    if (model_from_checkpoint(&m, CKPT, cap, s->Tl, s->Ta, s->Tv, err)) fail_msg("%s", err);
    int z = model_latent_size(&m);
    Outs o = outs_alloc(s->n, z);
    float *lat = xmalloc(sizeof(float) * (size_t)s->n * 4 * z);
    Batch b;
    batch_alloc(&b, cap, cap, s->Tl, s->Ta, s->Tv, s->d_a, s->d_v);
    for (int i0 = 0, nb; i0 < s->n; i0 += nb) {
        nb = batch_seq(&b, &s->d, i0, cap);
        model_predict(&m, &b, o.y + i0, lat + (size_t)i0 * 4 * z);
    }
    for (int i = 0; i < s->n; i++)
        for (int k = 0; k < 4; k++) memcpy(o.z[k] + (size_t)i * z, lat + ((size_t)i * 4 + k) * z, sizeof(float) * z);
    free(lat);
    batch_free(&b);
    model_free(&m);
    return o;
}

static void same(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float))) fail_msg("%s[%zu]: %.9g != %.9g", what, i, a[i], b[i]);
}

static mird_clips text_clips(void) {
    mird_clips c;
    memset(&c, 0, sizeof c);
    c.n = TEST->n, c.texts = (const char *const *)TEST->text;
    c.audio = TEST->audio, c.ta = TEST->Ta, c.da = TEST->d_a;
    c.video = TEST->visual, c.tv = TEST->Tv, c.dv = TEST->d_v;
    return c;
}

static mird_model *open_ok(void) {
    mird_model *m = NULL;
    mird_error e;
    if (mird_model_open(&m, CKPT, NULL, &e)) fail_msg("%s", e.message);
    return m;
}

// ---------------------------------------------------------------- tests
static void test_versions_and_errors(void **state) {
    (void)state;
    assert_int_equal(mird_api_version(), MIRD_API_VERSION);
    assert_string_equal(mird_version(), MIRD_VERSION);
    mird_error e;
    mird_model *m = (mird_model *)&e; // must be reset to NULL on failure
    assert_int_equal(mird_model_open(&m, "build/no_such_dir/x.safetensors", NULL, &e), MIRD_ERR_FILE);
    assert_null(m);
    assert_int_equal(e.code, MIRD_ERR_FILE);
    assert_non_null(strstr(e.message, "build/no_such_dir/x.safetensors: "));
    assert_null(strchr(e.message, '\n'));
    assert_int_equal(mird_model_open(&m, "build/no_such_dir/x.safetensors", NULL, NULL), MIRD_ERR_FILE); // err NULL
    assert_int_equal(mird_model_open(NULL, CKPT, NULL, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_model_open(&m, NULL, NULL, &e), MIRD_ERR_ARG);
    // a data file is not a checkpoint; a vocabulary that does not exist
    assert_int_equal(mird_model_open(&m, DATA, NULL, &e), MIRD_ERR_FILE);
    assert_int_equal(mird_model_open(&m, CKPT, "build/no_such_vocab.txt", &e), MIRD_ERR_FILE);
    assert_non_null(strstr(e.message, "no_such_vocab.txt"));
    assert_int_equal(mird_model_get(NULL, MIRD_KEY_D_A), -1);
    mird_model_close(NULL);
    mird_string_free(NULL);
    assert_int_equal(mird_predict(NULL, NULL, NULL, NULL, NULL, NULL, NULL, &e), MIRD_ERR_ARG);

    assert_int_equal(mird_model_open(&m, CKPT, NULL, &e), MIRD_OK);
    assert_int_equal(e.code, MIRD_OK); // cleared by a success
    assert_string_equal(e.message, "");
    assert_int_equal(mird_model_get(m, MIRD_KEY_MAX_LEN), 12);
    assert_int_equal(mird_model_get(m, MIRD_KEY_FRAMES_A), 8);
    assert_int_equal(mird_model_get(m, MIRD_KEY_FRAMES_V), 6);
    assert_int_equal(mird_model_get(m, MIRD_KEY_D_A), 5);
    assert_int_equal(mird_model_get(m, MIRD_KEY_SIZE_ZV), 8);
    assert_int_equal(mird_model_get(m, MIRD_KEY_HAS_VOCAB), 1);
    assert_int_equal(mird_model_get(m, MIRD_KEY_BATCH_SIZE), 64);
    assert_int_equal(mird_model_get(m, 99), -1);
    assert_int_equal(mird_model_set(m, 99, 1, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_model_set(m, MIRD_KEY_D_A, 3, &e), MIRD_ERR_ARG); // read-only
    assert_int_equal(mird_model_set(m, MIRD_KEY_BATCH_SIZE, 0, &e), MIRD_ERR_ARG);
    assert_non_null(strstr(e.message, "batch_size = 0"));
    assert_int_equal(mird_model_set(m, MIRD_KEY_MAX_LEN, 100000, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_model_set(m, MIRD_KEY_THREADS, -1, &e), MIRD_ERR_ARG);
    // precision: 0 by default; 1 where the CPU has bfloat16 products; nothing else
    assert_int_equal(mird_model_get(m, MIRD_KEY_PRECISION), 0);
    assert_int_equal(mird_model_set(m, MIRD_KEY_PRECISION, 2, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_model_set(m, MIRD_KEY_PRECISION, 1, &e), matmul_bf16_supported() ? MIRD_OK : MIRD_ERR_ARG);
    assert_int_equal(mird_model_get(m, MIRD_KEY_PRECISION), matmul_bf16_supported());
    assert_int_equal(mird_model_set(m, MIRD_KEY_PRECISION, 0, &e), MIRD_OK);

    // bad clips: nothing computed, the right code, one line
    float y[80];
    mird_clips c = text_clips();
    struct {
        const char *what;
        int code;
        const char *msg;
    } cases[] = {
        {"n < 0", MIRD_ERR_ARG, "n = -1"},      {"no text", MIRD_ERR_ARG, "either texts or token ids"},
        {"both", MIRD_ERR_ARG, "not both"},     {"d_a", MIRD_ERR_ARG, "audio: 3 values per frame, the model expects 5"},
        {"ta 0", MIRD_ERR_ARG, "audio: 0 frames"}, {"d_v", MIRD_ERR_ARG, "video: 9 values per frame"},
        {"NaN", MIRD_ERR_DATA, "audio: clip 2, frame 1, value 3 is not finite"}, {"NULL text", MIRD_ERR_ARG, "texts[1] is NULL"},
        {"long ids", MIRD_ERR_ARG, "token ids per clip"}, {"bad id", MIRD_ERR_DATA, "ids[0][1] = 9999 is outside"},
        {"bad mask", MIRD_ERR_DATA, "mask[0][0] = 2"},
    };
    int32_t ids[2 * 12] = {2, 9999}, mask[2 * 12] = {2};
    float *nan_audio = xmalloc(sizeof(float) * (size_t)TEST->n * TEST->Ta * TEST->d_a);
    memcpy(nan_audio, TEST->audio, sizeof(float) * (size_t)TEST->n * TEST->Ta * TEST->d_a);
    nan_audio[(2 * TEST->Ta + 1) * TEST->d_a + 3] = NAN;
    const char *texts2[2] = {"fine", NULL};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        mird_clips b = c;
        switch (k) {
        case 0: b.n = -1; break;
        case 1: b.texts = NULL; break;
        case 2: b.ids = ids, b.tl = 12; break;
        case 3: b.da = 3; break;
        case 4: b.ta = 0; break;
        case 5: b.dv = 9; break;
        case 6: b.audio = nan_audio; break;
        case 7: b.n = 2, b.texts = texts2; break;
        case 8: b.n = 2, b.texts = NULL, b.ids = ids, b.tl = 100000; break;
        case 9: b.n = 1, b.texts = NULL, b.ids = ids, b.tl = 12; break;
        case 10: ids[1] = 5, b.n = 1, b.texts = NULL, b.ids = ids, b.mask = mask, b.tl = 12; break;
        }
        y[0] = 12345;
        int rc = mird_predict(m, &b, y, NULL, NULL, NULL, NULL, &e);
        if (rc != cases[k].code || e.code != rc || !strstr(e.message, cases[k].msg))
            fail_msg("%s: code %d, message '%s'", cases[k].what, rc, e.message);
        assert_true(y[0] == 12345);
    }
    free(nan_audio);
    mird_model_close(m);

    // a model without a vocabulary (the golden fixture records none) predicts from ids only
    assert_int_equal(mird_model_open(&m, "tests/fixtures/mird_base/ckpt.safetensors", NULL, &e), MIRD_OK);
    assert_int_equal(mird_model_get(m, MIRD_KEY_HAS_VOCAB), 0);
    assert_int_equal(mird_model_get(m, MIRD_KEY_FRAMES_A), 0);
    const char *t1[1] = {"hello"};
    mird_clips d;
    memset(&d, 0, sizeof d);
    d.n = 1, d.texts = t1;
    assert_int_equal(mird_predict(m, &d, y, NULL, NULL, NULL, NULL, &e), MIRD_ERR_ARG);
    assert_non_null(strstr(e.message, "no vocabulary"));
    int32_t one[4] = {2, 5, 3, 0};
    d.texts = NULL, d.ids = one, d.tl = 4;
    assert_int_equal(mird_predict(m, &d, y, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    assert_true(isfinite(y[0]));
    mird_model_close(m);
}

// A checkpoint whose configuration declares 2e9 words (13 TB) is refused, not allocated.
static void test_hostile_checkpoint(void **state) {
    (void)state;
    char p[128], err[MIRD_ERRLEN];
    snprintf(p, sizeof p, "%s/hostile.safetensors", TMP);
    StWriter w;
    stw_init(&w);
    float x[4] = {0};
    int64_t sh[1] = {4};
    stw_add_f32(&w, "zy_to_y_fc2.bias", 1, sh, x);
    stw_meta(&w, "mird.config", "{\"bert\": {\"vocab_size\": 2000000000, \"hidden_size\": 768}}");
    if (stw_write(&w, p, err)) fail_msg("%s", err);
    stw_free(&w);
    mird_model *m;
    mird_error e;
    assert_int_equal(mird_model_open(&m, p, NULL, &e), MIRD_ERR_FILE);
    assert_non_null(strstr(e.message, "declares at least"));
}

static void test_predict_equals_mird_predict(void **state) {
    (void)state;
    mird_model *m = open_ok();
    mird_error e;
    int n = TEST->n, z = 8;
    const int sizes[3] = {64, 7, 1}; // 70 clips: a full batch and a partial one; odd batches; one by one
    for (int k = 0; k < 3; k++) {
        assert_int_equal(mird_model_set(m, MIRD_KEY_BATCH_SIZE, sizes[k], &e), MIRD_OK);
        Outs ref = reference(&TS, sizes[k]), got = outs_alloc(n, z);
        mird_clips c = text_clips();
        if (mird_predict(m, &c, got.y, got.z[0], got.z[1], got.z[2], got.z[3], &e)) fail_msg("%s", e.message);
        same(got.y, ref.y, (size_t)n, "scores");
        for (int j = 0; j < 4; j++) same(got.z[j], ref.z[j], (size_t)n * z, "latents");
        // only some outputs
        float *y2 = xcalloc((size_t)n, sizeof(float));
        assert_int_equal(mird_predict(m, &c, y2, NULL, NULL, NULL, NULL, &e), MIRD_OK);
        same(y2, ref.y, (size_t)n, "scores alone");
        assert_int_equal(mird_predict(m, &c, NULL, NULL, got.z[1], NULL, NULL, &e), MIRD_OK);
        same(got.z[1], ref.z[1], (size_t)n * z, "zl alone");
        free(y2);
        // token ids instead of text: the same; the mask derived from the ids too
        mird_clips d = c;
        d.texts = NULL, d.ids = TS.ids, d.mask = TS.mask, d.types = TS.types, d.tl = TS.Tl;
        assert_int_equal(mird_predict(m, &d, got.y, NULL, NULL, NULL, NULL, &e), MIRD_OK);
        same(got.y, ref.y, (size_t)n, "scores from ids");
        d.mask = NULL, d.types = NULL;
        assert_int_equal(mird_predict(m, &d, got.y, NULL, NULL, NULL, NULL, &e), MIRD_OK);
        same(got.y, ref.y, (size_t)n, "scores from ids, default mask");
        outs_free(&ref), outs_free(&got);
    }
    // frames: fewer are zero-padded, more are truncated to the checkpoint's counts
    int Ta = TEST->Ta, da = TEST->d_a;
    float *shortf = xcalloc((size_t)n * 3 * da, sizeof(float)), *longf = xcalloc((size_t)n * (Ta + 5) * da, sizeof(float)),
          *padf = xcalloc((size_t)n * Ta * da, sizeof(float));
    for (int i = 0; i < n; i++) {
        memcpy(shortf + (size_t)i * 3 * da, TEST->audio + (size_t)i * Ta * da, sizeof(float) * 3 * da);
        memcpy(padf + (size_t)i * Ta * da, TEST->audio + (size_t)i * Ta * da, sizeof(float) * 3 * da);
        memcpy(longf + (size_t)i * (Ta + 5) * da, TEST->audio + (size_t)i * Ta * da, sizeof(float) * Ta * da);
        for (int k = 0; k < 5 * da; k++) longf[((size_t)i * (Ta + 5) + Ta) * da + k] = 7.0f;
    }
    float *a = xmalloc(sizeof(float) * n), *b = xmalloc(sizeof(float) * n);
    mird_clips c = text_clips();
    c.audio = shortf, c.ta = 3;
    assert_int_equal(mird_predict(m, &c, a, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    c.audio = padf, c.ta = Ta;
    assert_int_equal(mird_predict(m, &c, b, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    same(a, b, (size_t)n, "short frames vs zero-padded");
    c.audio = longf, c.ta = Ta + 5;
    assert_int_equal(mird_predict(m, &c, a, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    c.audio = TEST->audio, c.ta = Ta;
    assert_int_equal(mird_predict(m, &c, b, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    same(a, b, (size_t)n, "long frames vs truncated");
    // a missing modality is zeros
    memset(padf, 0, sizeof(float) * (size_t)n * Ta * da);
    c.audio = padf;
    assert_int_equal(mird_predict(m, &c, a, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    c.audio = NULL;
    assert_int_equal(mird_predict(m, &c, b, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    same(a, b, (size_t)n, "no audio vs zero audio");
    c.n = 0; // nothing to do
    assert_int_equal(mird_predict(m, &c, NULL, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    free(shortf), free(longf), free(padf), free(a), free(b);
    mird_model_close(m);
}

// Latents of four different sizes (the golden fixture: z_S 6, z_L 5, z_A 4, z_V 7) from token ids,
// frames used as given (the checkpoint records no training data): the model's own forward.
static void test_unequal_latent_sizes(void **state) {
    (void)state;
    const char *ck = "tests/fixtures/mird_base/ckpt.safetensors";
    char err[MIRD_ERRLEN];
    StFile f;
    if (st_open(&f, "tests/fixtures/mird_base/batch.safetensors", err)) fail_msg("%s", err);
    int32_t ids[24], mask[24], types[24];
    float ac[4 * 7 * 5], vi[4 * 5 * 7];
    if (st_to_i32(&f, st_find(&f, "input_ids"), ids, 24, err) || st_to_i32(&f, st_find(&f, "attention_mask"), mask, 24, err) ||
        st_to_i32(&f, st_find(&f, "token_type_ids"), types, 24, err) || st_to_f32(&f, st_find(&f, "acoustic"), ac, 140, err) ||
        st_to_f32(&f, st_find(&f, "visual"), vi, 140, err))
        fail_msg("%s", err);
    st_close(&f);
    Model m;
    if (model_from_checkpoint(&m, ck, 4, 6, 7, 5, err)) fail_msg("%s", err);
    Batch b;
    batch_alloc(&b, 4, 4, 6, 7, 5, 5, 7);
    memcpy(b.ids, ids, sizeof ids), memcpy(b.mask, mask, sizeof mask), memcpy(b.types, types, sizeof types);
    memcpy(b.acoustic, ac, sizeof ac), memcpy(b.visual, vi, sizeof vi);
    b.B = 4, b.B_l = 0;
    float yref[4];
    model_predict(&m, &b, yref, NULL);
    const float *zref[4] = {m.mird.zy, m.mird.zl, m.mird.za, m.mird.zv};
    const int zs[4] = {6, 5, 4, 7};

    mird_model *h;
    mird_error e;
    assert_int_equal(mird_model_open(&h, ck, NULL, &e), MIRD_OK);
    float y[4], z[4][4 * 7];
    mird_clips c;
    memset(&c, 0, sizeof c);
    c.n = 4, c.ids = ids, c.mask = mask, c.types = types, c.tl = 6;
    c.audio = ac, c.ta = 7, c.da = 5, c.video = vi, c.tv = 5, c.dv = 7;
    assert_int_equal(mird_predict(h, &c, y, z[0], z[1], z[2], z[3], &e), MIRD_OK);
    same(y, yref, 4, "scores");
    for (int k = 0; k < 4; k++) {
        assert_int_equal(mird_model_get(h, MIRD_KEY_SIZE_ZY + k), zs[k]);
        same(z[k], zref[k], (size_t)4 * zs[k], "latent");
    }
    mird_model_close(h);
    batch_free(&b);
    model_free(&m);
}

// A call leaves the calling thread's OpenMP thread count and floating-point control as they were.
static void test_environment_restored(void **state) {
    (void)state;
    mird_model *m = open_ok();
    mird_error e;
    int before = omp_get_max_threads();
    omp_set_num_threads(3);
#if defined(__x86_64__)
    unsigned csr = _mm_getcsr() & ~0x8040u; // flush-to-zero and denormals-are-zero off
    _mm_setcsr(csr);
#endif
    assert_int_equal(mird_model_set(m, MIRD_KEY_THREADS, 1, &e), MIRD_OK);
    if (matmul_bf16_supported()) // the model's bf16 setting applies to the call only
        assert_int_equal(mird_model_set(m, MIRD_KEY_PRECISION, 1, &e), MIRD_OK);
    mird_clips c = text_clips();
    float *y = xmalloc(sizeof(float) * TEST->n);
    assert_int_equal(mird_predict(m, &c, y, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    assert_int_equal(omp_get_max_threads(), 3);
    assert_int_equal(matmul_precision(), MATMUL_FP32);
    // this model's products are all under MATMUL_BF16_MIN_FLOPS: float32 whatever the setting
    assert_int_equal(mird_model_set(m, MIRD_KEY_PRECISION, 0, &e), MIRD_OK);
#if defined(__x86_64__)
    assert_int_equal(_mm_getcsr(), csr);
#endif
    // the thread count of a call does not change its results here (1 vs 3 threads)
    float *y3 = xmalloc(sizeof(float) * TEST->n);
    assert_int_equal(mird_model_set(m, MIRD_KEY_THREADS, 0, &e), MIRD_OK);
    assert_int_equal(mird_predict(m, &c, y3, NULL, NULL, NULL, NULL, &e), MIRD_OK);
    Outs ref = reference(&TS, 64);
    same(y, ref.y, (size_t)TEST->n, "1 thread");
    same(y3, ref.y, (size_t)TEST->n, "3 threads");
    outs_free(&ref);
    omp_set_num_threads(before);
    free(y), free(y3);
    mird_model_close(m);
}

typedef struct {
    mird_model *m;
    float *y;
    int rc;
} Job;

static void *run_job(void *arg) {
    Job *j = arg;
    mird_clips c = text_clips();
    mird_error e;
    for (int r = 0; r < 3 && !j->rc; r++) j->rc = mird_predict(j->m, &c, j->y, NULL, NULL, NULL, NULL, &e);
    return NULL;
}

// Distinct handles used at the same time from distinct threads give the serial results.
static void test_threads_distinct_handles(void **state) {
    (void)state;
    Outs ref = reference(&TS, 64);
    Job jobs[3];
    pthread_t th[3];
    for (int k = 0; k < 3; k++) {
        jobs[k].m = open_ok(), jobs[k].y = xcalloc((size_t)TEST->n, sizeof(float)), jobs[k].rc = 0;
        assert_int_equal(pthread_create(&th[k], NULL, run_job, &jobs[k]), 0);
    }
    for (int k = 0; k < 3; k++) {
        pthread_join(th[k], NULL);
        assert_int_equal(jobs[k].rc, MIRD_OK);
        same(jobs[k].y, ref.y, (size_t)TEST->n, "concurrent handle");
        free(jobs[k].y);
        mird_model_close(jobs[k].m);
    }
    outs_free(&ref);
}

// mird_train: latents as --dump-latents wrote them; cancellation; bad configurations; warnings.
static void test_train_api(void **state) {
    (void)state;
    char p[256], err[MIRD_ERRLEN];
    // the dumped latents of the best model equal mird_predict's on the test clips
    snprintf(p, sizeof p, "%s/run/seed_0/latents.safetensors", TMP);
    StFile f;
    if (st_open(&f, p, err)) fail_msg("%s", err);
    mird_model *m = open_ok();
    mird_error e;
    float *z[4];
    for (int k = 0; k < 4; k++) z[k] = xcalloc((size_t)TEST->n * 8, sizeof(float));
    mird_clips c = text_clips();
    assert_int_equal(mird_predict(m, &c, NULL, z[0], z[1], z[2], z[3], &e), MIRD_OK);
    static const char *const names[4] = {"zy", "zl", "za", "zv"};
    for (int k = 0; k < 4; k++) {
        const StTensor *t = st_find(&f, names[k]);
        assert_non_null(t);
        assert_int_equal(t->numel, (size_t)TEST->n * 8);
        same(z[k], (const float *)t->data, t->numel, names[k]);
        free(z[k]);
    }
    st_close(&f);
    mird_model_close(m);

    // the epoch callback stops the run: the code, one epoch logged, and resume continues
    Seen s = {0};
    s.stop_at = 1;
    char *summary = (char *)&s;
    assert_int_equal(train_json("cancel", "", &s, &summary, &e), MIRD_ERR_CANCELLED);
    assert_null(summary);
    assert_non_null(strstr(e.message, "stopped by the epoch callback after epoch 1"));
    assert_int_equal(s.epochs, 1);
    assert_int_equal(s.warnings, 0);
    // resumed with another learning rate: the warning goes to the callback, not to stderr
    s.stop_at = 0;
    assert_int_equal(train_json("cancel", ", \"resume\": true, \"lr\": 2e-3", &s, NULL, &e), MIRD_OK);
    assert_int_equal(s.epochs, 2);
    assert_int_equal(s.warnings, 1);
    // bad configurations
    assert_int_equal(mird_train("{\"data\": ", NULL, NULL, &e), MIRD_ERR_ARG);
    assert_non_null(strstr(e.message, "run configuration: line 1"));
    assert_int_equal(mird_train("[1]", NULL, NULL, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_train("{\"bogus\": 1}", NULL, NULL, &e), MIRD_ERR_ARG);
    assert_non_null(strstr(e.message, "unknown key \"bogus\""));
    assert_int_equal(mird_train("{\"epochs\": \"many\"}", NULL, NULL, &e), MIRD_ERR_ARG);
    assert_int_equal(train_json("bad", ", \"epochs\": 0", &s, NULL, &e), MIRD_ERR_ARG);
    assert_int_equal(mird_train("{\"data\": \"build/no_such.pkl\", \"out\": \"build/no_such_run\"}", NULL, NULL, &e),
                     MIRD_ERR_FILE);
    assert_string_equal(e.message, "build/no_such.pkl: cannot read: No such file or directory");
    assert_int_equal(mird_train("{\"config\": \"build/no_such.json\"}", NULL, NULL, &e), MIRD_ERR_FILE);
    assert_int_equal(mird_train(NULL, NULL, NULL, &e), MIRD_ERR_ARG);
    // a data file that is not a data set: the run fails cleanly
    snprintf(p, sizeof p, "{\"data\": \"%s/syn/vocab.txt\", \"out\": \"%s/bad\"}", TMP, TMP);
    assert_int_equal(mird_train(p, NULL, NULL, &e), MIRD_ERR_FAILED);
    assert_non_null(strstr(e.message, "vocab.txt"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions_and_errors),        cmocka_unit_test(test_hostile_checkpoint),
        cmocka_unit_test(test_predict_equals_mird_predict), cmocka_unit_test(test_environment_restored),
        cmocka_unit_test(test_threads_distinct_handles),   cmocka_unit_test(test_train_api),
        cmocka_unit_test(test_unequal_latent_sizes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
