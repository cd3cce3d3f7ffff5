#!/usr/bin/env bash
# bench_mpi.sh: data-parallel scaling on this machine (docs/distributed.md): the same global batch
# (48 labeled + 96 unlabeled rows) timed as 1 process x 2 threads and as 2 MPI ranks x 1 thread,
# interleaved over rounds, with the gradient allreduce's share of the step from `mird bench`'s stage
# table. Targets at the paper size: throughput ratio >= 0.9, allreduce <= 10% of the step.
#   scripts/bench_mpi.sh [--sizes tiny|small|paper,...] [--rounds 2] [--steps 3] [--workdir DIR]
# Default --sizes tiny (a check of the script, seconds). The paper size needs a quiet machine, about
# 14 GB for the 1-process run and 2 x 9 GB for the 2-rank run (one after the other), and 20 to 40
# minutes (docs/distributed.md):
#   scripts/bench_mpi.sh --sizes paper --rounds 1 --steps 1 --workdir /tmp/mird-bench-mpi
set -euo pipefail
cd "$(dirname "$0")/.."
make -s all >/dev/null
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "mird $(build/mird version 2>/dev/null | head -1); $(mpirun --version | head -1)" >&2
exec /usr/bin/python3 tools/bench_mpi.py --mird build/mird "$@"
