// test_optim.c: AdamW (transformers formula: eps outside the bias correction, decoupled decay
// after the update, no decay for bias / LayerNorm names) and PyTorch's Adam against PyTorch over
// three steps with large rates (tests/fixtures/optim_golden.safetensors, tools/mird_ref.py
// optim-golden), including a parameter without a gradient at the first step (skipped entirely).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "train/optim.h"
#include "testutil.h"

static const char *NAMES[4] = {"a.weight", "a.bias", "b.LayerNorm.weight", "late.weight"};

static void load(const StFile *f, const char *name, float *dst, size_t n) {
    char err[MIRD_ERRLEN];
    const StTensor *t = st_find(f, name);
    if (!t) fail_msg("fixture lacks %s", name);
    if (t->numel != n || st_to_f32(f, t, dst, n, err)) fail_msg("fixture tensor %s: bad size", name);
}

static void run(int adamw) {
    char err[MIRD_ERRLEN];
    StFile f;
    if (st_open(&f, "tests/fixtures/optim_golden.safetensors", err)) fail_msg("%s", err);
    ParamSet ps;
    params_init(&ps);
    params_add2(&ps, "a.weight", 5, 4);
    params_add1(&ps, "a.bias", 5);
    params_add1(&ps, "b.LayerNorm.weight", 3);
    params_add2(&ps, "late.weight", 2, 3);
    params_alloc(&ps);
    char name[128];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "init.%s", NAMES[i]);
        load(&f, name, ps.data + ps.p[i].offset, ps.p[i].numel);
    }
    Optim o;
    if (adamw)
        adamw_init(&o, &ps, 0.9f, 0.999f, 1e-6f, 0.1f);
    else
        adam_init(&o, &ps, 0.9f, 0.999f, 1e-8f);
    assert_int_equal(o.decay[0], adamw ? 1 : 0);
    assert_int_equal(o.decay[1], 0);
    assert_int_equal(o.decay[2], 0);
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof(name), "grad.%d.%s", t, NAMES[i]);
            load(&f, name, ps.grad + ps.p[i].offset, ps.p[i].numel);
        }
        uint8_t active[4] = {1, 1, 1, t > 0};
        optim_step(&o, &ps, adamw ? 0.1f : 0.05f, active);
    }
    assert_int_equal(o.step[3], 2);
    float *want = falloc(64);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "%s.%s", adamw ? "adamw" : "adam", NAMES[i]);
        load(&f, name, want, ps.p[i].numel);
        double e = rel_err_scale(ps.data + ps.p[i].offset, want, (long)ps.p[i].numel, 1e-6);
        if (e > 1e-6) fail_msg("%s: rel err %g", name, e);
    }
    free(want);
    optim_free(&o);
    params_free(&ps);
    st_close(&f);
}

static void test_adamw_vs_pytorch(void **state) {
    (void)state;
    run(1);
}

static void test_adam_vs_pytorch(void **state) {
    (void)state;
    run(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_vs_pytorch),
        cmocka_unit_test(test_adam_vs_pytorch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
