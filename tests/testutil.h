// testutil.h: helpers shared by the test binaries (cmocka is the framework).
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"

// Loss as a function of the current parameter values (computed in double from fp32 outputs).
typedef double (*LossFn)(void *ctx);

// Central finite differences on up to max_checks entries of param[n] (all if n <= max_checks,
// otherwise a fixed random subset), compared with the analytic grad[n]:
//   |analytic - numeric| <= atol + rtol * |numeric|   must hold for every checked entry.
// Returns the number of violating entries and prints the worst one with `name`.
int gradcheck(const char *name, LossFn f, void *ctx, float *param, const float *grad, long n, double eps,
              double rtol, double atol, long max_checks);

// Fill with N(0, scale^2) / U(lo, hi) from a test RNG.
void fill_normal(float *x, long n, float scale, Rng *r);
void fill_uniform(float *x, long n, float lo, float hi, Rng *r);
// sum_i x[i] * w[i] in double: the usual "random projection" loss for gradient checks.
double dot_d(const float *x, const float *w, long n);
// Max |a - b| / max(max|b|, floor): error relative to the reference tensor's scale.
double rel_err_scale(const float *a, const float *b, long n, double floor);
// Path of a file in ../shared/data (NULL if absent; tests then skip with a message).
const char *shared_data(const char *name);
