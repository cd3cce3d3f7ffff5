// test_metrics.c: the evaluation metrics against the golden cases written by tools/metrics_ref.py
// (numpy reference: random predictions, ties at .5 rounding boundaries, zero labels, constant
// predictions, an empty set), plus hand-checked small cases.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "testutil.h"
#include "train/metrics.h"

static double get(const Metrics *m, const char *key) {
    if (!strcmp(key, "mse")) return m->mse;
    for (int i = 0; i < MET_COUNT; i++)
        if (!strcmp(key, METRIC_KEYS[i])) return m->v[i];
    fail_msg("unknown key %s", key);
    return 0;
}

static void test_golden_cases(void **state) {
    (void)state;
    FILE *f = fopen("tests/fixtures/metrics_cases.txt", "r");
    assert_non_null(f);
    char line[512], name[128] = "";
    float *p = NULL, *t = NULL;
    long n = 0;
    Metrics m;
    int ncases = 0, nchecks = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (!strncmp(line, "case ", 5)) {
            assert_int_equal(sscanf(line + 5, "%127s %ld", name, &n), 2);
            free(p), free(t);
            p = xmalloc(sizeof(float) * (n + 1)), t = xmalloc(sizeof(float) * (n + 1));
            for (long i = 0; i < n; i++) {
                assert_non_null(fgets(line, sizeof line, f));
                char *e;
                p[i] = strtof(line, &e);
                t[i] = strtof(e, NULL);
            }
            metrics_compute(&m, p, t, n);
            ncases++;
        } else if (!strncmp(line, "expect ", 7)) {
            char key[64], val[64];
            assert_int_equal(sscanf(line + 7, "%63s %63s", key, val), 2);
            double want = !strcmp(val, "nan") ? NAN : strtod(val, NULL), got = get(&m, key);
            if (isnan(want) || isnan(got)) {
                if (!(isnan(want) && isnan(got))) fail_msg("%s %s: got %.17g want %.17g", name, key, got, want);
            } else if (fabs(got - want) > 1e-12 * (1 + fabs(want))) {
                fail_msg("%s %s: got %.17g want %.17g", name, key, got, want);
            }
            nchecks++;
        }
    }
    fclose(f);
    free(p), free(t);
    assert_true(ncases >= 10);
    assert_true(nchecks >= 10 * 11);
}

static void test_hand_cases(void **state) {
    (void)state;
    assert_true(round_half_even(0.5) == 0 && round_half_even(1.5) == 2 && round_half_even(2.5) == 2);
    assert_true(round_half_even(-0.5) == 0 && round_half_even(-1.5) == -2 && round_half_even(-2.5) == -2);
    assert_true(round_half_even(0.49999999) == 0 && round_half_even(-0.51) == -1);
    // weighted F1: truth 1,1,1,0 pred 1,0,1,0: class1 tp2 fp0 fn1 -> 0.8 ; class0 tp1 fp1 fn0 -> 2/3
    int tr[] = {1, 1, 1, 0}, pr[] = {1, 0, 1, 0};
    assert_true(fabs(weighted_f1(tr, pr, 4) - (3 * 0.8 + 1 * 2.0 / 3) / 4) < 1e-15);
    // truth is the reference: a class only predicted gets weight 0
    int tr2[] = {1, 1}, pr2[] = {0, 1};
    assert_true(fabs(weighted_f1(tr2, pr2, 2) - 2.0 / 3) < 1e-15);
    float pred[] = {0.0f, -0.0f, 0.5f, -2.6f}, truth[] = {-0.1f, 0.0f, 2.5f, -3.0f};
    Metrics m;
    metrics_compute(&m, pred, truth, 4);
    assert_int_equal(m.n_nonzero, 3);
    // has0: pred>=0: 1,1,1,0 ; truth>=0: 0,1,1,0 -> 3/4
    assert_true(m.v[MET_HAS0_ACC2] == 0.75);
    // non0 (truth -0.1, 2.5, -3): pred>0: 0,1,0 ; truth>0: 0,1,0 -> 1
    assert_true(m.v[MET_NON0_ACC2] == 1.0);
    // acc7: round(0)=0 vs round(-0.1)=0 ok ; 0 vs 0 ok ; round(.5)=0 vs round(2.5)=2 no ; -3 vs -3 ok
    assert_true(m.v[MET_ACC7] == 0.75);
    // acc5: clip: 0/0, 0/0, 0/2, -2/-2 -> 3/4
    assert_true(m.v[MET_ACC5] == 0.75);
    float c[] = {1, 1, 1};
    metrics_compute(&m, c, truth, 3);
    assert_true(m.v[MET_CORR] == 0.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_hand_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
