#!/usr/bin/env bash
# make demo: the main job end to end on this machine's CPUs.
#   1. mird synth: the synthetic benchmark (MOSI-shaped clips with planted latent factors, unlabeled
#      clips, a vocabulary, a small model configuration, the oracle and chance scores);
#   2. a short WSA-BERT warm-up (mird train --ablation wsa-only): the paper starts from pretrained
#      BERT; the benchmark's small BERTs start from random weights, and from there the full MIRD
#      objective sits on a plateau (constant predictions) for many epochs, so the warm-up stands in
#      for pretraining (--init passes its weights on);
#   3. mird train: MIRD with unlabeled data from the warm-up's weights, CPU-sized (the estimator
#      steps reuse the latents of each step: --club-mode once), with model selection on validation;
#   4. the test metrics of the selected epoch beside the benchmark's oracle and chance level, how
#      well the learned latents recover the planted factor groups, and where the plots are.
# Environment: DEMO_DIR (default build/demo), DEMO_EPOCHS (MIRD epochs, default 10), DEMO_WARMUP
# (warm-up epochs, default 8), DEMO_THREADS (default: all cores), DEMO_SEEDS (default 0; e.g. 0,1,2
# adds mean +- std over seeds), DEMO_COMPARE (1: also train the same run without the MI term,
# --ablation no-mi, from the same warm-up, and print both runs' leakage measures and post-hoc CLUB
# estimates side by side; about doubles step 3's time).
set -euo pipefail
cd "$(dirname "$0")/.."
MIRD=build/mird
DIR=${DEMO_DIR:-build/demo}
EPOCHS=${DEMO_EPOCHS:-10}
WARMUP=${DEMO_WARMUP:-8}
THREADS=${DEMO_THREADS:-$(nproc)}
SEEDS=${DEMO_SEEDS:-0}
first=${SEEDS%%,*}
start=$(date +%s)

rm -rf "$DIR/data" "$DIR/warmup" "$DIR/run"
mkdir -p "$DIR"
echo "== 1/4 synthetic benchmark -> $DIR/data"
"$MIRD" synth --out "$DIR/data" --n-train 384 --n-valid 128 --n-test 256 --n-unlabeled 768 --ta 50 --tv 20

common=(--data "$DIR/data/data.pkl" --model "$DIR/data/model.json" --vocab "$DIR/data/vocab.txt" --max-len 32
        --batch-size 32 --threads "$THREADS")
echo
echo "== 2/4 WSA-BERT warm-up, labeled clips only ($WARMUP epochs) -> $DIR/warmup"
"$MIRD" train "${common[@]}" --out "$DIR/warmup" --seeds "$first" --epochs "$WARMUP" --ablation wsa-only \
  --lr 2e-3 --schedule constant --quiet
echo "warm-up done ($(( $(date +%s) - start )) s so far)"

echo
echo "== 3/4 MIRD with unlabeled clips ($EPOCHS epochs, seeds $SEEDS, $THREADS threads) -> $DIR/run"
"$MIRD" train "${common[@]}" --unlabeled "$DIR/data/unlabeled.pkl" --init "$DIR/warmup/seed_$first/best.safetensors" \
  --out "$DIR/run" --seeds "$SEEDS" --epochs "$EPOCHS" --split-rate 2 --lr 1e-3 --mi-lr 1e-3 \
  --club-mode once --dump-latents --reference "$DIR/data/oracle.json"

echo
echo "== 4/4 disentanglement of the test latents (ridge R^2, latent x planted factor group)"
"$MIRD" disentangle --latents "$DIR/run/seed_$first/latents.safetensors" --factors "$DIR/data" --split test \
  --out "$DIR/run/disentangle.json" | grep -E '"(informativeness|shared_leakage|cross_leakage|specific_in_shared|disentanglement)"' || true
echo "(the 4 x 4 R^2 matrix: $DIR/run/disentangle.json; docs/synthetic.md explains the measures)"

if [ "${DEMO_COMPARE:-0}" = 1 ]; then
  echo
  echo "== compare: the same run without the MI term (--ablation no-mi, same warm-up) -> $DIR/run-nomi"
  rm -rf "$DIR/run-nomi"
  "$MIRD" train "${common[@]}" --unlabeled "$DIR/data/unlabeled.pkl" --init "$DIR/warmup/seed_$first/best.safetensors" \
    --out "$DIR/run-nomi" --seeds "$first" --epochs "$EPOCHS" --split-rate 2 --lr 1e-3 --mi-lr 1e-3 \
    --club-mode once --dump-latents --ablation no-mi --quiet
  "$MIRD" disentangle --latents "$DIR/run-nomi/seed_$first/latents.safetensors" --factors "$DIR/data" --split test \
    --out "$DIR/run-nomi/disentangle.json" >/dev/null
  num() { grep -E "\"$2\"" "$1" | head -1 | sed -E 's/.*: *([^,]*),?/\1/'; }
  printf '%-20s %12s %12s\n' measure full no-mi
  for k in informativeness shared_leakage cross_leakage specific_in_shared disentanglement; do
    printf '%-20s %12s %12s\n' "$k" "$(num "$DIR/run/disentangle.json" $k)" "$(num "$DIR/run-nomi/disentangle.json" $k)"
  done
  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    echo "post-hoc CLUB estimates on the test latents (tools/club_latents.py; the no-mi run logs none):"
    /usr/bin/python3 tools/club_latents.py "$DIR/run/seed_$first/latents.safetensors" \
      "$DIR/run-nomi/seed_$first/latents.safetensors" | tee "$DIR/club_compare.jsonl"
  fi
fi

echo
echo "demo finished in $(( $(date +%s) - start )) s"
echo "plots: $DIR/run/seed_*/losses.svg, mi.svg, valid.svg (redraw: $MIRD plot $DIR/run)"
echo "per-epoch log: $DIR/run/seed_*/log.jsonl; results: $DIR/run/seed_*/results.json, $DIR/run/summary.json"
