// main.c: the `mird` program: dispatches to one subcommand per file in src/cli/cmd_*.c.
// Exit status: 0 success, 1 failure (bad input, I/O), 2 usage error.
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"

// Commands that run under mpirun with several ranks (docs/distributed.md); the others refuse.
static const char *const DISTRIBUTED[] = {"train", "ablate", "debug-step", "bench", NULL};

static int run_command(const Command *c, int argc, char **argv) {
    char err[MIRD_ERRLEN];
    if (comm_init(&argc, &argv, err)) {
        fprintf(stderr, "mird: %s\n", err);
        return 1;
    }
    const Comm *w = comm_world();
    // results and tables come from rank 0; the other ranks' stdout would repeat them
    if (w->rank > 0 && !freopen("/dev/null", "w", stdout)) return 1;
    int ok = w->size == 1;
    for (int i = 0; DISTRIBUTED[i]; i++) ok |= !strcmp(c->name, DISTRIBUTED[i]);
    int rc;
    if (!ok) {
        if (w->rank == 0)
            fprintf(stderr, "mird: %s does not run on several MPI ranks (only train, ablate, debug-step and bench do); "
                            "run it without mpirun\n", c->name);
        rc = 2;
    } else {
        rc = c->fn(argc - 1, argv + 1);
    }
    comm_finalize();
    return rc;
}

static const Command COMMANDS[] = {
    {"version", cmd_version, "print the version and the BLAS backend"},
    {"train", cmd_train, "train MIRD: seeds, selection, logs, plots, checkpoints, --resume"},
    {"eval", cmd_eval, "every metric of a checkpoint on a dataset's splits (JSON)"},
    {"predict", cmd_predict, "sentiment scores of a checkpoint as CSV (a dataset, or one clip)"},
    {"ablate", cmd_ablate, "train the paper's ablation ladder over seeds and print its table"},
    {"plot", cmd_plot, "redraw the SVG charts of a training run"},
    {"init", cmd_init, "write a freshly initialised MIRD checkpoint"},
    {"import-torch", cmd_import_torch, "a MIRD checkpoint from the authors' torch.save file (model or state_dict)"},
    {"debug-step", cmd_debug_step, "golden-test training steps with dropout off (outputs, grads, params)"},
    {"bench", cmd_bench, "time training steps (per-stage breakdown, peak memory; JSON last line)"},
    {"tokenize", cmd_tokenize, "BERT (uncased) token ids of stdin lines"},
    {"disentangle", cmd_disentangle, "R^2 of learned latents against the factors of a synth data set"},
    {"synth", cmd_synth, "write the built-in synthetic benchmark (data, vocabulary, model config, oracle)"},
    {"inspect", cmd_inspect, "summarise a dataset file or a checkpoint as JSON"},
    {"convert", cmd_convert, "dataset pickle -> memory-mappable .mird file"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: mird COMMAND [ARGS]   (mird COMMAND --help for a command's flags)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %-12s %s\n", COMMANDS[i].name, COMMANDS[i].help);
}

MatmulPrecision cli_set_precision(MatmulPrecision want) {
    MatmulPrecision got = matmul_set_precision(want);
    if (got != want)
        fprintf(stderr, "mird: --precision bf16: this CPU (or a BLAS=openblas build) has no bfloat16 matrix products; "
                        "running fp32\n");
    return got;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) return run_command(&COMMANDS[i], argc, argv);
    fprintf(stderr, "mird: unknown command '%s' (see mird --help)\n", argv[1]);
    return 2;
}
