// optim.h: the two optimisers of MIRD (MIRD.md "One training step"), over a whole ParamSet.
// State layout mirrors the ParamSet: m and v have ps->total floats at the same offsets as data;
// step[i] counts the updates of parameter i (PyTorch keeps a step per parameter tensor).
//
// AdamW = transformers.optimization.AdamW as the official code calls it:
//   m = b1 m + (1-b1) g ; v = b2 v + (1-b2) g^2 ; denom = sqrt(v) + eps
//   p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / denom ; then, for decaying names,
//   p -= lr * wd * p   (decoupled decay AFTER the Adam update, on the updated p)
//   no decay for params_decays(name) == 0 ("bias", "LayerNorm.weight", "LayerNorm.bias").
// Adam = torch.optim.Adam (weight_decay 0), for the CLUB estimators:
//   denom = sqrt(v) / sqrt(1 - b2^t) + eps ; p -= lr / (1 - b1^t) * m / denom
// Like PyTorch, a parameter whose gradient was never created (active[i] == 0) is skipped entirely
// (no state change, no decay). Pass active = NULL when every parameter has a gradient.
#pragma once
#include <stdint.h>

#include "core/params.h"

typedef enum { OPTIM_ADAMW_HF = 0, OPTIM_ADAM_TORCH = 1 } OptimKind;

typedef struct {
    OptimKind kind;
    float beta1, beta2, eps, weight_decay;
    int n;          // number of parameters (ps->n)
    size_t total;   // floats (ps->total)
    int64_t *step;  // [n]
    uint8_t *decay; // [n] 1 = weight decay applies (AdamW only)
    float *m, *v;   // [total]
} Optim;

// AdamW (transformers): defaults b1 0.9, b2 0.999, eps 1e-6, weight_decay 0.01 in MIRD.
void adamw_init(Optim *o, const ParamSet *ps, float beta1, float beta2, float eps, float weight_decay);
// torch.optim.Adam: defaults b1 0.9, b2 0.999, eps 1e-8.
void adam_init(Optim *o, const ParamSet *ps, float beta1, float beta2, float eps);
// One update of every active parameter with learning rate lr from ps->grad.
void optim_step(Optim *o, ParamSet *ps, float lr, const uint8_t *active);
// Forget all state (steps 0, moments 0).
void optim_reset(Optim *o);
void optim_free(Optim *o);
