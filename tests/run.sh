#!/usr/bin/env bash
# Runs every test binary of each build folder given (optimised, then sanitizer), from the repo root,
# and ends with the line CI reads: "N passed, N failed". A binary that crashes counts as failed.
set -u
cd "$(dirname "$0")/.."
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# Tests that start mird under mpirun (test_distributed; docs/distributed.md): CI and these machines
# run as root, which Open MPI refuses unless told; no single-copy shared-memory transfers (ptrace
# rules in containers). The sanitizer build's leak suppressions for Open MPI are set per mpirun
# command by the test itself (tests/lsan_mpi.supp).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
passed=0; failed=0; failures=()
for dir in "$@"; do
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    log=$(mktemp)
    start=$(date +%s)
    MIRD_BIN="$dir/mird" "$t" >"$log" 2>&1; rc=$?
    secs=$(( $(date +%s) - start ))
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
      failures+=("$t"); echo "FAIL $t (exit $rc, ${secs}s)"; tail -n 40 "$log"
    else
      echo "ok   $t ($p tests, ${secs}s)"
    fi
    rm -f "$log"
  done
done
# Script tests (tests/test_*.sh): each counts as one test, passed when it exits 0. They run once,
# with MIRD_BIN / MIRD_ASAN_BIN pointing at the optimised and sanitizer programs.
for s in tests/test_*.sh; do
  [ -f "$s" ] || continue
  log=$(mktemp); start=$(date +%s)
  MIRD_BIN="${1:-build}/mird" MIRD_ASAN_BIN="${2:-build/asan}/mird" bash "$s" >"$log" 2>&1; rc=$?
  secs=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then passed=$((passed + 1)); echo "ok   $s (${secs}s)"
  else failed=$((failed + 1)); failures+=("$s"); echo "FAIL $s (exit $rc, ${secs}s)"; tail -n 40 "$log"; fi
  rm -f "$log"
done
[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
