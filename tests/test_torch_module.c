// test_torch_module.c: the MIRD authors' own torch.save files (tests/fixtures/torch_module, written
// by tools/make_official_models.py with classes named as in their models.py / modules.py):
//  - the whole-module walk yields exactly PyTorch's model.state_dict() keys in order (persistent
//    buffers in, non-persistent ones out), and keeps the modules' scalar attributes;
//  - the configuration inferred from each file equals the one the model was built with (both
//    fusion variants, BERT and LSTM text encoders; heads from the pickled BertConfig for whole
//    modules, hidden / 64 for the state_dict);
//  - every file evaluates to PyTorch's latents and predictions (eval mode) within float tolerance;
//  - loading leaves the CLUB estimators (absent from the authors' files) as they were initialised,
//    and `mird import-torch --seed S` writes the file's model tensors bit-exactly beside the
//    estimators of `mird init --seed S`;
//  - the hostile files are refused with one line: REDUCE of os.system / builtins.eval, nesting past
//    TORCH_MAX_DEPTH, a DAG of shared submodules past the work bound, a child that is not a module,
//    the MAG-BERT variant, the legacy (non-zip) format.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/pickle.h"
#include "io/safetensors.h"
#include "io/torch_load.h"
#include "models/mird.h"
#include "testutil.h"

#define FIX "tests/fixtures/torch_module/"

typedef struct {
    const char *name, *file;
} Case;
static const Case CASES[] = {
    {"wsa_bert", "model.pt"}, {"wa_bert", "model.pt"}, {"wsa_lstm", "model.pt"},
    {"wa_lstm", "model.pt"},  {"wa_bert_sd", "state_dict.pt"},
};
#define NCASES (int)(sizeof(CASES) / sizeof(CASES[0]))

static const char *path_of(const Case *c, const char *file) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), FIX "%s/%s", c->name, file ? file : c->file);
    return buf[k];
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

static void test_walk_is_state_dict(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    for (int i = 0; i < NCASES; i++) {
        TorchFile f;
        if (torch_open(&f, path_of(&CASES[i], NULL), err)) fail_msg("%s", err);
        FILE *names = fopen(path_of(&CASES[i], "names.txt"), "r");
        assert_non_null(names);
        char line[512];
        int k = 0;
        while (fgets(line, sizeof line, names)) {
            line[strcspn(line, "\n")] = 0;
            if (k >= f.n) fail_msg("%s: the walk found %d tensors, PyTorch's state_dict has more", CASES[i].name, f.n);
            if (strcmp(f.t[k].name, line)) fail_msg("%s: tensor %d is %s, PyTorch's is %s", CASES[i].name, k, f.t[k].name, line);
            k++;
        }
        fclose(names);
        assert_int_equal(k, f.n);
        int whole = strcmp(CASES[i].file, "model.pt") == 0;
        assert_int_equal(f.whole_module, whole);
        if (whole) {
            assert_string_equal(f.root_class, "models.WSABERTReconMIM");
            assert_null(torch_find(&f, "mult_encoder.model.embeddings.token_type_ids")); // non-persistent
        }
        torch_close(&f);
    }
    // the attributes kept by the walk
    TorchFile f;
    if (torch_open(&f, FIX "wa_bert/model.pt", err)) fail_msg("%s", err);
    const TorchAttr *a = torch_attr(&f, "mult_encoder.model.WA.beta_shift");
    assert_non_null(a);
    assert_int_equal(a->kind, PK_FLOAT);
    assert_true(fabs(a->num - 0.7) < 1e-12);
    a = torch_attr(&f, "mult_encoder.model.config.num_attention_heads");
    assert_non_null(a);
    assert_int_equal(a->kind, PK_INT);
    assert_int_equal((int)a->num, 2);
    a = torch_attr(&f, "mult_encoder.model.model");
    assert_non_null(a);
    assert_string_equal(a->str, "WA-BERT");
    assert_non_null(torch_attr(&f, "zy_to_y_dropout.p"));
    assert_null(torch_attr(&f, "mult_encoder.model.WSA.beta_shift"));
    torch_close(&f);
}

