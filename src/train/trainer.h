// trainer.h: the MIRD training protocol (MIRD.md "One training step", "Unlabeled pairing") over
// several seeds, with model selection, early stopping, logs, checkpoints and exact resumption.
//
// Run folder layout (RUN = --out):
//   RUN/config.json           the resolved run configuration and model configuration
//   RUN/summary.json          mean and std (ddof 0) of every metric over the seeds
//   RUN/seed_S/results.json   INTERFACES.md keys for "valid" and "test" (best epoch), best_epoch,
//                             seed, config, data sha256s, program version
//   RUN/seed_S/log.jsonl      one line per epoch: every loss term, raw CLUB estimates, metrics,
//                             learning rates, seconds
//   RUN/seed_S/best.safetensors, last.safetensors   FULL training state (model, estimators, both
//                             optimisers, schedule step, epoch, position in the epoch, RNG states,
//                             best metric so far): `--resume` continues bit-identically
//   RUN/seed_S/{losses,mi,valid}.svg, test_predictions.csv, latents.safetensors (--dump-latents)
// Checkpoints are written atomically (temporary file, fsync, rename); a NaN/inf loss stops the seed
// with a message naming the step and the term, before anything is written.
#pragma once
#include "train/runconfig.h"

// Exit-status-like results of train_run.
enum { TRAIN_OK = 0, TRAIN_FAIL = 1, TRAIN_USAGE = 2, TRAIN_CANCELLED = 3, TRAIN_STOPPED = 75 };

// Observers of a run (the C API's callbacks; the CLI has none). on_epoch: each epoch's log line,
// right after it is appended to log.jsonl; a nonzero return ends the run there with TRAIN_CANCELLED
// (err set; that epoch's checkpoints are written, so --resume continues). on_warning: the warnings
// that otherwise go to stderr. Either may be NULL.
typedef struct {
    int (*on_epoch)(void *user, int seed, json_t *line);
    void (*on_warning)(void *user, const char *message);
    void *user;
} TrainHooks;

// Trains every seed of c; returns TRAIN_OK, TRAIN_FAIL (err set), TRAIN_USAGE (err set) or
// TRAIN_STOPPED (c->stop_after_steps reached: a simulated crash, for tests).
// Under mpirun (docs/distributed.md) every rank calls it: the ranks train the seeds together, data
// parallel, or (--ranks-per-run G) in groups of G that each take some of the seeds; rank 0 writes.
int train_run(const RunConfig *c, char *err);
// Several runs (mird ablate's rows: each a RunConfig with its own out folder), every seed of each;
// the same as train_run on each in turn, except under mpirun with groups (runs[0].ranks_per_run):
// then all (run, seed) pairs are dealt round-robin to the groups, a failing group ends the whole
// job (MPI_Abort) with its message, and the summaries follow once every group is done (so the run
// folders must be on a filesystem all ranks see). labels (may be NULL): a name per run for the
// progress line "mird: LABEL -> OUT". *failed (may be NULL): index of the run that failed.
// hooks (may be NULL): as train_run_hooked's, for every run.
int train_runs(const RunConfig *runs, int n, const char *const *labels, const TrainHooks *hooks, int *failed, char *err);

// train_run with hooks (may be NULL); it may also return TRAIN_CANCELLED.
int train_run_hooked(const RunConfig *c, const TrainHooks *hooks, char *err);
