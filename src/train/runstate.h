// runstate.h: the state of a training run besides the model (epoch, position in it, RNG streams,
// sums of the epoch, selection so far) and the checkpoints that hold the whole training state
// (model, estimators, both optimisers and this state), so that `--resume` continues
// bit-identically (trainer.h).
#pragma once
#include <jansson.h>

#include "core/rng.h"
#include "train/model_glue.h"
#include "train/trainer.h"

// Sums of the per-step values of the current epoch, in the order of STEP_KEYS.
#define NSUMS STEP_NVALS
typedef struct {
    int epoch;             // the epoch in progress (0-based); == epochs when finished
    long step_in_epoch;    // steps of `epoch` already taken
    long global_step;      // optimiser steps so far (the schedule's step)
    Rng shuffle_at_epoch;  // shuffle stream at the start of `epoch` (regenerates its permutation)
    Rng shuffle, dropout;  // live streams
    double sums[NSUMS];    // of the current epoch
    double epoch_seconds;  // training seconds of the current epoch so far
    double best_loss;      // selection loss of the best epoch (INFINITY before the first)
    int best_epoch;        // 1-based, 0 = none
    int since_improve;     // epochs without improvement
    int finished;          // all epochs done or early-stopped
    json_t *best_valid, *best_test; // metrics of the best epoch (owned)
    json_t *last_line;     // the log line of the last finished epoch (owned): a crash between the
                           // checkpoint and the log append is repaired from it on resume
    // data parallel (docs/distributed.md): every rank's dropout stream, gathered for checkpoints
    // ("rng_dropout_ranks"; `dropout` above is this rank's); 0 / NULL for one process
    int nranks;
    Rng *rank_dropout;     // [nranks] (owned)
} RunState;

json_t *runstate_to_json(const RunState *st);
int runstate_from_json(RunState *st, json_t *o); // 0 / -1 (missing or malformed keys)
void runstate_free(RunState *st);                // the owned JSON values

// Write path atomically: the model's full training state, st, and the run's configuration and
// data shape as metadata ("mird.train_state", "mird.run_config", "mird.data_shape"). A parameter
// holding NaN or inf is refused (nothing written).
int runstate_save(const char *path, Model *m, const RunState *st, const char *run_json, const char *shape_json,
                  char *err);
// Read it back into m and st; warns on stderr when the checkpoint was trained with other values of
// settings that change what a run computes (run_json is the current configuration).
// hooks (may be NULL): its on_warning takes that warning instead of stderr.
int runstate_load(const char *path, Model *m, RunState *st, const char *run_json, const TrainHooks *hooks, char *err);
