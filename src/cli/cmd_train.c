// cmd_train.c: `mird train`: the training protocol over one or several seeds (train/trainer.h for
// the run folder's files; `mird train --help` for the flags).
#include <stdio.h>

#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"
#include "train/trainer.h"

int cmd_train(int argc, char **argv) {
    RunConfig c;
    runconfig_defaults(&c);
    char err[MIRD_ERRLEN] = "";
    int rc = runconfig_parse_args(&c, argc, argv, err);
    if (rc == 1) return 0;
    int root0 = comm_world()->rank == 0; // usage errors are the same on every rank: rank 0 prints
    if (rc == -2) {
        if (root0) fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    if (rc) {
        if (root0) fprintf(stderr, "mird: train: %s\n", err);
        return 2;
    }
    rc = train_run(&c, err);
    if (rc == TRAIN_STOPPED) {
        if (root0) fprintf(stderr, "mird: train: stopped after %ld steps (--stop-after-steps)\n", c.stop_after_steps);
        return TRAIN_STOPPED;
    }
    if (rc && root0) fprintf(stderr, "mird: %s%s\n", rc == TRAIN_USAGE ? "train: " : "", err);
    return rc == TRAIN_USAGE ? 2 : rc ? 1 : 0;
}
