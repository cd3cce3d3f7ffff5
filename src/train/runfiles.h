// runfiles.h: the files of a training run besides checkpoints and the log: results.json per seed,
// summary.json over seeds, file digests, folders.
#pragma once
#include <jansson.h>

// SHA-256 of a file as 64 lowercase hex digits (nettle). 0 / -1 with err.
int sha256_file(const char *path, char hex[65], char *err);
// mkdir -p; 0 / -1 with err naming the folder.
int make_dirs(const char *path, char *err);
// Write a JSON value to path atomically (indented, full double precision, trailing newline).
int json_write_atomic(const char *path, json_t *v, char *err);
// summary.json in run_dir from seed_S/results.json of every seed: for "valid" and "test", mean
// and population standard deviation (ddof 0, stated in the file) of every metric, plus the
// per-seed values. A metric that is null in some seed is averaged over the seeds that have it
// ("n" says how many). 0 / -1 with err.
int summary_write(const char *run_dir, const int *seeds, int n_seeds, char *err);
// Print the summary table (mean +- std of the test metrics, percentages for fractions); with
// reference != NULL, further columns: each object member of reference whose value holds metric
// keys (mird synth's oracle.json: its splits.<split> members "oracle", "chance", ...).
void summary_print(FILE *f, json_t *summary, const char *split, json_t *reference);
