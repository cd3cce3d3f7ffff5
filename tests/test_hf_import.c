// test_hf_import.c: PyTorch zip checkpoints (io/zip, io/torch_load) and the Hugging Face BERT
// directory importer (io/hf_import) on the fixtures written by tools/make_hf_bert.py:
// every tensor of every fixture directory (safetensors / torch zip, with and without "bert.",
// gamma/beta names, strided views, float16/bfloat16 storages) must import BIT-EXACTLY (FNV-1a
// checksums of the float32 bytes computed by Python), and corrupt archives (truncations, flipped
// bytes, bad offsets, forbidden globals, deflated entries) must give a one-line error.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/params.h"
#include "io/hf_import.h"
#include "io/torch_load.h"
#include "io/zip.h"
#include "models/bert.h"
#include "testutil.h"

#define FIX "tests/fixtures/hf_bert/"
#define MISC "tests/fixtures/torch_misc/"

static uint64_t fnv1a64(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

typedef struct {
    char name[PARAM_NAME_MAX];
    uint64_t sum;
    size_t numel;
} Sum;

static int read_sums(const char *path, Sum *s, int cap) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int n = 0;
    unsigned long long h;
    size_t k;
    char name[PARAM_NAME_MAX];
    while (n < cap && fscanf(f, "%159s %llx %zu", name, &h, &k) == 3) {
        strcpy(s[n].name, name);
        s[n].sum = h;
        s[n].numel = k;
        n++;
    }
    fclose(f);
    return n;
}

static void assert_one_line(const char *err) {
    assert_true(err[0] != 0);
    assert_null(strchr(err, '\n'));
}

// ---------------------------------------------------------------- torch zip

static void test_torch_views(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    TorchFile f;
    if (torch_open(&f, MISC "views.bin", err) != 0) fail_msg("%s", err);
    Sum s[16];
    int n = read_sums(MISC "views.txt", s, 16);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
        const TorchTensor *t = torch_find(&f, s[i].name);
        assert_non_null(t);
        float *buf = xmalloc((s[i].numel + 1) * sizeof(float));
        if (torch_to_f32(&f, t, buf, s[i].numel, err) != 0) fail_msg("%s", err);
        if (fnv1a64(buf, s[i].numel * 4) != s[i].sum) fail_msg("tensor %s differs from PyTorch's values", s[i].name);
        free(buf);
    }
    const TorchTensor *p = torch_find(&f, "perm");
    assert_int_equal(p->ndim, 3);
    assert_true(p->shape[0] == 4 && p->shape[1] == 2 && p->shape[2] == 3);
    assert_true(p->stride[0] == 1 && p->stride[1] == 12 && p->stride[2] == 4);
    assert_true(torch_find(&f, "slice")->storage_offset == 16);
    assert_int_equal(torch_find(&f, "scalar")->ndim, 0);
    const TorchTensor *ids = torch_find(&f, "ids");
    assert_int_equal(ids->dtype, ST_I64);
    float x[5];
    assert_int_equal(torch_to_f32(&f, ids, x, 5, err), -1); // integer storage refused
    assert_one_line(err);
    assert_int_equal(torch_to_f32(&f, p, x, 5, err), -1); // wrong count
    assert_one_line(err);
    torch_close(&f);
}

static void test_torch_refusals(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    TorchFile f;
    assert_int_equal(torch_open(&f, MISC "evil.bin", err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "system"));
    assert_int_equal(torch_open(&f, MISC "deflated.bin", err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "compressed"));
    assert_int_equal(torch_open(&f, MISC "notensor.bin", err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "'n'"));
    assert_int_equal(torch_open(&f, FIX "st_plain/pytorch_model.bin", err), -1);
    assert_one_line(err);
    assert_int_equal(torch_open(&f, FIX "st_plain/model.safetensors", err), -1);
    assert_one_line(err);
    assert_int_equal(torch_open(&f, MISC "absent.bin", err), -1);
    assert_one_line(err);
}

