// testutil.c: see testutil.h.
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

int gradcheck(const char *name, LossFn f, void *ctx, float *param, const float *grad, long n, double eps,
              double rtol, double atol, long max_checks) {
    Rng r;
    rng_seed(&r, 12345, 99);
    long checks = n < max_checks ? n : max_checks;
    int bad = 0;
    double worst = -1;
    long worst_i = -1;
    double worst_a = 0, worst_n = 0;
    for (long c = 0; c < checks; c++) {
        long i = n <= max_checks ? c : (long)rng_below(&r, (uint32_t)n);
        float saved = param[i];
        param[i] = (float)(saved + eps);
        double lp = f(ctx);
        param[i] = (float)(saved - eps);
        double lm = f(ctx);
        param[i] = saved;
        double num = (lp - lm) / (2 * eps);
        double a = grad[i];
        double excess = fabs(a - num) - (atol + rtol * fabs(num));
        if (excess > 0) bad++;
        if (excess > worst || worst_i < 0) {
            worst = excess;
            worst_i = i;
            worst_a = a;
            worst_n = num;
        }
    }
    if (bad)
        fprintf(stderr, "gradcheck %s: %d/%ld entries out of tolerance; worst [%ld] analytic %.6g numeric %.6g\n",
                name, bad, checks, worst_i, worst_a, worst_n);
    return bad;
}

void fill_normal(float *x, long n, float scale, Rng *r) {
    for (long i = 0; i < n; i++) x[i] = scale * rng_normal(r);
}

void fill_uniform(float *x, long n, float lo, float hi, Rng *r) {
    for (long i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
}

double dot_d(const float *x, const float *w, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)x[i] * w[i];
    return s;
}

double rel_err_scale(const float *a, const float *b, long n, double floor) {
    double m = floor, e = 0;
    for (long i = 0; i < n; i++) {
        if (fabs(b[i]) > m) m = fabs(b[i]);
        double d = fabs((double)a[i] - b[i]);
        if (d > e || isnan(d)) e = isnan(d) ? INFINITY : d;
    }
    return e / m;
}

const char *shared_data(const char *name) {
    static char path[1024];
    snprintf(path, sizeof(path), "../shared/data/%s", name);
    if (access(path, R_OK) == 0) return path;
    fprintf(stderr, "skip: ../shared/data/%s not present\n", name);
    return NULL;
}
