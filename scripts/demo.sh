#!/usr/bin/env bash
# make demo: the main job end to end on this machine's CPUs.
#   1. mird synth: the synthetic benchmark (CMU-MOSI's split sizes 1284 / 229 / 686 and 2568
#      unlabeled clips, 50 acoustic and 20 visual frames per clip, planted latent factors, a
#      vocabulary, a small model configuration, the oracle and chance scores), with the acoustic
#      and visual frames zero-padded BEFORE the clip (--pad front): the official encoders run their
#      LSTM over every frame, padding included (MIRD.md), so with padding after the clip their last
#      state has mostly forgotten the clip and z_A, z_V carry almost nothing;
#   2. mird train: MIRD from random weights with unlabeled clips, CPU-sized (a 2-layer BERT of width
#      64, latents of 32, batch 32, lr 1e-3; the estimator steps reuse the latents of each step:
#      --club-mode once, cheaper than train's default official), model selection on validation;
#   3. the test metrics of the selected epoch beside the benchmark's oracle and chance level, how
#      well the learned latents recover the planted factor groups, and where the plots are.
# Environment: DEMO_DIR (default build/demo), DEMO_EPOCHS (default 20), DEMO_THREADS (default: all
# cores), DEMO_SEEDS (default 0; e.g. 0,1,2 adds mean +- std over seeds), DEMO_COMPARE (1: also
# train the same runs without the MI term, --ablation no-mi, and print both runs' leakage measures
# and post-hoc CLUB estimates side by side, mean over the seeds; doubles step 2's time), DEMO_PRECISION
# (fp32, default, or bf16: the training's matrix products on bfloat16 inputs; with
# MIRD_BF16_MIN_FLOPS=0 also the demo model's small ones, see docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
MIRD=build/mird
DIR=${DEMO_DIR:-build/demo}
EPOCHS=${DEMO_EPOCHS:-20}
THREADS=${DEMO_THREADS:-$(nproc)}
SEEDS=${DEMO_SEEDS:-0}
PRECISION=${DEMO_PRECISION:-fp32}
first=${SEEDS%%,*}
start=$(date +%s)

rm -rf "$DIR/data" "$DIR/run" "$DIR/run-nomi"
mkdir -p "$DIR"
echo "== 1/3 synthetic benchmark -> $DIR/data"
"$MIRD" synth --out "$DIR/data" --n-train 1284 --n-valid 229 --n-test 686 --n-unlabeled 2568 --ta 50 --tv 20 --pad front

train=(--data "$DIR/data/data.pkl" --model "$DIR/data/model.json" --vocab "$DIR/data/vocab.txt" --max-len 32
       --unlabeled "$DIR/data/unlabeled.pkl" --batch-size 32 --split-rate 2 --epochs "$EPOCHS" --lr 1e-3
       --mi-lr 1e-3 --club-mode once --dump-latents --threads "$THREADS" --seeds "$SEEDS" --precision "$PRECISION")
echo
echo "== 2/3 MIRD with unlabeled clips ($EPOCHS epochs, seeds $SEEDS, $THREADS threads, $PRECISION) -> $DIR/run"
"$MIRD" train "${train[@]}" --out "$DIR/run" --reference "$DIR/data/oracle.json"

echo "== 3/3 disentanglement of the test latents (ridge R^2, latent x planted factor group)"
"$MIRD" disentangle --latents "$DIR/run/seed_$first/latents.safetensors" --factors "$DIR/data" --split test \
  --out "$DIR/run/disentangle.json" | grep -E '"(informativeness|shared_leakage|cross_leakage|specific_in_shared|disentanglement|latent_dependence)"' || true
echo "(the 4 x 4 R^2 matrix: $DIR/run/disentangle.json; docs/synthetic.md explains the measures)"

if [ "${DEMO_COMPARE:-0}" = 1 ]; then
  echo
  echo "== compare: the same runs without the MI term (--ablation no-mi) -> $DIR/run-nomi"
  "$MIRD" train "${train[@]}" --out "$DIR/run-nomi" --ablation no-mi --quiet
  num() { grep -E "\"$2\"" "$1" | head -1 | sed -E 's/.*: *([^,]*),?/\1/'; }
  for run in run run-nomi; do
    for s in ${SEEDS//,/ }; do
      "$MIRD" disentangle --latents "$DIR/$run/seed_$s/latents.safetensors" --factors "$DIR/data" --split test \
        --out "$DIR/$run/seed_$s/disentangle.json" >/dev/null
    done
  done
  mean() { # mean of measure $2 over the seeds of run $1
    for s in ${SEEDS//,/ }; do num "$DIR/$1/seed_$s/disentangle.json" "$2"; done | awk '{t += $1} END {printf "%.3f", t / NR}'
  }
  echo "test latents, mean over seeds $SEEDS (ridge R^2; docs/synthetic.md):"
  printf '%-20s %8s %8s\n' measure full no-mi
  for k in informativeness shared_leakage cross_leakage specific_in_shared disentanglement latent_dependence; do
    printf '%-20s %8s %8s\n' "$k" "$(mean run $k)" "$(mean run-nomi $k)"
  done
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "post-hoc CLUB estimates of the six MI terms on the test latents (tools/club_latents.py), mean over seeds:"
    for run in run run-nomi; do
      for s in ${SEEDS//,/ }; do echo "$DIR/$run/seed_$s/latents.safetensors"; done |
        xargs /usr/bin/python3 tools/club_latents.py > "$DIR/$run/club_posthoc.jsonl"
    done
    /usr/bin/python3 - "$DIR/run/club_posthoc.jsonl" "$DIR/run-nomi/club_posthoc.jsonl" <<'PY'
import json, sys
runs = [[json.loads(l) for l in open(p)] for p in sys.argv[1:]]
for key in ("club", "club_standardized"):
    print("%-18s %s" % (key, " ".join("%8s" % n for n in ("la", "lv", "av", "yl", "ya", "yv", "sum"))))
    for name, rows in zip(("full", "no-mi"), runs):
        print("  %-16s %s" % (name, " ".join("%8.3f" % (sum(r[key][n] for r in rows) / len(rows))
                                          for n in ("la", "lv", "av", "yl", "ya", "yv", "sum"))))
PY
  fi
fi

echo
echo "demo finished in $(( $(date +%s) - start )) s"
echo "plots: $DIR/run/seed_*/losses.svg, mi.svg, valid.svg (redraw: $MIRD plot $DIR/run)"
echo "per-epoch log: $DIR/run/seed_*/log.jsonl; results: $DIR/run/seed_*/results.json, $DIR/run/summary.json"
