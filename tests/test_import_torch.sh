#!/usr/bin/env bash
# test_import_torch.sh: the MIRD authors' own torch.save files through the real `mird` program
# (fixtures: tools/make_official_models.py -> tests/fixtures/torch_module). For the whole modules
# (fusion WSA / WA x BERT / LSTM text encoder, two of them saved from "cuda:0") and the official WA
# state_dict:
#  - `mird predict FILE.pt` gives PyTorch's scores (y_hat.txt) within 1e-5 of their scale;
#  - `mird import-torch FILE.pt --out CK` says that the CLUB estimators were initialised (the
#    authors keep them outside the model) and which tensors were ignored; CK predicts and evaluates
#    exactly like FILE.pt, and its stored configuration has the file's fusion and text encoder;
#  - `mird inspect --json FILE.pt` shows the file and the configuration inferred from it;
#  - `mird train --init FILE.pt` trains from it, noting that the estimators start from the seed;
#  - --config overrides an inferred key; usage errors exit 2.
# Runs with $MIRD_BIN and, when present, $MIRD_ASAN_BIN (address + undefined sanitizers).
set -u
cd "$(dirname "$0")/.."
T=tests/fixtures/torch_module
bins=()
for b in "${MIRD_BIN:-build/mird}" "${MIRD_ASAN_BIN:-build/asan/mird}"; do [ -x "$b" ] && bins+=("$b"); done
[ ${#bins[@]} -gt 0 ] || { echo "no mird binary (build/mird): run make first"; exit 1; }
mkdir -p build
W=$(mktemp -d build/import_torch.XXXXXX)
trap 'rm -rf "$W"' EXIT
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 OMP_NUM_THREADS=2
fail=0
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# max |a - b| / max(max |b|, 1e-3) of the score column of a predict CSV against a list of values
score_err() {
  awk -F, 'NR == FNR { want[FNR] = $1; n = FNR; next }
           FNR > 1 { got[FNR - 1] = $2 }
           END { s = 1e-3; e = 0
                 for (i = 1; i <= n; i++) { a = want[i] < 0 ? -want[i] : want[i]; if (a > s) s = a }
                 for (i = 1; i <= n; i++) { if (!(i in got)) { print "missing"; exit }
                   d = got[i] - want[i]; if (d < 0) d = -d; if (d > e) e = d }
                 printf "%.3g\n", e / s }' "$1" "$2"
}

for b in "${bins[@]}"; do
  for c in wsa_bert wa_bert wsa_lstm wa_lstm wa_bert_sd; do
    f=$(ls "$T/$c"/*.pt)
    tag="$b $c"
    if ! "$b" predict "$f" "$T/$c/data.pkl" --out "$W/p.csv" 2>"$W/err"; then bad "$tag: predict: $(cat "$W/err")"; continue; fi
    e=$(score_err "$T/$c/y_hat.txt" "$W/p.csv")
    awk -v e="$e" 'BEGIN { exit !(e != "missing" && e + 0 <= 1e-5) }' || bad "$tag: predict differs from PyTorch by $e"
    if ! "$b" import-torch "$f" --out "$W/ck.safetensors" 2>"$W/err"; then bad "$tag: import-torch: $(cat "$W/err")"; continue; fi
    grep -q "CLUB estimators are not in .*initialised as \`mird init --seed 0\` does" "$W/err" ||
      bad "$tag: import-torch does not say that the estimators were initialised: $(cat "$W/err")"
    grep -q "not used by the model (e.g. .*position_ids)" "$W/err" || bad "$tag: ignored tensors not reported: $(cat "$W/err")"
    "$b" predict "$W/ck.safetensors" "$T/$c/data.pkl" --out "$W/q.csv" 2>/dev/null || bad "$tag: predict of the import"
    cmp -s "$W/p.csv" "$W/q.csv" || bad "$tag: the imported checkpoint predicts differently from the .pt"
    "$b" eval "$f" "$T/$c/data.pkl" --split test 2>/dev/null | grep -v '"checkpoint"' >"$W/e1.json"
    "$b" eval "$W/ck.safetensors" "$T/$c/data.pkl" --split test 2>/dev/null | grep -v '"checkpoint"' >"$W/e2.json"
    { [ -s "$W/e1.json" ] && cmp -s "$W/e1.json" "$W/e2.json"; } || bad "$tag: eval of the .pt and of its import differ"
    fusion=WSA; case $c in wa_*) fusion=WA ;; esac
    text=bert; case $c in *lstm*) text=lstm ;; esac
    "$b" inspect --json "$W/ck.safetensors" >"$W/i.json" 2>/dev/null
    grep -q "\"fusion\": *\"$fusion\"" "$W/i.json" && grep -q "\"text_encoder\": *\"$text\"" "$W/i.json" ||
      bad "$tag: imported configuration is not fusion $fusion / text encoder $text"
    grep -q "mult_encoder.model.$fusion.W_hv.weight" "$W/i.json" || bad "$tag: fusion tensors not named mult_encoder.model.$fusion.*"
    "$b" inspect --json "$f" >"$W/t.json" 2>/dev/null
    grep -q '"format": *"torch"' "$W/t.json" && grep -q "\"fusion\": *\"$fusion\"" "$W/t.json" ||
      bad "$tag: mird inspect of the .pt does not show format torch / fusion $fusion"
  done
  # --config replaces an inferred key (a state_dict records no beta_shift)
  echo '{"beta_shift": 0.5}' >"$W/over.json"
  "$b" import-torch "$T/wa_bert_sd/state_dict.pt" --config "$W/over.json" --out "$W/ck2.safetensors" 2>/dev/null ||
    bad "$b: import-torch --config"
  "$b" inspect --json "$W/ck2.safetensors" 2>/dev/null | grep -q '"beta_shift": *0.5' || bad "$b: --config beta_shift not applied"
  # training starts from the authors' model; the estimators from the seed
  rm -rf "$W/run"
  "$b" train --data "$T/wa_lstm/data.pkl" --init "$T/wa_lstm/model.pt" --epochs 1 --batch-size 2 --out "$W/run" --quiet \
    2>"$W/err" && [ -f "$W/run/seed_0/results.json" ] || bad "$b: train --init FILE.pt: $(tail -n 1 "$W/err")"
  grep -q "holds 0 of the 48 CLUB estimator tensors" "$W/err" || bad "$b: train --init FILE.pt: no note on the estimators"
  # usage
  "$b" import-torch "$T/wa_bert/model.pt" >/dev/null 2>&1; [ $? -eq 2 ] || bad "$b: import-torch without --out is not a usage error"
  "$b" import-torch --bogus x >/dev/null 2>&1; [ $? -eq 2 ] || bad "$b: import-torch --bogus is not a usage error"
  "$b" import-torch --help | grep -q "torch.save" || bad "$b: import-torch --help"
done
[ -e mird_pwned ] && bad "a pickle payload ran"
echo "import-torch: $fail failure(s)"
[ $fail -eq 0 ]
