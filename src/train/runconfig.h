// runconfig.h: the run configuration of `mird train`: defaults (the faithful MIRD protocol, except
// the three documented defects: selection on validation, the warm-up-linear schedule, all metrics),
// then an optional JSON file (--config RUN.json: an object whose keys are the flag names, with '-'
// or '_'), then the command-line flags, each of which overrides the file.
#pragma once
#include <jansson.h>

#include "train/schedule.h"

#define RC_MAX_SEEDS 64
#define RC_PATH 4096

typedef struct {
    char data[RC_PATH], unlabeled[RC_PATH], out[RC_PATH], model[RC_PATH], init[RC_PATH], bert[RC_PATH],
        vocab[RC_PATH], config[RC_PATH], reference[RC_PATH];
    int seeds[RC_MAX_SEEDS], n_seeds;
    int epochs, batch_size, eval_batch_size, split_rate, club_steps, max_len;
    double lr, mi_lr, weight_decay, warmup_proportion;
    char club_mode[16];  // once | official
    char club_input[16]; // raw (the paper) | standardized (mird.h club_std)
    char schedule[16];   // warmup-linear | constant | paper
    char select[8];      // valid | test
    char ablation[16];   // full | no-rec | no-mi | fixed-weight | wsa-only
    char precision[8];   // fp32 | bf16 (core/matmul.h)
    int early_stop;      // epochs without improvement before stopping; 0 = never
    int threads;         // 0 = OpenMP's default
    int ranks_per_run;   // under mpirun: ranks that train one run together (0 = all; docs/distributed.md)
    int resume, dump_latents, quiet;
    long checkpoint_steps; // also write last.safetensors every N steps inside an epoch (0 = epoch ends
                           // and every 10 minutes)
    long stop_after_steps; // testing: exit (status 75) right after this many optimiser steps, 0 = off
} RunConfig;

void runconfig_defaults(RunConfig *c);
// Apply a JSON object (keys = flag names). Unknown keys and wrong types are errors naming the key.
int runconfig_apply_json(RunConfig *c, json_t *obj, const char *src, char *err);
int runconfig_load_file(RunConfig *c, const char *path, char *err);
// Parse argv (argv[0] = command name): first --config (if any) is loaded, then every flag applies.
// Returns 0, -1 on a usage error (err set), -2 when the --config file is unreadable or invalid
// (a failure, exit 1), 1 when --help was asked (usage printed to stdout).
int runconfig_parse_args(RunConfig *c, int argc, char **argv, char *err);
// Checks the values (ranges, choices). 0 / -1 with err.
int runconfig_validate(const RunConfig *c, char *err);
// The resolved configuration as JSON (every key, flag spelling with '_').
json_t *runconfig_to_json(const RunConfig *c);
void runconfig_usage(FILE *f);
// The schedule kind named by c->schedule.
SchedKind runconfig_schedule(const RunConfig *c);
