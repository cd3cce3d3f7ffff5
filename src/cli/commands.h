// commands.h: every subcommand is `int cmd_NAME(int argc, char **argv)` (argv[0] is the command
// name) returning the process exit status: 0 ok, 1 failure, 2 usage error.
#pragma once
#include <stdio.h>

typedef int (*CommandFn)(int argc, char **argv);
typedef struct {
    const char *name;
    CommandFn fn;
    const char *help;
} Command;

int cmd_version(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_ablate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_disentangle(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_import_torch(int argc, char **argv);
int cmd_debug_step(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#include "core/matmul.h"
// Set the matrix-product precision of the process (--precision); asking for bf16 where the CPU or
// build has no bfloat16 products prints one line saying so and runs fp32. Returns the one in effect.
MatmulPrecision cli_set_precision(MatmulPrecision want);
