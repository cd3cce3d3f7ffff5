// trainer_internal.h: the parts of the trainer shared by trainer.c (one run's data, one seed's
// training) and sweep.c (which runs each group of ranks trains, the summaries).
#pragma once
#include <jansson.h>

#include "core/comm.h"
#include "train/runconfig.h"
#include "train/trainer.h"
#include "train/traindata.h"

// One run: its configuration, data, and the ranks that train it together (docs/distributed.md).
typedef struct {
    const RunConfig *c;
    const Comm *comm; // the ranks training this run (one rank: a plain single-process run)
    int root;         // this rank writes the run's files (rank 0 of comm)
    TSplit sp[3], unl;
    int have_unl;
    char data_sha[65], unl_sha[65];
    char *run_json;   // resolved run config (compact)
    char *shape_json; // {"Tl":..,"Ta":..,"Tv":..}
    json_t *model_cfg;
    const TrainHooks *hooks; // may be NULL (the C API's callbacks)
} Run;

// The model configuration, the run folder and config.json (rank 0), the data (every rank).
// Returns TRAIN_OK or TRAIN_FAIL with err (on every rank of comm when one fails); run_close always.
int run_open(Run *R, const RunConfig *c, const Comm *comm, char *err);
void run_close(Run *R);
// Train one seed of the run into RUN/seed_S (fresh or --resume): TRAIN_OK, TRAIN_FAIL (err) or
// TRAIN_STOPPED, the same on every rank of R->comm.
int train_seed(Run *R, int seed, char *err);
