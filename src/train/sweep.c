// sweep.c: which runs each group of ranks trains, and the summaries (trainer.h train_runs).
// Without mpirun, or with all ranks in one group, the runs and their seeds are trained in order and
// each run's summary follows its last seed, exactly as one process always did.
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/common.h"
#include "core/matmul.h"
#include "train/runfiles.h"
#include "train/trainer_internal.h"

// summary.json over the seeds and, unless quiet, its table on stdout.
static int run_report(const RunConfig *c, char *err) {
    if (summary_write(c->out, c->seeds, c->n_seeds, err)) return TRAIN_FAIL;
    if (c->quiet) return TRAIN_OK;
    char p[4200];
    snprintf(p, sizeof p, "%s/summary.json", c->out);
    json_error_t je;
    json_t *sm = json_load_file(p, 0, &je);
    json_t *ref = NULL;
    if (c->reference[0]) {
        ref = json_load_file(c->reference, 0, &je);
        if (!ref) fprintf(stderr, "mird: %s: %s (reference columns left out)\n", c->reference, je.text);
    }
    printf("test metrics of the selected epochs (%d seed%s, mean +- std, ddof 0; percentages except MAE and Corr):\n",
           c->n_seeds, c->n_seeds > 1 ? "s" : "");
    summary_print(stdout, sm, "test", ref);
    printf("run folder: %s (summary.json; per seed: results.json, log.jsonl, losses.svg, mi.svg, valid.svg)\n", c->out);
    json_decref(ref);
    json_decref(sm);
    return TRAIN_OK;
}

// The seeds of run r that group g of ng trains: the (run, seed) pairs, numbered in order, are dealt
// round-robin to the groups.
static int group_seeds(const RunConfig *runs, int r, int g, int ng, int *seeds) {
    int u = 0, n = 0;
    for (int k = 0; k < r; k++) u += runs[k].n_seeds;
    for (int i = 0; i < runs[r].n_seeds; i++, u++)
        if (u % ng == g) seeds[n++] = runs[r].seeds[i];
    return n;
}

int train_runs(const RunConfig *runs, int n, const char *const *labels, const TrainHooks *hooks, int *failed, char *err) {
    for (int r = 0; r < n; r++)
        if (runconfig_validate(&runs[r], err)) return TRAIN_USAGE;
    const Comm *w = comm_world();
    int G = runs[0].ranks_per_run > 0 ? runs[0].ranks_per_run : w->size;
    if (G > w->size || w->size % G)
        return errf(err, "--ranks-per-run %d must divide the %d MPI ranks", runs[0].ranks_per_run, w->size), TRAIN_USAGE;
    int ng = w->size / G, g = w->rank / G, rc = TRAIN_OK, r;
    Comm group = *w;
    if (ng > 1) comm_split(w, g, &group);
    if (runs[0].threads > 0) omp_set_num_threads(runs[0].threads);
    MatmulPrecision want = strcmp(runs[0].precision, "bf16") ? MATMUL_FP32 : MATMUL_BF16;
    if (matmul_set_precision(want) != want && !runs[0].quiet && w->rank == 0)
        fprintf(stderr, "mird: precision bf16: this CPU (or build) has no bfloat16 matrix products; running fp32\n");
    for (r = 0; r < n && rc == TRAIN_OK; r++) {
        const RunConfig *c = &runs[r];
        int seeds[RC_MAX_SEEDS], ns = group_seeds(runs, r, g, ng, seeds);
        if (ns == 0) continue;
        if (labels && !c->quiet && group.rank == 0) fprintf(stderr, "mird: %s -> %s\n", labels[r], c->out);
        Run R;
        rc = run_open(&R, c, &group, err);
        R.hooks = hooks;
        for (int i = 0; i < ns && rc == TRAIN_OK; i++) rc = train_seed(&R, seeds[i], err);
        if (rc == TRAIN_OK && ng == 1) rc = comm_agree(&group, R.root ? run_report(c, err) : TRAIN_OK, err);
        run_close(&R);
    }
    if (rc != TRAIN_OK && failed) *failed = r - 1;
    if (ng == 1) return rc;
    if (rc != TRAIN_OK) { // one group failed: its rank 0 ends the whole job, with the message
        if (group.rank == 0) {
            char msg[RC_PATH + MIRD_ERRLEN + 32];
            if (G == 1) snprintf(msg, sizeof msg, "rank %d: %s: %s", w->rank, runs[r - 1].out, err);
            else snprintf(msg, sizeof msg, "%s: %s", runs[r - 1].out, err);
            comm_abort(1, msg);
        }
        comm_barrier(&group); // the group's rank 0 aborts the job
    }
    comm_free(&group);
    // every group done: rank 0 writes every run's summary (the run folders are shared)
    rc = TRAIN_OK;
    for (r = 0; r < n && rc == TRAIN_OK; r++) rc = comm_agree(w, w->rank == 0 ? run_report(&runs[r], err) : TRAIN_OK, err);
    if (rc != TRAIN_OK && failed) *failed = r - 1;
    return rc;
}

int train_run_hooked(const RunConfig *c, const TrainHooks *hooks, char *err) {
    return train_runs(c, 1, NULL, hooks, NULL, err);
}

int train_run(const RunConfig *c, char *err) { return train_run_hooked(c, NULL, err); }
