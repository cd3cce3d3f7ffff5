// cmd_ablate.c: `mird ablate`: the paper's ablation ladder, each row trained over the same seeds
// with the same flags (any `mird train` flag applies), then the table of test metrics (mean +- std,
// ddof 0) of the selected epochs:
//   wsa-only   WSA-BERT alone: L_pred only, no decoders, no MI, no unlabeled data
//   recon      + reconstruction: L_pred + 0.1 CE_L + 10 MSE_A + 100 MSE_V, no MI, no unlabeled data
//   recon-mi   + MI minimisation: the log objective with the six CLUB terms, MI lr 0.01 as in the
//              authors' script, no unlabeled data
//   full       MIRD: the log objective with unlabeled data (--unlabeled), --mi-lr (1e-3)
// Rows go to OUT/<row>; --resume continues an interrupted ladder.
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"
#include "train/metrics.h"
#include "train/runfiles.h"
#include "train/trainer.h"

int cmd_ablate(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: mird ablate --data DATA --unlabeled U --out DIR [any mird train flag]\n"
                   "  trains the ladder wsa-only, recon, recon-mi, full into DIR/<row> and prints the table\n\n");
            runconfig_usage(stdout);
            return 0;
        }
    RunConfig base;
    runconfig_defaults(&base);
    char err[MIRD_ERRLEN] = "";
    int rc = runconfig_parse_args(&base, argc, argv, err);
    int root0 = comm_world()->rank == 0; // usage errors are the same on every rank: rank 0 prints
    if (rc == -2) {
        if (root0) fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    if (rc) {
        if (root0) fprintf(stderr, "mird: ablate: %s\n", err);
        return 2;
    }
    if (runconfig_validate(&base, err)) {
        if (root0) fprintf(stderr, "mird: ablate: %s\n", err);
        return 2;
    }
    static const struct {
        const char *row, *ablation, *label;
        int unlabeled;
        double mi_lr; // 0 = keep the run's
    } LADDER[] = {
        {"wsa-only", "wsa-only", "WSA-BERT", 0, 0},
        {"recon", "fixed-weight", "+ reconstruction", 0, 0},
        {"recon-mi", "full", "+ reconstruction + MI", 0, 0.01},
        {"full", "full", "MIRD (+ unlabeled)", 1, 0},
    };
    const int NR = 4;
    static char outs[4][RC_PATH], labels[4][96];
    RunConfig rows[4];
    const char *lab[4];
    for (int r = 0; r < NR; r++) {
        RunConfig *c = &rows[r];
        *c = base;
        if (snprintf(outs[r], sizeof outs[r], "%s/%s", base.out, LADDER[r].row) >= (int)sizeof outs[r]) {
            fprintf(stderr, "mird: ablate: --out: path too long\n");
            return 2;
        }
        memcpy(c->out, outs[r], sizeof c->out);
        snprintf(c->ablation, sizeof c->ablation, "%s", LADDER[r].ablation);
        if (!LADDER[r].unlabeled) c->unlabeled[0] = 0;
        if (LADDER[r].mi_lr > 0) c->mi_lr = LADDER[r].mi_lr;
        snprintf(labels[r], sizeof labels[r], "ablate: row %d/%d: %s", r + 1, NR, LADDER[r].label);
        lab[r] = labels[r];
    }
    // the rows in turn (under mpirun with --ranks-per-run, every (row, seed) run dealt to the groups)
    int failed = 0;
    rc = train_runs(rows, NR, lab, NULL, &failed, err);
    if (rc) {
        if (comm_world()->rank == 0) fprintf(stderr, "mird: ablate: %s: %s\n", LADDER[failed].row, err);
        return rc == TRAIN_USAGE ? 2 : rc == TRAIN_STOPPED ? TRAIN_STOPPED : 1;
    }
    static const int COLS[] = {MET_HAS0_ACC2, MET_HAS0_F1, MET_NON0_ACC2, MET_NON0_F1, MET_MAE, MET_CORR, MET_ACC5, MET_ACC7};
    static const char *const HEAD[] = {"Has0-Acc2", "Has0-F1", "Non0-Acc2", "Non0-F1", "MAE", "Corr", "Acc-5", "Acc-7"};
    printf("test metrics of the selected epochs, mean +- std (ddof 0) over %d seed%s\n", base.n_seeds,
           base.n_seeds > 1 ? "s" : "");
    printf("%-24s", "model");
    for (int k = 0; k < 8; k++) printf(" %15s", HEAD[k]);
    printf("\n");
    for (int r = 0; r < NR; r++) {
        char p[RC_PATH + 16];
        if (snprintf(p, sizeof p, "%s/summary.json", outs[r]) >= (int)sizeof p) continue;
        json_error_t je;
        json_t *s = json_load_file(p, 0, &je);
        printf("%-24s", LADDER[r].label);
        for (int k = 0; k < 8; k++) {
            json_t *mo = json_object_get(json_object_get(s, "test"), METRIC_KEYS[COLS[k]]);
            json_t *mean = json_object_get(mo, "mean"), *sd = json_object_get(mo, "std");
            char cell[64];
            int pct = COLS[k] != MET_MAE && COLS[k] != MET_CORR;
            if (!json_is_number(mean)) snprintf(cell, sizeof cell, "n/a");
            else if (pct) snprintf(cell, sizeof cell, "%.2f+-%.2f", 100 * json_number_value(mean), 100 * json_number_value(sd));
            else snprintf(cell, sizeof cell, "%.3f+-%.3f", json_number_value(mean), json_number_value(sd));
            printf(" %15s", cell);
        }
        printf("\n");
        json_decref(s);
    }
    return 0;
}
