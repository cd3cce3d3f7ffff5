#!/usr/bin/env bash
# check_paper.sh: the slower paper-width check of the MIRD model against the PyTorch reference.
# A checkpoint from `mird init` of the paper's configuration (bert-base sizes, V = 30522, d_a = 33,
# d_v = 709, latents 64, CLUB hidden 32; LAYERS BERT layers, default 12) and a random batch of
# B = 4 rows (2 labeled) with Tl = 50, Ta = 400, Tv = 55 and padding; then `mird debug-step` and
# `tools/mird_ref.py debug-step` (PyTorch, CPU) for 2 steps with the default rates, and the tensor
# by tensor comparison (outputs/losses/params 1e-4, gradients 1e-3 of each tensor's scale).
# Needs about 10 GB of memory and some minutes on 2 cores. Usage:
#   tools/check_paper.sh              # 12 layers, files in build/check_paper
#   LAYERS=2 FUSION=WA tools/check_paper.sh
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WORKDIR:-build/check_paper}
LAYERS=${LAYERS:-12}
FUSION=${FUSION:-WSA}
TEXT=${TEXT:-bert}
mkdir -p "$W"
[ -x build/mird ] || make -j2 build/mird >/dev/null
printf '{"bert": {"num_hidden_layers": %d}, "fusion": "%s", "text_encoder": "%s"}\n' "$LAYERS" "$FUSION" "$TEXT" >"$W/model.json"
build/mird init --config "$W/model.json" --seed 1 --out "$W/ckpt.safetensors"
tools/mird_ref.py batch --checkpoint "$W/ckpt.safetensors" --out "$W/batch.safetensors" --seed 1
echo "C:       $( { /usr/bin/time -f '%e s, %M KB peak' build/mird debug-step --checkpoint "$W/ckpt.safetensors" \
    --batch "$W/batch.safetensors" --out "$W/got.safetensors" --steps 2; } 2>&1 )"
echo "PyTorch: $( { /usr/bin/time -f '%e s, %M KB peak' tools/mird_ref.py debug-step --checkpoint "$W/ckpt.safetensors" \
    --batch "$W/batch.safetensors" --out "$W/expected.safetensors" --steps 2; } 2>&1 )"
tools/mird_ref.py compare "$W/got.safetensors" "$W/expected.safetensors" | tail -20
