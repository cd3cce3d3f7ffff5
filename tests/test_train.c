// test_train.c: learning-rate schedules (values of the Hugging Face formula, the official swapped
// call on CMU-MOSI's sizes) and, on a tiny model, the training run's reproducibility contracts.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "testutil.h"
#include "train/schedule.h"

#define CLOSE(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void test_schedule_warmup_linear(void **state) {
    (void)state;
    Schedule s;
    schedule_init(&s, SCHED_WARMUP_LINEAR, 1284, 48, 100, 0.1); // 27 steps/epoch -> 2700, warm-up 270
    CLOSE(s.num_training_steps, 2700);
    CLOSE(s.num_warmup_steps, 270);
    CLOSE(schedule_factor(&s, 0), 0.0);
    CLOSE(schedule_factor(&s, 135), 0.5);
    CLOSE(schedule_factor(&s, 270), 1.0);
    CLOSE(schedule_factor(&s, 270 + 1215), 0.5);
    CLOSE(schedule_factor(&s, 2699), 1.0 / 2430);
    CLOSE(schedule_factor(&s, 2700), 0.0);
    CLOSE(schedule_factor(&s, 5000), 0.0);
    // no warm-up: starts at 1
    schedule_init(&s, SCHED_WARMUP_LINEAR, 10, 5, 2, 0.0);
    CLOSE(schedule_factor(&s, 0), 1.0);
    CLOSE(schedule_factor(&s, 2), 0.5);
}

static void test_schedule_paper_swapped(void **state) {
    (void)state;
    Schedule s;
    // official: T = int(1284 / 48) * 100 = 2600 passed as num_warmup_steps, 0.1 T = 260 as num_training_steps
    schedule_init(&s, SCHED_PAPER, 1284, 48, 100, 0.1);
    CLOSE(s.num_warmup_steps, 2600);
    CLOSE(s.num_training_steps, 260);
    CLOSE(schedule_factor(&s, 0), 0.0);
    CLOSE(schedule_factor(&s, 1), 1.0 / 2600);
    CLOSE(schedule_factor(&s, 1300), 0.5);
    CLOSE(schedule_factor(&s, 2599), 2599.0 / 2600);
    // from step T on: (260 - k) / max(1, 260 - 2600) = 260 - k < 0 -> 0
    CLOSE(schedule_factor(&s, 2600), 0.0);
    CLOSE(schedule_factor(&s, 2699), 0.0);
    long nonzero = 0;
    for (long k = 0; k < 2700; k++) nonzero += schedule_factor(&s, k) > 0;
    assert_int_equal(nonzero, 2599); // steps 1..2599: about 96% of the 2700 steps taken
    // fewer labeled clips than a batch: T = 0 -> always 0
    schedule_init(&s, SCHED_PAPER, 20, 48, 3, 0.1);
    for (long k = 0; k < 3; k++) CLOSE(schedule_factor(&s, k), 0.0);
}

static void test_schedule_constant_and_names(void **state) {
    (void)state;
    Schedule s;
    schedule_init(&s, SCHED_CONSTANT, 100, 10, 3, 0.1);
    CLOSE(schedule_factor(&s, 0), 1.0);
    CLOSE(schedule_factor(&s, 29), 1.0);
    SchedKind k;
    assert_int_equal(schedule_parse("paper", &k), 0);
    assert_int_equal(k, SCHED_PAPER);
    assert_string_equal(schedule_name(k), "paper");
    assert_int_equal(schedule_parse("cosine", &k), -1);
    // the HF formula itself with ordinary arguments
    CLOSE(hf_linear_warmup_factor(5, 10, 110), 0.5);
    CLOSE(hf_linear_warmup_factor(60, 10, 110), 0.5);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_warmup_linear),
        cmocka_unit_test(test_schedule_paper_swapped),
        cmocka_unit_test(test_schedule_constant_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
