// checkpoint.h: the MIRD checkpoint (INTERFACES.md section 2): one safetensors file holding the
// model parameters as F32 tensors under their official PyTorch state_dict names, the model
// configuration as a JSON string in __metadata__["mird.config"], and optionally further tensors
// (optimiser state, run state) under other prefixes, e.g. "optim.m.<name>", "optim.v.<name>".
// Readers look tensors up by name and ignore names they do not know, so a safetensors state_dict
// exported from the official PyTorch code loads too (it then has no mird.config).
#pragma once
#include <stdio.h>

#include "core/common.h"
#include "core/params.h"
#include "io/safetensors.h"

// Add every tensor of `layout` to w as F32, named prefix + name, data from buf at the layout's
// offsets (buf = layout->data for the parameters, ->grad, or any buffer of layout->total floats
// such as an optimiser moment). Data is referenced, not copied: keep buf alive until stw_write.
void ckpt_add_params(StWriter *w, const ParamSet *layout, const float *buf, const char *prefix);

// Write a checkpoint atomically: every parameter of ps (ps->data, official names), metadata
// "mird.config" = config_json (must parse as a JSON object), plus, when extra != NULL, every
// tensor and metadata entry of extra (e.g. built with ckpt_add_params(&extra, ps, m, "optim.m.")
// and stw_meta(&extra, "mird.step", "1200")). A name clash between extra and the model is an
// error; extra's "mird.config", if any, is overridden by config_json. extra is not modified.
int checkpoint_save(const char *path, const ParamSet *ps, const char *config_json, const StWriter *extra,
                    char *err);

// Fill buf (layout->total floats, layout offsets) from f by name: for every tensor of layout the
// tensor prefix + name must exist (else an error naming it) with the same shape (else an error
// giving both shapes) and a floating dtype (F32 copied bit-exactly; F16/BF16/F64 converted).
// Names in f that layout does not have are ignored.
int ckpt_load_params(const StFile *f, const ParamSet *layout, float *buf, const char *prefix, char *err);

// The checks of ckpt_load_tensor on a tensor of any file format, given its dtype and shape: p's
// shape and a floating dtype. 0, or -1 with err naming path and name.
int ckpt_check_tensor(const char *path, const char *name, StDtype dtype, int ndim, const int64_t *shape,
                      const ParamInfo *p, char *err);

// One tensor of ckpt_load_params: f's tensor `name` into dst (p->numel floats), with the same
// checks (present, p's shape, a floating dtype) and messages.
int ckpt_load_tensor(const StFile *f, const ParamInfo *p, const char *name, float *dst, char *err);

// Load the model parameters of a checkpoint into ps (allocated here if it is not yet) by name.
// config_out (may be NULL): a heap copy of mird.config (free()), or NULL if the file has none.
int checkpoint_load(const char *path, ParamSet *ps, char **config_out, char *err);

// Just the configuration string (heap copy; *config_out = NULL when the file has none).
int checkpoint_read_config(const char *path, char **config_out, char *err);

// Print {"format": "checkpoint", "config": {...} (null if absent), "tensors": {NAME: [shape...]}}
// (tensors in file order) followed by a newline. Used by `mird inspect` for non-pickle files.
int checkpoint_inspect_json(const char *path, FILE *out, char *err);
