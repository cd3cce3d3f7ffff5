// testutil.h: helpers shared by the test binaries (cmocka is the framework).
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/rng.h"
#include "io/safetensors.h"

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
// Run a shell command (printf-style, up to 16 KiB); its exit status, 128 when it did not exit.
int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// Path of a file in ../shared/data (NULL if absent; tests then skip with a message).
const char *shared_data(const char *name);

// Every tensor of safetensors files a and b has the same name, dtype, shape and bytes (else the
// test fails naming the tensor).
void same_tensors(const char *a, const char *b);
// Whether they differ (count, a name, sizes or bytes); why gets the first difference.
int tensors_differ(const char *a, const char *b, char *why, size_t n);
// A tensor of a safetensors file as floats (falloc'ed; fails the test on a conversion error).
float *tensor_f32(const StFile *f, const StTensor *t);

// `mird debug-step` outputs against expected ones, tensor by tensor: max |got - exp| /
// max(max |exp|, floor) per tensor, with floor max(1e-5, 1e-6 x the largest expected gradient) for
// gradients, 1e-2 for MI estimates and losses (differences and logs of O(1) terms), 1e-5 for
// parameters (zero-initialised biases with noise gradients move by noise), 1e-6 for outputs. The
// gradients that are exactly 0 in exact arithmetic (attention key biases, WSA / WA W_a / W_v biases:
// shift invariance of softmax and sparsemax) hold only rounding noise on both sides: they must
// stay below zero_grad x the largest gradient. Prints each violation and the worst error per kind
// under `tag`; returns the number of violations.
typedef struct {
    double out, grad, param, mi, zero_grad;
} GoldenTol;
extern const GoldenTol GOLDEN_TOL_TORCH; // the PyTorch golden files: 1e-4, 1e-3, 1e-4, 1e-4, 1e-5
// The same float32 golden files for a run with --precision bf16 and every product in bfloat16
// (inputs rounded to 8 significant bits: 2^-9 = 2e-3 relative, float32 accumulation): 3e-2, 0.15,
// 1e-2, 5e-2, 1e-2, from the worst errors measured on the MIRD cases (1.5e-2, 7.7e-2, 2e-3, 1.8e-2)
// with a margin. Cases whose gradients pass through ill-conditioned steps (tests/test_mird.c) are
// held to it on their outputs and losses only.
extern const GoldenTol GOLDEN_TOL_BF16;
int golden_compare(const char *got_path, const char *exp_path, const char *tag, const GoldenTol *tol);