// Parse a private heap copy of n bytes (the sanitizer then catches any read past the end).
static int torch_copy(const uint8_t *buf, size_t n, char *err) {
    uint8_t *c = xmalloc(n ? n : 1);
    memcpy(c, buf, n);
    TorchFile f;
    int rc = torch_parse(&f, c, n, "mem.bin", err);
    if (rc == 0) {
        float *tmp = NULL;
        for (int i = 0; i < f.n; i++) { // read every element
            tmp = xrealloc(tmp, (f.t[i].numel + 1) * sizeof(float));
            if (f.t[i].dtype == ST_F32 || f.t[i].dtype == ST_F16 || f.t[i].dtype == ST_BF16 || f.t[i].dtype == ST_F64)
                assert_int_equal(torch_to_f32(&f, &f.t[i], tmp, f.t[i].numel, err), 0);
        }
        free(tmp);
        torch_close(&f);
    }
    free(c);
    return rc;
}

static void test_torch_corruption(void **state) {
    (void)state;
    char err[MIRD_ERRLEN];
    uint8_t *buf;
    size_t n;
    assert_int_equal(read_file_all(FIX "pt_plain/pytorch_model.bin", (char **)&buf, &n, err), 0);
    assert_int_equal(torch_copy(buf, n, err), 0);
    // truncations: every 37th length, and every length in the last 200 bytes (the directories)
    for (size_t k = 0; k < n; k += (k + 200 < n ? 37 : 1)) {
        err[0] = 0;
        if (torch_copy(buf, k, err) == 0) fail_msg("truncation to %zu of %zu accepted", k, n);
        assert_one_line(err);
    }
    // flipped bytes: the first 128 bytes (local header, pickle start) and the central directory
    // and end records (last 700 bytes); data bytes are covered by the CRC check
    int rejected = 0, tried = 0;
    for (size_t k = 0; k < n; k++) {
        if (k >= 128 && k + 700 < n && k % 61) continue;
        uint8_t old = buf[k];
        buf[k] ^= 0x5a;
        err[0] = 0;
        tried++;
        if (torch_copy(buf, n, err) != 0) {
            assert_one_line(err);
            rejected++;
        }
        buf[k] = old;
    }
    assert_true(rejected > tried / 3); // many header bytes (times, attributes) are not checked
    // ZIP64 end record: central directory offset and entry count pointing out of range
    size_t e64 = n;
    for (size_t k = n - 22; k-- > 0;)
        if (buf[k] == 'P' && buf[k + 1] == 'K' && buf[k + 2] == 6 && buf[k + 3] == 6) {
            e64 = k;
            break;
        }
    assert_true(e64 < n);
    const uint64_t bad[] = {0xffffffffffffffffull, 0x7fffffffffffffffull, (uint64_t)n, (uint64_t)n - 1};
    for (int field = 32; field <= 48; field += 8)
        for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
            uint8_t save[8];
            memcpy(save, buf + e64 + field, 8);
            memcpy(buf + e64 + field, &bad[b], 8);
            err[0] = 0;
            assert_int_equal(torch_copy(buf, n, err), -1);
            assert_one_line(err);
            memcpy(buf + e64 + field, save, 8);
        }
    // a central-directory local-header offset past the end
    size_t cd = n;
    for (size_t k = 0; k + 4 < n; k++)
        if (buf[k] == 'P' && buf[k + 1] == 'K' && buf[k + 2] == 1 && buf[k + 3] == 2) {
            cd = k;
            break;
        }
    assert_true(cd < n);
    uint8_t save[4];
    memcpy(save, buf + cd + 42, 4);
    memset(buf + cd + 42, 0xfe, 4);
    assert_int_equal(torch_copy(buf, n, err), -1);
    assert_one_line(err);
    memcpy(buf + cd + 42, save, 4);
    assert_int_equal(torch_copy(buf, n, err), 0);
    free(buf);
    uint8_t tiny[30] = {'P', 'K', 5, 6};
    assert_int_equal(torch_copy(tiny, 30, err), -1);
    assert_int_equal(torch_copy(tiny, 0, err), -1);
    assert_one_line(err);
}

