// test_mird_io.c: mird_load_params goes through io/checkpoint.h: a weight stored as an integer
// tensor (which st_to_f32 would happily convert) is refused with a one-line error naming the file
// and the tensor, with and without allow_missing; a save / load round trip is bit-exact.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "models/mird.h"
#include "testutil.h"

#define FIXTURE "tests/fixtures/mird_base/ckpt.safetensors"

static void test_integer_weight_refused(void **state) {
    (void)state;
    char err[MIRD_ERRLEN], path[256], path2[256];
    snprintf(path, sizeof(path), "build/test_mird_io_i32_%ld.safetensors", (long)getpid());
    snprintf(path2, sizeof(path2), "build/test_mird_io_rt_%ld.safetensors", (long)getpid());
    MirdConfig cfg;
    Mird m;
    assert_int_equal(mird_config_from_checkpoint(&cfg, FIXTURE, err), 0);
    assert_int_equal(mird_create(&m, &cfg, 2, 4, 3, 3, err), 0);
    assert_int_equal(mird_load_params(&m, FIXTURE, 0, err), 0);

    // round trip through mird_save_params
    assert_int_equal(mird_save_params(&m, path2, err), 0);
    float *keep = falloc(m.params.total);
    memcpy(keep, m.params.data, m.params.total * sizeof(float));
    memset(m.params.data, 0, m.params.total * sizeof(float));
    assert_int_equal(mird_load_params(&m, path2, 0, err), 0);
    assert_memory_equal(keep, m.params.data, m.params.total * sizeof(float));
    unlink(path2);

    // the same checkpoint with its first weight as I32
    const ParamInfo *p0 = &m.params.p[0];
    int32_t *ints = xcalloc((size_t)p0->numel, sizeof(int32_t));
    StWriter w;
    stw_init(&w);
    for (int i = 0; i < m.params.n; i++) {
        const ParamInfo *pi = &m.params.p[i];
        if (i == 0) stw_add(&w, pi->name, ST_I32, pi->ndim, pi->shape, ints);
        else stw_add_f32(&w, pi->name, pi->ndim, pi->shape, m.params.data + pi->offset);
    }
    for (int i = 0; i < m.est.n; i++) {
        const ParamInfo *pi = &m.est.p[i];
        stw_add_f32(&w, pi->name, pi->ndim, pi->shape, m.est.data + pi->offset);
    }
    assert_int_equal(stw_write(&w, path, err), 0);
    stw_free(&w);
    for (int allow_missing = 0; allow_missing < 2; allow_missing++) {
        err[0] = 0;
        assert_int_equal(mird_load_params(&m, path, allow_missing, err), -1);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, p0->name));
        assert_non_null(strstr(err, "I32"));
        assert_null(strchr(err, '\n'));
    }
    // nothing of the integer tensor reached the weights
    assert_memory_equal(keep, m.params.data, m.params.total * sizeof(float));
    unlink(path);
    free(ints);
    free(keep);
    mird_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_integer_weight_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
