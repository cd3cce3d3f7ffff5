// test_bench.c: the stage timers (core/timer.h) and `mird bench` as a process on the tiny golden
// model (tests/fixtures/mird_base): JSON last line with the contract's keys, both estimator
// modes, usage and input errors. Never compares timings (the machine is shared and noisy).
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/common.h"
#include "core/matmul.h"
#include "core/timer.h"
#include "testutil.h"

static void timed_product(int M, int N, int K) {
    float *A = falloc((size_t)M * K), *B = falloc((size_t)K * N), *C = falloc((size_t)M * N);
    TIMER_BEGIN(t);
    matmul(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    TIMER_END(t, "test.product");
    free(A), free(B), free(C);
}

static void test_timer(void **state) {
    (void)state;
    timer_reset();
    timer_enable(0);
    timed_product(3, 4, 5); // off: nothing registered or counted
    assert_true(timer_seconds("test.product") == 0.0);
    timer_enable(1);
    assert_true(timer_enabled());
    timed_product(3, 4, 5);
    timed_product(7, 2, 10);
    int id = timer_stage("test.product");
    const TimerStat *s = timer_get(id);
    assert_non_null(s);
    assert_string_equal(s->name, "test.product");
    assert_int_equal(s->calls, 2);
    assert_true(s->flops == 2.0 * 3 * 4 * 5 + 2.0 * 7 * 2 * 10);
    assert_true(s->seconds >= 0.0);
    assert_true(timer_flops("test.product") == s->flops);
    assert_true(timer_get(timer_count()) == NULL && timer_get(-1) == NULL);
    double t0 = timer_now(), t1 = timer_now();
    assert_true(t1 >= t0);
    // nested brackets both count; restart re-arms a bracket
    TIMER_BEGIN(outer);
    timed_product(2, 2, 2);
    TIMER_RESTART(outer);
    TIMER_END(outer, "test.outer");
    assert_true(timer_flops("test.outer") == 0.0);
    assert_int_equal(timer_get(timer_stage("test.outer"))->calls, 1);
    timer_reset(); // sums cleared, names kept
    assert_true(timer_flops("test.product") == 0.0 && timer_get(id)->calls == 0);
    timer_enable(0);
}

static const char *mird_bin(void) {
    const char *b = getenv("MIRD_BIN");
    return b && *b ? b : "build/mird";
}

// Runs a shell command, captures stdout into out (NUL-terminated); returns the exit status.
static int run_capture(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int run_capture(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    if (!p) fail_msg("popen failed: %s", cmd);
    size_t n = 0;
    if (out && cap) {
        n = fread(out, 1, cap - 1, p);
        out[n] = 0;
    } else {
        char tmp[4096];
        while (fread(tmp, 1, sizeof(tmp), p) > 0) {
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static json_t *last_json_line(char *out) {
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == ' ')) out[--n] = 0;
    char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    json_error_t e;
    json_t *j = json_loads(line, 0, &e);
    if (!j) fail_msg("last line is not JSON (%s): %s", e.text, line);
    return j;
}

#define FIX "tests/fixtures/mird_base/"

static void check_result(json_t *j, const char *mode, int steps) {
    assert_true(json_is_object(j));
    const char *num[] = {"step_seconds_median", "step_seconds_min", "gflop_per_step"};
    for (int i = 0; i < 3; i++) {
        json_t *v = json_object_get(j, num[i]);
        if (!json_is_number(v)) fail_msg("key %s missing or not a number", num[i]);
        assert_true(json_number_value(v) >= 0);
    }
    assert_true(json_number_value(json_object_get(j, "step_seconds_min")) <=
                json_number_value(json_object_get(j, "step_seconds_median")));
    assert_true(json_integer_value(json_object_get(j, "peak_rss_bytes")) > 0);
    assert_string_equal(json_string_value(json_object_get(j, "club_mode")), mode);
    assert_int_equal(json_array_size(json_object_get(j, "step_seconds")), steps);
    assert_int_equal(json_integer_value(json_object_get(j, "steps")), steps);
    json_t *st = json_object_get(j, "stages");
    assert_true(json_is_object(st));
    const char *stages[] = {"step", "forward", "backward", "optimizer.adamw", "estimator", "estimator.latents"};
    for (int i = 0; i < 6; i++)
        if (!json_is_object(json_object_get(st, stages[i]))) fail_msg("stage %s missing", stages[i]);
    // the estimator recomputes the latents once per step (once) or before each of K = 5 steps (official)
    double calls = json_number_value(json_object_get(json_object_get(st, "estimator.latents"), "calls_per_step"));
    assert_true(calls == (strcmp(mode, "once") ? 5.0 : 1.0));
    assert_true(json_is_number(json_object_get(j, "last_loss")));
}

static void test_bench_command(void **state) {
    (void)state;
    const char *bin = mird_bin();
    static char out[1 << 16];
    int rc = run_capture(out, sizeof(out), "%s bench --checkpoint " FIX "ckpt.safetensors --batch " FIX
                         "batch.safetensors --steps 3 --threads 1 --json", bin);
    assert_int_equal(rc, 0);
    int lines = 0;
    for (const char *c = out; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 1); // --json: only the JSON line
    json_t *j = last_json_line(out);
    check_result(j, "once", 3);
    assert_int_equal(json_integer_value(json_object_get(j, "threads")), 1);
    json_decref(j);
    rc = run_capture(out, sizeof(out), "%s bench --checkpoint " FIX "ckpt.safetensors --batch " FIX
                     "batch.safetensors --steps 2 --club-mode official --threads 2", bin);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "stage")); // the table comes before the JSON line
    j = last_json_line(out);
    check_result(j, "official", 2);
    json_decref(j);
    // fp32 against bf16 step by step (every product in bf16 on this tiny model: MIRD_BF16_MIN_FLOPS=0)
    rc = run_capture(out, sizeof(out), "MIRD_BF16_MIN_FLOPS=0 %s bench --checkpoint " FIX "ckpt.safetensors --batch " FIX
                     "batch.safetensors --steps 1 --compare-precision 3 --threads 1 --json 2>&1", bin);
    if (!matmul_bf16_supported()) {
        assert_int_equal(rc, 1);
        assert_non_null(strstr(out, "--compare-precision needs bfloat16"));
        return;
    }
    assert_int_equal(rc, 0);
    j = last_json_line(out);
    check_result(j, "once", 1);
    json_t *pc = json_object_get(j, "precision_compare");
    assert_true(json_is_object(pc));
    assert_int_equal(json_integer_value(json_object_get(pc, "pairs")), 3);
    json_t *a32 = json_object_get(pc, "fp32_seconds"), *a16 = json_object_get(pc, "bf16_seconds");
    json_t *ar = json_object_get(pc, "fp32_over_bf16");
    assert_int_equal(json_array_size(a32), 3), assert_int_equal(json_array_size(a16), 3);
    assert_int_equal(json_array_size(ar), 3);
    double r[3];
    for (int k = 0; k < 3; k++) {
        double t32 = json_number_value(json_array_get(a32, k)), t16 = json_number_value(json_array_get(a16, k));
        r[k] = json_number_value(json_array_get(ar, k));
        assert_true(t32 > 0 && t16 > 0);
        assert_true(fabs(r[k] - t32 / t16) <= 1e-5 * r[k]); // the JSON's 6 significant digits
    }
    double lo = fmin(r[0], fmin(r[1], r[2])), hi = fmax(r[0], fmax(r[1], r[2])), med = r[0] + r[1] + r[2] - lo - hi;
    assert_true(fabs(json_number_value(json_object_get(pc, "ratio_median")) - med) <= 1e-5 * med);
    json_decref(j);
}

static void test_bench_errors(void **state) {
    (void)state;
    const char *bin = mird_bin();
    assert_int_equal(run_capture(NULL, 0, "%s bench 2>/dev/null", bin), 2);
    assert_int_equal(run_capture(NULL, 0, "%s bench --bogus 2>/dev/null", bin), 2);
    assert_int_equal(run_capture(NULL, 0, "%s bench --checkpoint x --batch y --steps 0 2>/dev/null", bin), 2);
    assert_int_equal(run_capture(NULL, 0, "%s bench --checkpoint x --batch y --club-mode twice 2>/dev/null", bin), 2);
    assert_int_equal(run_capture(NULL, 0, "%s bench --checkpoint x --batch y --compare-precision 0 2>/dev/null", bin), 2);
    assert_int_equal(run_capture(NULL, 0, "%s bench --help", bin), 0);
    static char out[4096];
    // a missing checkpoint, and a checkpoint passed as the batch: failures (exit 1) with a message
    assert_int_equal(run_capture(out, sizeof(out), "%s bench --checkpoint /nonexistent/ckpt --batch " FIX
                                 "batch.safetensors 2>&1", bin), 1);
    assert_non_null(strstr(out, "mird: "));
    assert_int_equal(run_capture(out, sizeof(out), "%s bench --checkpoint " FIX "ckpt.safetensors --batch " FIX
                                 "ckpt.safetensors 2>&1", bin), 1);
    assert_non_null(strstr(out, "input_ids"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timer),
        cmocka_unit_test(test_bench_command),
        cmocka_unit_test(test_bench_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
