// cmd_version.c: `mird version`.
#include "cli/commands.h"
#include "core/comm.h"
#include "core/common.h"
#include "core/matmul.h"

int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("mird %s (blas: %s, mpi: %s)\n", MIRD_VERSION, matmul_backend(), comm_has_mpi() ? "yes" : "no (make MPI=0)");
    return 0;
}
