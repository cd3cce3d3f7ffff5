// params.h: a named set of fp32 tensors stored in one flat buffer, with a gradient buffer of the
// same layout. Models register every parameter by its official PyTorch state_dict name and shape
// (register phase), then params_alloc() allocates data and grad once, then models look their
// pointers up by name. Checkpoint I/O, optimisers (weight-decay groups by name) and debug output
// (`grad.NAME`, `param.NAME`) all work generically over a ParamSet.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define PARAM_NAME_MAX 160
#define PARAM_MAX_DIMS 4

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t offset; // in floats, into data / grad (64-byte aligned)
    size_t numel;
} ParamInfo;

typedef struct {
    ParamInfo *p;
    int n, cap;
    size_t total; // floats, including alignment padding
    float *data;  // NULL until params_alloc
    float *grad;  // NULL until params_alloc
} ParamSet;

void params_init(ParamSet *ps);
// Register a tensor; name must be unique. Returns its index.
int params_add(ParamSet *ps, const char *name, int ndim, const int64_t *shape);
// Convenience for 1-D and 2-D tensors.
int params_add1(ParamSet *ps, const char *name, int64_t d0);
int params_add2(ParamSet *ps, const char *name, int64_t d0, int64_t d1);
// Allocate zeroed data and grad buffers (once).
void params_alloc(ParamSet *ps);
// Index of a name, or -1.
int params_find(const ParamSet *ps, const char *name);
// Pointer to a tensor's data / grad; aborts with a message if the name is unknown (a programming error).
float *params_data(const ParamSet *ps, const char *name);
float *params_grad(const ParamSet *ps, const char *name);
void params_zero_grad(ParamSet *ps);
void params_free(ParamSet *ps);
// PyTorch/HF weight-decay rule: no decay for names containing "bias", "LayerNorm.weight", "LayerNorm.bias".
int params_decays(const char *name);
