// test_checkpoint.c: MIRD checkpoints: bit-exact save/load of a ParamSet with its configuration
// and extra (optimiser) tensors, by-name loading (unknown names ignored, missing or mis-shaped
// tensors named in the error), and `checkpoint_inspect_json`'s output.
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "core/params.h"
#include "io/checkpoint.h"
#include "testutil.h"

static char path_buf[256];
static const char *tmp(const char *tag) {
    snprintf(path_buf, sizeof(path_buf), "build/test_ckpt_%s_%ld.safetensors", tag, (long)getpid());
    return path_buf;
}

static void make_params(ParamSet *ps, int extra_layer, int64_t d) {
    params_init(ps);
    params_add2(ps, "encoder_l.bert.embeddings.word_embeddings.weight", 11, d);
    params_add1(ps, "zy_to_y_fc1.bias", 3);
    params_add2(ps, "club_la.p_mu.0.weight", 5, 7);
    int64_t s4[4] = {2, 1, 3, 2};
    params_add(ps, "conv.weight", 4, s4);
    if (extra_layer) params_add1(ps, "decoder_a.lstm.bias_ih", 12);
    params_alloc(ps);
}

static void fill(ParamSet *ps, float *buf, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed, 0);
    for (int i = 0; i < ps->n; i++) fill_normal(buf + ps->p[i].offset, (long)ps->p[i].numel, 1, &r);
}

static void test_roundtrip_with_optimiser_state(void **state) {
    (void)state;
    ParamSet ps;
    make_params(&ps, 1, 4);
    fill(&ps, ps.data, 1);
    fill(&ps, ps.grad, 2); // stands in for an optimiser moment
    StWriter extra;
    stw_init(&extra);
    ckpt_add_params(&extra, &ps, ps.grad, "optim.m.");
    int64_t one = 1;
    float step = 17;
    stw_add_f32(&extra, "run.step", 1, &one, &step);
    stw_meta(&extra, "mird.note", "hello");
    stw_meta(&extra, "mird.config", "{\"overridden\": true}");
    const char *cfg = "{\"d_a\": 33, \"fusion\": \"WSA\", \"bert\": {\"hidden_size\": 4}}";
    char err[MIRD_ERRLEN];
    const char *path = tmp("rt");
    if (checkpoint_save(path, &ps, cfg, &extra, err) != 0) fail_msg("%s", err);
    stw_free(&extra);

    ParamSet q;
    make_params(&q, 1, 4);
    char *cfg_out = NULL;
    if (checkpoint_load(path, &q, &cfg_out, err) != 0) fail_msg("%s", err);
    assert_string_equal(cfg_out, cfg);
    free(cfg_out);
    assert_memory_equal(q.data, ps.data, ps.total * sizeof(float));
    // the moment, by prefix
    StFile f;
    assert_int_equal(st_open(&f, path, err), 0);
    assert_int_equal(ckpt_load_params(&f, &q, q.grad, "optim.m.", err), 0);
    assert_memory_equal(q.grad, ps.grad, ps.total * sizeof(float));
    assert_string_equal(st_meta(&f, "mird.note"), "hello");
    assert_int_equal(st_find(&f, "conv.weight")->ndim, 4);
    st_close(&f);
    char *c2;
    assert_int_equal(checkpoint_read_config(path, &c2, err), 0);
    assert_string_equal(c2, cfg);
    free(c2);

    // unknown names ignored: a smaller model loads from the bigger file
    ParamSet small;
    make_params(&small, 0, 4);
    assert_int_equal(checkpoint_load(path, &small, NULL, err), 0);
    assert_memory_equal(small.data + small.p[2].offset, ps.data + ps.p[2].offset, 35 * sizeof(float));
    params_free(&small);
    params_free(&q);

    // missing tensor -> named; shape mismatch -> both shapes
    ParamSet big;
    params_init(&big);
    params_add1(&big, "zy_to_y_fc1.bias", 3);
    params_add1(&big, "zy_to_y_fc2.weight", 3);
    assert_int_equal(checkpoint_load(path, &big, NULL, err), -1); // allocates big
    assert_non_null(strstr(err, "zy_to_y_fc2.weight"));
    assert_null(strchr(err, '\n'));
    params_free(&big);
    ParamSet wrong;
    make_params(&wrong, 1, 5);
    assert_int_equal(checkpoint_load(path, &wrong, NULL, err), -1);
    assert_non_null(strstr(err, "word_embeddings.weight"));
    assert_non_null(strstr(err, "[11, 4]"));
    assert_non_null(strstr(err, "[11, 5]"));
    params_free(&wrong);

    // inspect
    char *txt = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&txt, &len);
    assert_int_equal(checkpoint_inspect_json(path, mem, err), 0);
    fclose(mem);
    json_error_t je;
    json_t *j = json_loads(txt, 0, &je);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "format")), "checkpoint");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "d_a")), 33);
    json_t *tens = json_object_get(j, "tensors");
    assert_int_equal(json_object_size(tens), 2 * 5 + 1);
    json_t *s = json_object_get(tens, "conv.weight");
    assert_int_equal(json_array_size(s), 4);
    assert_int_equal(json_integer_value(json_array_get(s, 2)), 3);
    assert_non_null(json_object_get(tens, "optim.m.zy_to_y_fc1.bias"));
    json_decref(j);
    free(txt);
    unlink(path);
    params_free(&ps);
}

