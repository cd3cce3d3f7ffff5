// test_debug_step.c: `mird debug-step` refuses a batch with NaN / inf values (labels, acoustic,
// visual) or integer-typed features, with exit 1 and one line naming the batch file and tensor.
// The batches are the golden fixture's with one thing broken.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "io/safetensors.h"
#include "testutil.h"

#define DIR "tests/fixtures/mird_base"

static const char *mird_bin(void) {
    const char *b = getenv("MIRD_BIN");
    return b && *b ? b : "build/mird";
}

// Copy of the fixture batch with tensor `name` either converted to I32 (as_int) or with element
// `idx` set to `value`; then debug-step on it must fail with exactly `want` (after "mird: BATCH: ").
static void expect_refused(const char *name, int as_int, long idx, float value, const char *want) {
    char err[MIRD_ERRLEN], batch[256], out[256], errfile[256], cmd[2048];
    long pid = (long)getpid();
    snprintf(batch, sizeof(batch), "build/test_debug_step_batch_%ld.safetensors", pid);
    snprintf(out, sizeof(out), "build/test_debug_step_out_%ld.safetensors", pid);
    snprintf(errfile, sizeof(errfile), "build/test_debug_step_err_%ld.txt", pid);
    StFile f;
    if (st_open(&f, DIR "/batch.safetensors", err)) fail_msg("%s", err);
    StWriter w;
    stw_init(&w);
    void *bufs[16] = {0};
    int nb = 0;
    for (int i = 0; i < st_count(&f) && nb < 16; i++) {
        const StTensor *t = st_tensor(&f, i);
        size_t n = t->numel ? t->numel : 1;
        if (t->dtype == ST_I64 || t->dtype == ST_I32) {
            int32_t *v = xmalloc(n * sizeof(int32_t));
            if (st_to_i32(&f, t, v, t->numel, err)) fail_msg("%s", err);
            stw_add(&w, t->name, ST_I32, t->ndim, t->shape, v);
            bufs[nb++] = v;
        } else if (!strcmp(t->name, name) && as_int) {
            float *x = falloc(n);
            int32_t *v = xmalloc(n * sizeof(int32_t));
            if (st_to_f32(&f, t, x, t->numel, err)) fail_msg("%s", err);
            for (size_t k = 0; k < t->numel; k++) v[k] = (int32_t)x[k];
            free(x);
            stw_add(&w, t->name, ST_I32, t->ndim, t->shape, v);
            bufs[nb++] = v;
        } else {
            float *x = falloc(n);
            if (st_to_f32(&f, t, x, t->numel, err)) fail_msg("%s", err);
            if (!strcmp(t->name, name)) x[idx] = value;
            stw_add_f32(&w, t->name, t->ndim, t->shape, x);
            bufs[nb++] = x;
        }
    }
    if (stw_write(&w, batch, err)) fail_msg("%s", err);
    stw_free(&w);
    st_close(&f);
    for (int i = 0; i < nb; i++) free(bufs[i]);

    snprintf(cmd, sizeof(cmd), "%s debug-step --checkpoint " DIR "/ckpt.safetensors --batch %s --out %s 2>%s",
             mird_bin(), batch, out, errfile);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    struct stat sb;
    assert_int_not_equal(stat(out, &sb), 0); // no output left behind
    char msg[1024] = "", expect[1024];
    FILE *e = fopen(errfile, "r");
    assert_non_null(e);
    size_t len = fread(msg, 1, sizeof(msg) - 1, e);
    msg[len] = 0;
    fclose(e);
    snprintf(expect, sizeof(expect), "mird: %s: %s\n", batch, want);
    if (strcmp(msg, expect)) fail_msg("got '%s', expected '%s'", msg, expect);
    unlink(batch);
    unlink(errfile);
}

static void test_non_finite_refused(void **state) {
    (void)state;
    expect_refused("labels", 0, 0, NAN, "labels: NaN at index 0");
    expect_refused("acoustic", 0, 3, INFINITY, "acoustic: inf at index 3");
    expect_refused("visual", 0, 5, -INFINITY, "visual: -inf at index 5");
}

static void test_integer_features_refused(void **state) {
    (void)state;
    expect_refused("acoustic", 1, 0, 0, "acoustic is I32, expected a floating type (F32, F16, BF16 or F64)");
    expect_refused("visual", 1, 0, 0, "visual is I32, expected a floating type (F32, F16, BF16 or F64)");
}

int main(void) {
    struct stat sb;
    if (stat(DIR "/batch.safetensors", &sb)) {
        printf("SKIP test_debug_step: " DIR " absent\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_non_finite_refused),
                                       cmocka_unit_test(test_integer_features_refused)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
