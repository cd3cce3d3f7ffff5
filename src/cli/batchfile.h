// batchfile.h: the debug-step batch file (INTERFACES.md section 4), read by `mird debug-step` and
// `mird bench`: a safetensors file with input_ids [B, Tl] (I64/I32), optional attention_mask and
// token_type_ids (like input_ids), acoustic [B, Ta, d_a], visual [B, Tv, d_v] and labels [B_l]
// (B_l <= B; the first B_l rows are labeled). Shapes are checked against the model configuration;
// acoustic and visual must have a floating dtype, and acoustic, visual and labels finite values.
#pragma once
#include <stdint.h>

#include "models/mird.h"

typedef struct {
    int32_t *ids, *mask, *types;
    float *ac, *vi, *labels;
    int B, B_l, Tl, Ta, Tv;
    int B_all, B_l_all; // rows / labeled rows of the whole file (under mpirun B, B_l are this rank's share)
} LoadedBatch;

// need_labels: 1 = labels must be present (debug-step), 0 = optional (B_l = 0 without them).
// Returns 0, or -1 with a one-line err naming path (lb is then empty).
int batchfile_read(LoadedBatch *lb, const char *path, const MirdConfig *c, int need_labels, char *err);
void batchfile_free(LoadedBatch *lb);

// The common start of debug-step and bench: the configuration of checkpoint ckpt, the batch file,
// a model sized for the batch (mird_create) and the checkpoint's weights. Returns 0, or -1 with err
// (nothing left allocated). Under mpirun with several ranks (docs/distributed.md), every rank
// reads the file and keeps its share of the rows (batch_part_rows: labeled rows with their
// unlabeled partners), the model is sized for that share and set up for data parallelism
// (mird_set_comm over comm_world()), and a failure on any rank fails all of them with its message.
int batchfile_load_with_model(const char *ckpt, const char *batch, int need_labels, Mird *m, LoadedBatch *lb,
                              char *err);

// Per-row outputs of every rank back in the file's row order: mine holds this rank's lb->B rows of
// `width` floats; out [lb->B_all, width] (on every rank). Serially a copy.
void batchfile_gather_rows(const LoadedBatch *lb, const float *mine, long width, float *out);