static void test_config_inferred(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    for (int i = 0; i < NCASES; i++) {
        MirdConfig want, got;
        MirdFileInfo info;
        if (mird_config_load(&want, path_of(&CASES[i], "config.json"), err)) fail_msg("%s", err);
        if (mird_config_of_file(&got, path_of(&CASES[i], NULL), NULL, &info, err)) fail_msg("%s", err);
        int whole = strcmp(CASES[i].file, "model.pt") == 0;
        assert_int_equal(info.torch, 1);
        assert_int_equal(info.inferred, 1);
        assert_int_equal(info.whole_module, whole);
        assert_int_equal(info.heads_assumed, !whole);
        if (!whole) { // a state_dict records no dropouts: the defaults (dropout is off in eval)
            want.dropout_prob = want.dropout_l = want.dropout_multi = want.zy_to_y_dropout = 0.5f;
        }
        if (want.text_encoder == MIRD_TEXT_LSTM) want.dropout_l = got.dropout_l; // no encoder_l.dropout there
        char *a = mird_config_to_string(&want), *b = mird_config_to_string(&got);
        if (strcmp(a, b)) fail_msg("%s: inferred %s\n  expected %s", CASES[i].name, b, a);
        free(a), free(b);
    }
    // an override replaces inferred keys ("bert" key by key)
    MirdConfig c;
    json_error_t je;
    json_t *over = json_loads("{\"beta_shift\": 0.25, \"bert\": {\"num_attention_heads\": 4}}", 0, &je);
    if (mird_config_of_file(&c, FIX "wa_bert_sd/state_dict.pt", over, NULL, err)) fail_msg("%s", err);
    json_decref(over);
    assert_true(c.beta_shift == 0.25f);
    assert_int_equal(c.bert.num_attention_heads, 4);
    assert_int_equal(c.bert.hidden_size, 64);
    assert_int_equal(c.fusion, MIRD_FUSION_WA);
}

static void read_f32(const StFile *f, const char *name, float *dst, size_t n) {
    char err[MIRD_ERRLEN];
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("%s missing", name);
    if (st_to_f32(f, t, dst, n, err)) fail_msg("%s", err);
}

static void test_predictions_match_pytorch(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    for (int i = 0; i < NCASES; i++) {
        const char *file = path_of(&CASES[i], NULL);
        MirdConfig cfg;
        if (mird_config_of_file(&cfg, file, NULL, NULL, err)) fail_msg("%s", err);
        StFile bf, ef;
        if (st_open(&bf, path_of(&CASES[i], "batch.safetensors"), err)) fail_msg("%s", err);
        if (st_open(&ef, path_of(&CASES[i], "expected.safetensors"), err)) fail_msg("%s", err);
        const StTensor *ti = st_find(&bf, "input_ids"), *ta = st_find(&bf, "acoustic"), *tv = st_find(&bf, "visual");
        int B = (int)ti->shape[0], Tl = (int)ti->shape[1], Ta = (int)ta->shape[1], Tv = (int)tv->shape[1];
        size_t nt = (size_t)B * Tl;
        int32_t *ids = xmalloc(nt * 4), *mask = xmalloc(nt * 4), *types = xmalloc(nt * 4);
        if (st_to_i32(&bf, ti, ids, nt, err) || st_to_i32(&bf, st_find(&bf, "attention_mask"), mask, nt, err) ||
            st_to_i32(&bf, st_find(&bf, "token_type_ids"), types, nt, err))
            fail_msg("%s", err);
        float *ac = falloc(ta->numel), *vi = falloc(tv->numel);
        read_f32(&bf, "acoustic", ac, ta->numel);
        read_f32(&bf, "visual", vi, tv->numel);
        Mird m;
        if (mird_create(&m, &cfg, B, Tl, Ta, Tv, err)) fail_msg("%s", err);
        mird_init_weights(&m, 0);
        float *est0 = falloc(m.est.total);
        memcpy(est0, m.est.data, sizeof(float) * m.est.total);
        MirdFileInfo info;
        if (mird_load_file(&m, file, 1, &info, err)) fail_msg("%s: %s", CASES[i].name, err);
        assert_int_equal(info.n_model, m.params.n);
        assert_int_equal(info.n_est, 0);
        assert_true(info.n_ignored >= 1); // position_ids buffers
        assert_non_null(strstr(info.ignored[0], "position_ids"));
        assert_memory_equal(est0, m.est.data, sizeof(float) * m.est.total); // as mird init left them
        MirdBatch b = {ids, mask, types, ac, vi, NULL, B, 0, Tl, Ta, Tv};
        if (mird_check_batch(&m, &b, err)) fail_msg("%s", err);
        mird_forward(&m, &b, MIRD_FWD_PREDICT, MIRD_OBJ_LOG, NULL);
        const char *names[5] = {"zl", "za", "zv", "zy", "y_hat"};
        const float *got[5] = {m.zl, m.za, m.zv, m.zy, m.y_hat};
        for (int k = 0; k < 5; k++) {
            const StTensor *t = st_find(&ef, names[k]);
            float *want = falloc(t->numel);
            read_f32(&ef, names[k], want, t->numel);
            double r = rel_err_scale(got[k], want, (long)t->numel, 1e-3);
            if (r > 1e-4) fail_msg("%s: %s differs from PyTorch by %.3g of its scale", CASES[i].name, names[k], r);
            free(want);
        }
        mird_free(&m);
        st_close(&bf), st_close(&ef);
        free(ids), free(mask), free(types), free(ac), free(vi), free(est0);
    }
}

