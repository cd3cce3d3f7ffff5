#!/usr/bin/env bash
# fuzz/run.sh MODE SECONDS TARGET...: runs the libFuzzer binaries of build/fuzz (built by `make fuzz`).
#   smoke:   each target SECONDS seconds on its corpus, then `regress`
#   regress: replay every file of fuzz/regressions/<target>/ once (a crash or sanitizer report fails)
#   run:     one campaign of SECONDS seconds per target, printing libFuzzer's progress lines
# Fuzzing reads the committed seeds (fuzz/corpus/<t>, never written) and keeps what it finds in
# build/fuzz/corpus/<t>; a crashing input lands in build/fuzz/artifacts/<t>/ (copy it into
# fuzz/regressions/<t>/ once the bug is fixed). Extra libFuzzer flags: FUZZ_FLAGS="-max_len=4096 ...".
# Exit status 1 when any target crashed, leaked, timed out or broke a sanitizer rule.
set -u
cd "$(dirname "$0")/.."
mode=$1; secs=$2; shift 2
B=build/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
flags=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 -max_len=65536 -print_final_stats=1 ${FUZZ_FLAGS:-})
rc=0

fuzz_one() { # target seconds quiet
  local t=$1 s=$2 log=$B/fuzz_$1.log
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t"
  local dirs=("$B/corpus/$t")
  [ -d "fuzz/corpus/$t" ] && dirs+=("fuzz/corpus/$t")
  [ -f "fuzz/dict/$t.dict" ] && flags_t=(-dict="fuzz/dict/$t.dict") || flags_t=()
  if [ "$3" = quiet ]; then
    "$B/fuzz_$t" "${flags[@]}" "${flags_t[@]}" -max_total_time="$s" -artifact_prefix="$B/artifacts/$t/" "${dirs[@]}" >"$log" 2>&1
  else
    "$B/fuzz_$t" "${flags[@]}" "${flags_t[@]}" -max_total_time="$s" -artifact_prefix="$B/artifacts/$t/" "${dirs[@]}" 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ]
  fi
  local r=$?
  local execs cov ft units
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  units=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  if [ $r -ne 0 ]; then
    echo "FAIL fuzz_$t after ${s}s: $(grep -m1 -E 'ERROR: |runtime error|SUMMARY' "$log")"
    grep -A25 -m1 -E '^==[0-9]+==ERROR|runtime error' "$log" | head -40
    ls -t "$B/artifacts/$t/" | head -3 | sed "s|^|  input: $B/artifacts/$t/|"
    rc=1
  else
    printf 'ok   fuzz_%-14s %4ss  execs %-9s cov %-5s ft %-6s corpus %s\n' "$t" "$s" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}"
  fi
}

regress_one() {
  local t=$1 files
  mapfile -t files < <(find "fuzz/regressions/$t" -type f 2>/dev/null | sort)
  [ ${#files[@]} -gt 0 ] || return 0
  if "$B/fuzz_$t" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 "${files[@]}" >"$B/regress_$t.log" 2>&1; then
    echo "ok   fuzz_$t: ${#files[@]} regression inputs replayed"
  else
    echo "FAIL fuzz_$t: a regression input fails again"; tail -n 40 "$B/regress_$t.log"; rc=1
  fi
}

for t in "$@"; do
  [ -x "$B/fuzz_$t" ] || { echo "FAIL $B/fuzz_$t missing (make fuzz)"; rc=1; continue; }
  case $mode in
    smoke) fuzz_one "$t" "$secs" quiet ;;
    run) fuzz_one "$t" "$secs" loud ;;
    regress) ;;
    *) echo "usage: fuzz/run.sh smoke|regress|run SECONDS TARGET..." >&2; exit 2 ;;
  esac
done
if [ "$mode" != run ]; then for t in "$@"; do [ -x "$B/fuzz_$t" ] && regress_one "$t"; done; fi
exit $rc
