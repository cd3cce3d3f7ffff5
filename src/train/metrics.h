// metrics.h: the evaluation metrics of multimodal sentiment regression, all of them (MIRD.md,
// "Defects of the official protocol"): computed in double from float predictions and labels.
//   has0_acc2, has0_f1   negative (< 0) vs non-negative (>= 0), all clips
//   non0_acc2, non0_f1   negative vs positive (x > 0, as MMSA: a prediction of exactly 0 counts as
//                        negative), clips with label == 0 dropped
//   mae, corr            mean absolute error and Pearson r, all clips
//   non0_mae, non0_corr  the same over the non-zero-label clips
//   acc5, acc7           clip to [-2, 2] / [-3, 3], round half to even (numpy.round), exact match
// F1 is the support-weighted F1 (sklearn f1_score(truth, pred, average='weighted')): per-class
// F1 = 2 tp / (2 tp + fp + fn) (0 when that is 0/0) over the classes present in truth or pred,
// weighted by the class's count in the TRUTH.
// Conventions for undefined values (checked against tools/metrics_ref.py):
//   - Pearson r when either side has zero variance (constant predictions, n < 2): 0, not NaN
//     (a constant predictor carries no linear information; keeps every file numeric).
//   - every metric over an empty set (no clip, or no non-zero label for the non0_* metrics): NaN,
//     written as JSON null.
#pragma once
#include <jansson.h>

enum {
    MET_HAS0_ACC2,
    MET_HAS0_F1,
    MET_NON0_ACC2,
    MET_NON0_F1,
    MET_MAE,
    MET_CORR,
    MET_NON0_MAE,
    MET_NON0_CORR,
    MET_ACC5,
    MET_ACC7,
    MET_COUNT
};
// The results.json key of each metric, in the order above.
extern const char *const METRIC_KEYS[MET_COUNT];

typedef struct {
    double v[MET_COUNT];
    double mse;  // mean squared error over all clips (the model-selection loss)
    long n, n_nonzero;
} Metrics;

void metrics_compute(Metrics *m, const float *pred, const float *truth, long n);
// Building blocks (exposed for tests).
double weighted_f1(const int *truth, const int *pred, long n); // binary classes 0/1
double pearson(const double *x, const double *y, long n);     // 0 when a variance is 0
double round_half_even(double x);
// {"has0_acc2": .., ..., "mse": .., "n": ..}; NaN -> null.
json_t *metrics_to_json(const Metrics *m);
// A JSON real, or null for a non-finite value.
json_t *json_real_or_null(double x);
