// cmd_version.c: `mird version`.
#include "cli/commands.h"
#include "core/common.h"
#include "core/matmul.h"

int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("mird %s (blas: %s)\n", MIRD_VERSION, matmul_backend());
    return 0;
}
