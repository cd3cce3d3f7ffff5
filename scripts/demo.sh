#!/usr/bin/env bash
# make demo: the main job end to end on this machine's CPUs.
#   1. mird synth: the synthetic benchmark (MOSI-shaped clips with planted factors, unlabeled clips,
#      a vocabulary, a small model configuration, the oracle and chance scores);
#   2. mird train: MIRD with unlabeled data, CPU-sized (small BERTs from the benchmark's model.json,
#      random initialisation, so a larger learning rate than the paper's 1e-5 for pretrained BERT);
#   3. the test metrics of the selected epoch beside the benchmark's oracle and chance level, and the
#      folder with the plots.
# Environment: DEMO_DIR (default build/demo), DEMO_EPOCHS, DEMO_THREADS, DEMO_SEEDS (default 0).
set -euo pipefail
cd "$(dirname "$0")/.."
MIRD=build/mird
DIR=${DEMO_DIR:-build/demo}
EPOCHS=${DEMO_EPOCHS:-8}
THREADS=${DEMO_THREADS:-$(nproc)}
SEEDS=${DEMO_SEEDS:-0}
start=$(date +%s)

rm -rf "$DIR/data" "$DIR/run"
mkdir -p "$DIR"
echo "== 1/3 synthetic benchmark -> $DIR/data"
"$MIRD" synth --out "$DIR/data" --n-train 600 --n-valid 150 --n-test 300 --n-unlabeled 1200

echo "== 2/3 training MIRD ($EPOCHS epochs, seeds $SEEDS, $THREADS threads) -> $DIR/run"
"$MIRD" train --data "$DIR/data/data.pkl" --unlabeled "$DIR/data/unlabeled.pkl" \
  --model "$DIR/data/model.json" --vocab "$DIR/data/vocab.txt" --out "$DIR/run" \
  --seeds "$SEEDS" --epochs "$EPOCHS" --batch-size 32 --split-rate 2 --lr 5e-4 --mi-lr 1e-3 \
  --club-mode once --threads "$THREADS" --reference "$DIR/data/oracle.json"

echo "== 3/3 done in $(( $(date +%s) - start )) s"
echo "plots: $DIR/run/seed_*/losses.svg, mi.svg, valid.svg   (redraw: $MIRD plot $DIR/run)"
echo "per-epoch log: $DIR/run/seed_*/log.jsonl; results: $DIR/run/seed_*/results.json, $DIR/run/summary.json"
