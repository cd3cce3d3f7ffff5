#!/usr/bin/env bash
# api_bench.sh: what position-independent code costs the C API. Builds tools/api_bench.c against
# build/libmird.a (the program's objects) and against build/libmird.so (build/pic, -fPIC
# -fno-semantic-interposition), then times mird_predict on the synthetic benchmark's model at its
# default sizes (hidden 64, 2 layers, Ta 100, Tv 40; random weights), alternating the two builds.
#   tools/api_bench.sh [ROUNDS=5] [CLIPS=128] [REPS=5]    (after make; run on a quiet machine)
# Prints each round's median seconds per call of both and the ratio so / a (1.00 = no cost).
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5} n=${2:-128} reps=${3:-5}
W=$(mktemp -d build/api_bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
CFLAGS="-std=c11 -O2 -march=native -Iinclude"
gcc $CFLAGS tools/api_bench.c -o "$W/static" build/libmird.a -fopenmp -ldnnl -lutf8proc -ljansson -lnettle -lm -lpthread
gcc $CFLAGS tools/api_bench.c -o "$W/shared" -Lbuild -lmird -Wl,-rpath,"$PWD/build"
build/mird synth --out "$W/syn" --n-train 1 --n-valid 1 --n-test 1 --n-unlabeled 0 --quiet
build/mird init --config "$W/syn/model.json" --out "$W/init.safetensors" >/dev/null
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
for r in $(seq "$rounds"); do
  a=$("$W/static" "$W/init.safetensors" "$W/syn/vocab.txt" "$n" "$reps")
  s=$("$W/shared" "$W/init.safetensors" "$W/syn/vocab.txt" "$n" "$reps")
  [ "${a#* }" = "${s#* }" ] || { echo "the two builds disagree: $a / $s"; exit 1; }
  awk -v a="${a% *}" -v s="${s% *}" -v r="$r" 'BEGIN {printf "round %d: libmird.a %.4f s  libmird.so %.4f s  so/a %.3f\n", r, a, s, s / a}'
done