static void test_crc32(void **state) {
    (void)state;
    assert_int_equal(zip_crc32(0, (const uint8_t *)"123456789", 9), 0xcbf43926u);
    uint8_t b[1000];
    for (int i = 0; i < 1000; i++) b[i] = (uint8_t)(i * 7);
    assert_int_equal(zip_crc32(zip_crc32(0, b, 333), b + 333, 667), zip_crc32(0, b, 1000));
}

// ---------------------------------------------------------------- HF directories

static void check_dir(const char *dir) {
    char err[MIRD_ERRLEN], path[512];
    BertConfig cfg;
    json_t *raw = NULL;
    if (hf_bert_read_config(dir, &cfg, &raw, err) != 0) fail_msg("%s", err);
    assert_int_equal(json_integer_value(json_object_get(raw, "vocab_size")), 30);
    json_decref(raw);
    assert_int_equal(cfg.hidden_size, 8);
    assert_int_equal(cfg.num_hidden_layers, 2);
    ParamSet ps;
    params_init(&ps);
    Bert a, b;
    bert_register(&a, &ps, &cfg, "encoder_l.bert.");
    params_add1(&ps, "zy_to_y_fc1.bias", 3);
    bert_register(&b, &ps, &cfg, "mult_encoder.model.");
    params_alloc(&ps);
    const char *prefixes[2] = {"encoder_l.bert.", "mult_encoder.model."};
    if (hf_bert_import(dir, &ps, prefixes, 2, err) != 0) fail_msg("%s", err);
    snprintf(path, sizeof(path), "%s/checksums.txt", dir);
    Sum s[64];
    int n = read_sums(path, s, 64);
    assert_int_equal(n, 5 + 16 * 2 + 2);
    int nparam = 0;
    for (int i = 0; i < ps.n; i++) nparam += !strncmp(ps.p[i].name, "encoder_l.bert.", 15);
    assert_int_equal(nparam, n); // the importer covers every tensor bert_register made
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 2; p++) {
            char full[PARAM_NAME_MAX + 64];
            snprintf(full, sizeof(full), "%s%.150s", prefixes[p], s[i].name);
            int j = params_find(&ps, full);
            if (j < 0) fail_msg("%s: no parameter %s", dir, full);
            assert_int_equal(ps.p[j].numel, s[i].numel);
            if (fnv1a64(ps.data + ps.p[j].offset, s[i].numel * 4) != s[i].sum)
                fail_msg("%s: %s is not bit-exact", dir, full);
        }
    float *other = params_data(&ps, "zy_to_y_fc1.bias");
    assert_true(other[0] == 0 && other[1] == 0 && other[2] == 0); // untouched
    bert_free(&a);
    bert_free(&b);
    params_free(&ps);
}

static void test_import_st_prefixed(void **state) { (void)state; check_dir(FIX "st_prefixed"); }
static void test_import_st_plain(void **state) { (void)state; check_dir(FIX "st_plain"); }
static void test_import_pt_plain(void **state) { (void)state; check_dir(FIX "pt_plain"); }
static void test_import_pt_prefixed_half(void **state) { (void)state; check_dir(FIX "pt_prefixed_half"); }

static void test_import_same_weights(void **state) {
    (void)state;
    // the three float32 fixtures hold the same weights
    Sum a[64], b[64];
    int n = read_sums(FIX "st_prefixed/checksums.txt", a, 64);
    assert_int_equal(read_sums(FIX "pt_plain/checksums.txt", b, 64), n);
    for (int i = 0; i < n; i++) assert_true(a[i].sum == b[i].sum);
}