static void test_save_errors(void **state) {
    (void)state;
    ParamSet ps;
    make_params(&ps, 0, 2);
    char err[MIRD_ERRLEN];
    const char *path = tmp("err");
    assert_int_equal(checkpoint_save(path, &ps, "not json", NULL, err), -1);
    assert_int_equal(checkpoint_save(path, &ps, "[1]", NULL, err), -1);
    assert_int_equal(access(path, F_OK), -1);
    StWriter extra;
    stw_init(&extra);
    int64_t three = 3;
    stw_add_f32(&extra, "zy_to_y_fc1.bias", 1, &three, ps.data); // clashes with a model tensor
    assert_int_equal(checkpoint_save(path, &ps, "{}", &extra, err), -1);
    assert_non_null(strstr(err, "zy_to_y_fc1.bias"));
    assert_int_equal(access(path, F_OK), -1);
    stw_free(&extra);
    params_free(&ps);
}

static void test_plain_state_dict_and_half(void **state) {
    (void)state;
    // A file with no mird.config (as exported from PyTorch) loads; F16/BF16 tensors convert.
    ParamSet ps;
    params_init(&ps);
    params_add1(&ps, "a", 3);
    params_add1(&ps, "b", 2);
    params_alloc(&ps);
    uint16_t a16[3] = {0x3c00, 0xbc00, 0x3800}; // 1, -1, 0.5
    uint16_t b16[2] = {0x4040, 0xc080};         // bf16 3, -4
    int64_t s3 = 3, s2 = 2;
    StWriter w;
    stw_init(&w);
    stw_add(&w, "a", ST_F16, 1, &s3, a16);
    stw_add(&w, "b", ST_BF16, 1, &s2, b16);
    char err[MIRD_ERRLEN];
    const char *path = tmp("sd");
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    char *cfg = (char *)"x";
    assert_int_equal(checkpoint_load(path, &ps, &cfg, err), 0);
    assert_null(cfg);
    const float *a = params_data(&ps, "a"), *b = params_data(&ps, "b");
    assert_true(a[0] == 1 && a[1] == -1 && a[2] == 0.5f && b[0] == 3 && b[1] == -4);
    char *txt = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&txt, &len);
    assert_int_equal(checkpoint_inspect_json(path, mem, err), 0);
    fclose(mem);
    assert_non_null(strstr(txt, "\"config\":null"));
    free(txt);
    // an integer tensor where a parameter is expected
    int32_t ints[3] = {1, 2, 3};
    stw_init(&w);
    stw_add(&w, "a", ST_I32, 1, &s3, ints);
    stw_add(&w, "b", ST_BF16, 1, &s2, b16);
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    assert_int_equal(checkpoint_load(path, &ps, NULL, err), -1);
    assert_non_null(strstr(err, "I32"));
    // truncated / missing file
    FILE *fp = fopen(path, "r+b");
    assert_int_equal(ftruncate(fileno(fp), 20), 0);
    fclose(fp);
    assert_int_equal(checkpoint_load(path, &ps, NULL, err), -1);
    assert_null(strchr(err, '\n'));
    txt = NULL;
    mem = open_memstream(&txt, &len);
    assert_int_equal(checkpoint_inspect_json(path, mem, err), -1);
    fclose(mem);
    free(txt);
    unlink(path);
    assert_int_equal(checkpoint_load(path, &ps, NULL, err), -1);
    assert_non_null(strstr(err, "cannot open"));
    params_free(&ps);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_with_optimiser_state),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_plain_state_dict_and_half),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
