// metrics.c: see metrics.h for the definitions and the conventions for undefined values.
#include "train/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "core/common.h"

const char *const METRIC_KEYS[MET_COUNT] = {"has0_acc2", "has0_f1",  "non0_acc2", "non0_f1",   "mae",
                                            "corr",      "non0_mae", "non0_corr", "acc5",      "acc7"};

double round_half_even(double x) {
    // numpy.round's rule, independent of the FPU rounding mode.
    double r = floor(x);
    double d = x - r;
    if (d > 0.5) return r + 1;
    if (d < 0.5) return r;
    return fmod(r, 2.0) == 0 ? r : r + 1;
}

double weighted_f1(const int *truth, const int *pred, long n) {
    long tp[2] = {0, 0}, fp[2] = {0, 0}, fn[2] = {0, 0}, support[2] = {0, 0};
    for (long i = 0; i < n; i++) {
        int t = truth[i] != 0, p = pred[i] != 0;
        support[t]++;
        if (t == p) tp[t]++;
        else fp[p]++, fn[t]++;
    }
    if (n == 0) return NAN;
    double s = 0;
    for (int c = 0; c < 2; c++) {
        long den = 2 * tp[c] + fp[c] + fn[c];
        double f = den ? 2.0 * tp[c] / den : 0.0;
        s += f * support[c];
    }
    return s / n;
}

double pearson(const double *x, const double *y, long n) {
    if (n < 1) return NAN;
    int xc = 1, yc = 1; // constant sides are detected exactly, not through a rounded variance
    for (long i = 1; i < n; i++) xc &= x[i] == x[0], yc &= y[i] == y[0];
    if (xc || yc) return 0.0;
    double mx = 0, my = 0;
    for (long i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxy = 0, sxx = 0, syy = 0;
    for (long i = 0; i < n; i++) {
        double a = x[i] - mx, b = y[i] - my;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    double r = sxy / sqrt(sxx * syy);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

static double clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

void metrics_compute(Metrics *m, const float *pred, const float *truth, long n) {
    double *p = xmalloc(sizeof(double) * (n + 1)), *t = xmalloc(sizeof(double) * (n + 1));
    int *bp = xmalloc(sizeof(int) * (n + 1)), *bt = xmalloc(sizeof(int) * (n + 1));
    m->n = n;
    // all clips
    long ok2 = 0, ok5 = 0, ok7 = 0;
    double ae = 0, se = 0;
    for (long i = 0; i < n; i++) {
        p[i] = pred[i], t[i] = truth[i];
        bp[i] = p[i] >= 0, bt[i] = t[i] >= 0;
        ok2 += bp[i] == bt[i];
        ae += fabs(p[i] - t[i]);
        se += (p[i] - t[i]) * (p[i] - t[i]);
        ok5 += round_half_even(clip(p[i], -2, 2)) == round_half_even(clip(t[i], -2, 2));
        ok7 += round_half_even(clip(p[i], -3, 3)) == round_half_even(clip(t[i], -3, 3));
    }
    m->v[MET_HAS0_ACC2] = n ? (double)ok2 / n : NAN;
    m->v[MET_HAS0_F1] = weighted_f1(bt, bp, n);
    m->v[MET_MAE] = n ? ae / n : NAN;
    m->mse = n ? se / n : NAN;
    m->v[MET_CORR] = pearson(p, t, n);
    m->v[MET_ACC5] = n ? (double)ok5 / n : NAN;
    m->v[MET_ACC7] = n ? (double)ok7 / n : NAN;
    // non-zero labels only (compacted in place)
    long k = 0;
    for (long i = 0; i < n; i++)
        if (t[i] != 0) p[k] = p[i], t[k] = t[i], k++;
    m->n_nonzero = k;
    long okn = 0;
    ae = 0;
    for (long i = 0; i < k; i++) {
        bp[i] = p[i] > 0, bt[i] = t[i] > 0;
        okn += bp[i] == bt[i];
        ae += fabs(p[i] - t[i]);
    }
    m->v[MET_NON0_ACC2] = k ? (double)okn / k : NAN;
    m->v[MET_NON0_F1] = weighted_f1(bt, bp, k);
    m->v[MET_NON0_MAE] = k ? ae / k : NAN;
    m->v[MET_NON0_CORR] = pearson(p, t, k);
    free(p), free(t), free(bp), free(bt);
}

json_t *json_real_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

json_t *metrics_to_json(const Metrics *m) {
    json_t *o = json_object();
    for (int i = 0; i < MET_COUNT; i++) json_object_set_new(o, METRIC_KEYS[i], json_real_or_null(m->v[i]));
    json_object_set_new(o, "mse", json_real_or_null(m->mse));
    json_object_set_new(o, "n", json_integer(m->n));
    json_object_set_new(o, "n_nonzero", json_integer(m->n_nonzero));
    return o;
}
