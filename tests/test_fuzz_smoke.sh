#!/usr/bin/env bash
# test_fuzz_smoke.sh: builds the libFuzzer targets (make fuzz: clang, -fsanitize=fuzzer,address,
# undefined), fuzzes each one for FUZZ_SMOKE_SECONDS (default 8) on its committed seed corpus, and
# replays every input kept in fuzz/regressions/. Fails on any crash, sanitizer report, leak, timeout
# or broken invariant. Long campaigns: fuzz/README.md. Skips (exit 0, with a message) when clang's
# libFuzzer runtime is not installed (scripts/deps.sh --test installs it).
set -u
cd "$(dirname "$0")/.."
secs=${FUZZ_SMOKE_SECONDS:-8}
if ! command -v clang >/dev/null || ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
    clang -x c -fsanitize=fuzzer,address,undefined - -o /dev/null 2>/dev/null; then
  echo "SKIP: clang with libFuzzer (libclang-rt-14-dev) is not available"
  exit 0
fi
unset MAKEFLAGS MFLAGS MAKELEVEL
log=build/fuzz_smoke_build.log
mkdir -p build
if ! make --no-print-directory -j2 fuzz >"$log" 2>&1; then
  tail -n 30 "$log"; echo "make fuzz failed"; exit 1
fi
targets=$(ls fuzz/fuzz_*.c | sed 's|fuzz/fuzz_\(.*\)\.c|\1|')
fuzz/run.sh smoke "$secs" $targets
