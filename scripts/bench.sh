#!/usr/bin/env bash
# bench.sh: mird versus PyTorch on the same MIRD training step, in ONE run on this machine.
#   scripts/bench.sh [extra flags for tools/bench_torch.py run]
# Builds mird and the GEMM probe, then runs tools/bench_torch.py run: at the `small` size (2 BERT
# layers, hidden 128) and at paper width (hidden 768, vocabulary 30522, Ta 400 x 33, Tv 55 x 709,
# Tl 50, ONE BERT layer), batch 8 labeled + 16 unlabeled rows, 2 threads for both programs, it
# times `mird bench` (estimator modes once and official) and the PyTorch reference step
# (tools/mird_ref.py; official and once) as separate processes interleaved over 2 rounds, and
# prints the ratios, the peak memory of each and the GEMM probe (matmul vs dnnl_sgemm).
# Both programs run with the same OpenMP settings: OMP_NUM_THREADS=2 and OMP_WAIT_POLICY=PASSIVE
# (waiting threads sleep instead of spinning, which matters on cores shared with other work).
# Takes about 20 minutes on a quiet 2-core machine (--paper-batch: about 15 more). docs/performance.md has the results.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
make -s all gemm-probe >/dev/null
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "mird $(build/mird version 2>/dev/null | head -1); torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)')"
echo "command: scripts/bench.sh $*   (OMP_WAIT_POLICY=$OMP_WAIT_POLICY, threads $THREADS)"
exec /usr/bin/python3 tools/bench_torch.py run --mird build/mird --threads "$THREADS" "$@"
