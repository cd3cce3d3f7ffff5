#!/usr/bin/env bash
# test_make_jobs.sh: `make -jN` from a bare machine. Every compile must wait for the step that
# installs the build packages (scripts/deps.sh; a compile that starts first dies on a missing header,
# e.g. jansson.h), and the two package steps must not run at once (dpkg's lock). Runs the real
# Makefile and fuzz/fuzz.mk in a scratch tree of stub sources with a fake deps.sh that sleeps before
# it "installs" (creates a marker), and compilers that fail when the marker is not there yet:
# plain `make -j4` (must build the program), `make -j4 all`, `make -j4 test`, `make -j4 fuzz` and `make -j4 demo`, each from a clean tree.
set -u
cd "$(dirname "$0")/.."
mkdir -p build
S=$(mktemp -d build/make_jobs.XXXXXX)
S=$(cd "$S" && pwd)
trap 'rm -rf "$S"' EXIT
mkdir -p "$S/scripts" "$S/fuzz" "$S/tests" "$S/tools" "$S/src/core" "$S/src/io" "$S/src/cli" "$S/src/api" \
  "$S/include" "$S/examples"
cp Makefile "$S/"
cp fuzz/fuzz.mk "$S/fuzz/"
for f in src/core/a.c src/core/b.c src/io/c.c src/io/d.c src/cli/main.c src/cli/cmd.c tests/test_x.c tests/test_y.c \
  tests/testutil.c fuzz/fuzz_p.c fuzz/fuzz_q.c examples/predict.c; do echo "int x_$RANDOM;" >"$S/$f"; done
: >"$S/src/api/libmird.map"; : >"$S/include/mird.h" # the shared library's version script and header
cat >"$S/scripts/deps.sh" <<'EOF'
#!/usr/bin/env bash
# fake: "installs" after a second; notes an overlap with another run
cd "$(dirname "$0")/.."
[ -e deps.running ] && echo "two package steps at once" >>problems.log
touch deps.running
sleep 1
touch "deps.done${1:-}"
rm -f deps.running
EOF
cat >"$S/cc.sh" <<'EOF'
#!/usr/bin/env bash
# fake compiler: the headers exist only once deps.sh has run (--test: clang for the fuzz build)
d=$(dirname "$0")
[ -e "$d/deps.done${NEED:-}" ] || { echo "compiled before the package step: $*" >>"$d/problems.log"; exit 1; }
out=; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
[ -n "$out" ] && mkdir -p "$(dirname "$out")" && : >"$out"
exit 0
EOF
printf '#!/usr/bin/env bash\necho "0 passed, 0 failed"\n' >"$S/tests/run.sh"
printf '#!/usr/bin/env bash\ntouch demo.ran\n' >"$S/scripts/demo.sh"
chmod +x "$S/scripts/deps.sh" "$S/cc.sh" "$S/tests/run.sh" "$S/scripts/demo.sh"
cat >"$S/fcc.sh" <<EOF
#!/usr/bin/env bash
NEED=--test exec "$S/cc.sh" "\$@"
EOF
chmod +x "$S/fcc.sh"

fail=0
unset MAKEFLAGS MFLAGS MAKELEVEL
for goal in "" all test fuzz demo; do
  (cd "$S" && rm -rf build deps.done* deps.running problems.log demo.ran)
  ok=1
  if ! (cd "$S" && make -j4 --no-print-directory CC="$S/cc.sh" FUZZ_CC="$S/fcc.sh" $goal) >"$S/make.log" 2>&1; then
    echo "FAIL: make -j4 $goal"; tail -n 20 "$S/make.log"; ok=0
  fi
  if [ -s "$S/problems.log" ]; then echo "FAIL: make -j4 $goal:"; sed 's/^/  /' "$S/problems.log"; ok=0; fi
  [ "$goal" != demo ] || [ -e "$S/demo.ran" ] || { echo "FAIL: make -j4 demo did not run the demo"; ok=0; }
  # plain `make` (the README's build step) is `make all`: the program and the shared library
  [ -n "$goal" ] || { [ -e "$S/build/mird" ] && [ -e "$S/build/libmird.so" ]; } ||
    { echo "FAIL: plain make -j4 did not build build/mird and build/libmird.so"; ok=0; }
  if [ $ok -eq 1 ]; then echo "ok   make -j4 $goal"; else fail=1; fi
done
exit $fail