// `mird import-torch --seed S`: the model tensors are the file's, the estimators those of `mird
// init --seed S` for the same configuration (both are mird_create + mird_init_weights(S)).
static void test_import_command(void **state) {
    (void)state;
    char err[MIRD_ERRLEN], out[128], cmd[512];
    snprintf(out, sizeof out, "build/test_torch_module_%ld.safetensors", (long)getpid());
    const char *bin = getenv("MIRD_BIN") && *getenv("MIRD_BIN") ? getenv("MIRD_BIN") : "build/mird";
    snprintf(cmd, sizeof cmd, "%s import-torch " FIX "wa_lstm/model.pt --seed 3 --out %s 2>/dev/null", bin, out);
    assert_int_equal(system(cmd), 0);
    MirdConfig cfg;
    if (mird_config_of_file(&cfg, out, NULL, NULL, err)) fail_msg("%s", err);
    assert_int_equal(cfg.fusion, MIRD_FUSION_WA);
    Mird m;
    if (mird_create(&m, &cfg, 1, 1, 1, 1, err)) fail_msg("%s", err);
    mird_init_weights(&m, 3);
    StFile f;
    TorchFile pt;
    if (st_open(&f, out, err) || torch_open(&pt, FIX "wa_lstm/model.pt", err)) fail_msg("%s", err);
    for (int i = 0; i < m.est.n; i++) {
        const ParamInfo *p = &m.est.p[i];
        float *x = falloc(p->numel);
        read_f32(&f, p->name, x, p->numel);
        assert_memory_equal(x, m.est.data + p->offset, p->numel * sizeof(float));
        free(x);
    }
    for (int i = 0; i < m.params.n; i++) {
        const ParamInfo *p = &m.params.p[i];
        float *x = falloc(p->numel), *y = falloc(p->numel);
        read_f32(&f, p->name, x, p->numel);
        const TorchTensor *t = torch_find(&pt, p->name);
        assert_non_null(t);
        if (torch_to_f32(&pt, t, y, p->numel, err)) fail_msg("%s", err);
        assert_memory_equal(x, y, p->numel * sizeof(float));
        free(x), free(y);
    }
    torch_close(&pt);
    st_close(&f);
    mird_free(&m);
    unlink(out);
}

static void test_hostile_files(void **state) {
    (void)state;
    static const struct {
        const char *file, *says;
    } bad[] = {
        {"os_system.pt", "posix.system"},   {"eval.pt", "builtins.eval"},
        {"deep.pt", "deeper than 64"},      {"dag.pt", "too large"},
        {"not_a_module.pt", "not a module"}, {"mag_state_dict.pt", "MAG-BERT"},
        {"legacy.pt", "legacy format"},
    };
    char err[MIRD_ERRLEN], path[256];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof path, FIX "hostile/%s", bad[i].file);
        MirdConfig c;
        err[0] = 0;
        assert_int_equal(mird_config_of_file(&c, path, NULL, NULL, err), -1);
        assert_one_line(err);
        if (!strstr(err, bad[i].says)) fail_msg("%s: '%s' does not say '%s'", bad[i].file, err, bad[i].says);
        assert_non_null(strstr(err, path));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walk_is_state_dict),
        cmocka_unit_test(test_config_inferred),
        cmocka_unit_test(test_predictions_match_pytorch),
        cmocka_unit_test(test_import_command),
        cmocka_unit_test(test_hostile_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