// Copy a fixture dir to build/test_hf_PID, run the shell command `what` there ($D names the copy),
// and expect the import to fail with a one-line error containing needle.
static void expect_import_error(const char *src, const char *what, const char *needle) {
    char err[MIRD_ERRLEN], dir[64], cmd[4096];
    snprintf(dir, sizeof(dir), "build/test_hf_%ld", (long)getpid());
    snprintf(cmd, sizeof(cmd), "rm -rf %s && cp -r %.500s %s && D=%s && %.2000s", dir, src, dir, dir, what);
    assert_int_equal(system(cmd), 0);
    BertConfig cfg;
    bert_config_default(&cfg);
    cfg.vocab_size = 30, cfg.hidden_size = 8, cfg.num_hidden_layers = 2, cfg.num_attention_heads = 2;
    cfg.intermediate_size = 16, cfg.max_position_embeddings = 16;
    ParamSet ps;
    params_init(&ps);
    Bert m;
    bert_register(&m, &ps, &cfg, "x.");
    params_alloc(&ps);
    const char *pre[1] = {"x."};
    err[0] = 0;
    int rc = hf_bert_import(dir, &ps, pre, 1, err);
    bert_free(&m);
    params_free(&ps);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    if (rc == 0) fail_msg("import accepted after: %s", what);
    assert_one_line(err);
    if (!strstr(err, needle)) fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_import_errors(void **state) {
    (void)state;
    expect_import_error(FIX "st_plain", "rm $D/vocab.txt", "vocab.txt");
    expect_import_error(FIX "st_plain", "rm $D/model.safetensors $D/pytorch_model.bin", "no model.safetensors");
    expect_import_error(FIX "st_plain", "rm $D/model.safetensors", "not a zip"); // the decoy is now read
    expect_import_error(FIX "st_plain", "sed -i 's/\"hidden_size\": 8/\"hidden_size\": 4/' $D/config.json", "shape");
    expect_import_error(FIX "pt_plain", "sed -i 's/\"num_hidden_layers\": 2/\"num_hidden_layers\": 3/' $D/config.json",
                        "encoder.layer.2.attention.self.query.weight");
    expect_import_error(FIX "st_prefixed", "sed -i 's/pooler.dense.bias/pooler.dense.bia_/' $D/model.safetensors",
                        "pooler.dense.bias");
    expect_import_error(FIX "pt_prefixed_half", "truncate -s 9000 $D/pytorch_model.bin", "pytorch_model.bin");
    expect_import_error(FIX "pt_plain", "echo '{' > $D/config.json", "config.json");
    expect_import_error(FIX "pt_plain", "echo '{\"hidden_act\": \"relu\"}' > $D/config.json", "config.json");
    expect_import_error(FIX "pt_plain", "rm $D/config.json", "config.json");
    char err[MIRD_ERRLEN];
    ParamSet ps;
    params_init(&ps);
    params_add1(&ps, "a", 1);
    params_alloc(&ps);
    const char *pre[1] = {""};
    assert_int_equal(hf_bert_import("build/no_such_hf_dir", &ps, pre, 1, err), -1);
    assert_one_line(err);
    params_free(&ps);
}

static void test_import_model_mismatch(void **state) {
    (void)state;
    // the ParamSet lacks a tensor the directory has: error names the model parameter
    char err[MIRD_ERRLEN];
    BertConfig cfg;
    assert_int_equal(hf_bert_read_config(FIX "st_plain", &cfg, NULL, err), 0);
    cfg.intermediate_size = 12;
    ParamSet ps;
    params_init(&ps);
    Bert m;
    bert_register(&m, &ps, &cfg, "enc.");
    params_alloc(&ps);
    const char *pre[1] = {"enc."};
    assert_int_equal(hf_bert_import(FIX "st_plain", &ps, pre, 1, err), -1);
    assert_one_line(err);
    assert_non_null(strstr(err, "enc.encoder.layer.0.intermediate.dense.weight"));
    bert_free(&m);
    params_free(&ps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),
        cmocka_unit_test(test_torch_views),
        cmocka_unit_test(test_torch_refusals),
        cmocka_unit_test(test_torch_corruption),
        cmocka_unit_test(test_import_st_prefixed),
        cmocka_unit_test(test_import_st_plain),
        cmocka_unit_test(test_import_pt_plain),
        cmocka_unit_test(test_import_pt_prefixed_half),
        cmocka_unit_test(test_import_same_weights),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_import_model_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
