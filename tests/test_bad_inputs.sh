#!/usr/bin/env bash
# test_bad_inputs.sh: hostile and broken inputs through the real `mird` program (docs/bad_inputs.md).
# Every row runs with $MIRD_BIN (optimised) and $MIRD_ASAN_BIN (address + undefined sanitizers) and
# asserts: the exit status (1 for bad input, 2 for usage, 0 where the input is valid after all),
# for failures exactly one line on stderr starting "mird: ", no sanitizer report, no output file
# (nor its temporary "OUT.tmp.PID") left behind, and no file "mird_pwned" (the payload of the
# malicious pickles) ever created. Rows whose command is not in `mird --help` yet are skipped.
# Inputs: tests/fixtures/bad/ (written by fuzz/make_bad_inputs.py; tiny) plus a few made here.
#   tests/test_bad_inputs.sh              run the checks (exit 0 when all pass)
#   tests/test_bad_inputs.sh --markdown   also print the table rows of docs/bad_inputs.md
# The sanitizer run sets allocator_may_return_null=1: a huge declared size must reach the
# program's own "out of memory" error rather than ASan's allocation-size report.
set -u
cd "$(dirname "$0")/.."
md=0
[ "${1:-}" = --markdown ] && md=1
B=tests/fixtures/bad
bins=()
for b in "${MIRD_BIN:-build/mird}" "${MIRD_ASAN_BIN:-build/asan/mird}"; do [ -x "$b" ] && bins+=("$b"); done
[ ${#bins[@]} -gt 0 ] || { echo "no mird binary (build/mird): run make first"; exit 1; }
mkdir -p build
W=$(mktemp -d build/bad_inputs.XXXXXX)
trap 'rm -rf "$W"' EXIT
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OMP_NUM_THREADS=2
rm -f mird_pwned
commands=$("${bins[0]}" --help | awk '/^  [a-z]/ {print $1}')
pass=0; fail=0; skip=0

# Inputs made at test time (not worth a file each).
: >"$W/empty.bin"
printf 'hello\n' >"$W/one_line.txt"
printf '1 2 3 4 5\nnan 1 1 1 1\n' >"$W/frames_nan.txt"
printf '1 2 3 4 1e999\n' >"$W/frames_overflow.txt"
printf '1 2 3 4 5\n1 2\n' >"$W/frames_ragged.txt"
printf '\001\002garbage\n' >"$W/frames_binary.txt"
printf '1 2 3\n' >"$W/frames_3cols.txt"
: >"$W/vocab_empty.txt"
mkdir -p "$W/a_directory"

# row "WHAT" STATUS OUT STDIN -- mird ARGS...   (OUT/STDIN: '-' for none)
row() {
  local what=$1 want=$2 out=$3 in=$4; shift 5
  local cmd=$1
  if ! grep -qx -- "$cmd" <<<"$commands" && [ "$want" != 2 -o "$cmd" != nosuchcommand ]; then
    skip=$((skip + 1)); echo "SKIP ($cmd not in mird --help): $what"; return
  fi
  local b msg="" ok=1 why=""
  for b in "${bins[@]}"; do
    rm -rf "$W/stdout" "$W/stderr"
    [ "$out" != - ] && rm -rf "$out"
    local rc
    if [ "$in" != - ]; then timeout 60 "$b" "$@" <"$in" >"$W/stdout" 2>"$W/stderr"; rc=$?
    else timeout 60 "$b" "$@" </dev/null >"$W/stdout" 2>"$W/stderr"; rc=$?; fi
    # ASan's allocator_may_return_null=1 notes each refused huge allocation: not an error report
    sed -i '/^==[0-9]*==WARNING: AddressSanitizer failed to allocate 0x[0-9a-f]* bytes$/d' "$W/stderr"
    local lines
    lines=$(wc -l <"$W/stderr")
    if [ "$rc" -ne "$want" ]; then ok=0; why+=" [$b: exit $rc, expected $want]"; fi
    if grep -qE 'Sanitizer|runtime error:|^SUMMARY:|^==[0-9]+==' "$W/stderr"; then ok=0; why+=" [$b: sanitizer report]"; fi
    if [ "$want" -ne 0 ]; then
      if [ "$lines" -ne 1 ] || ! head -c 6 "$W/stderr" | grep -q '^mird: '; then ok=0; why+=" [$b: stderr is not one 'mird: ' line]"; fi
      if [ "$out" != - ] && { [ -e "$out" ] || compgen -G "$out.tmp.*" >/dev/null; }; then ok=0; why+=" [$b: output $out left behind]"; fi
    fi
    if [ -e mird_pwned ]; then ok=0; why+=" [$b: THE PAYLOAD RAN: mird_pwned exists]"; rm -f mird_pwned; fi
    [ -z "$msg" ] && msg=$(head -n 1 "$W/stderr")
  done
  if [ $ok -eq 1 ]; then pass=$((pass + 1)); echo "ok   [$want] $what"
  else fail=$((fail + 1)); echo "FAIL [$want] $what:$why"; sed 's/^/     /' "$W/stderr" | head -n 15; fi
  if [ $md -eq 1 ]; then
    local shown="mird" a
    for a in "$@"; do [[ $a == *" "* ]] && shown+=" \"$a\"" || shown+=" $a"; done
    shown=${shown//$W/\$TMP}
    [ "$in" != - ] && shown+=" < ${in//$W/\$TMP}"
    msg=${msg//$W/\$TMP}
    msg=$(printf '%s' "$msg" | tr -d '\000-\010\016-\037')
    [ "$want" -eq 0 ] && msg="(accepted: $(head -c 60 "$W/stdout" | head -n 1 | tr -d '\n')...)"
    printf '| %s | `%s` | %s | %s |\n' "$what" "${shown//|/\\|}" "$want" "${msg//|/\\|}" >>"$W/table.md"
  fi
}

O=$W/out.safetensors
M=$W/out.mird
CK=tests/fixtures/mird_base/ckpt.safetensors
VOC=tests/fixtures/tok_tiny_vocab.txt
# ---- usage errors (exit 2)
row "unknown command" 2 - - -- nosuchcommand
row "unknown flag" 2 - - -- inspect --bogus "$B/ds_nan_audio.pkl"
row "missing required flag" 2 "$O" - -- init --out "$O"
row "flag value not a number" 2 - - -- tokenize --vocab "$VOC" --max-len 12abc
row "missing operands" 2 - - -- convert "$B/ds_nan_audio.pkl"
# ---- files that are not there or not files
row "missing file" 1 - - -- inspect --json "$W/no_such_file"
row "a directory instead of a file" 1 - - -- inspect --json "$W/a_directory"
row "empty file" 1 - - -- inspect --json "$W/empty.bin"
row "text file given as checkpoint" 1 - - -- inspect --json "$W/one_line.txt"
# ---- safetensors (checkpoints, batches, .mird files)
row "truncated data area" 1 - - -- inspect --json "$B/st_truncated.safetensors"
row "truncated header" 1 - - -- inspect --json "$B/st_header_truncated.safetensors"
row "header length 2^63 (huge declared size)" 1 - - -- inspect --json "$B/st_huge_header_len.safetensors"
row "header is not JSON" 1 - - -- inspect --json "$B/st_header_not_json.safetensors"
row "data_offsets past the end of the file (1 GB declared)" 1 - - -- inspect --json "$B/st_offsets_outside.safetensors"
row "unknown dtype" 1 - - -- inspect --json "$B/st_unknown_dtype.safetensors"
row "shape disagrees with the byte count" 1 - - -- inspect --json "$B/st_shape_mismatch.safetensors"
row "shape [2^40, 2^40]: element count overflows" 1 - - -- inspect --json "$B/st_huge_shape.safetensors"
row "two tensors share bytes" 1 - - -- inspect --json "$B/st_overlap.safetensors"
row "tensor name with a newline (forged error line)" 1 - - -- inspect --json "$B/st_newline_in_name.safetensors"
row "mird.config metadata is not JSON" 1 - - -- inspect --json "$B/st_config_not_json.safetensors"
# ---- pickles: nothing executes
row "GLOBAL os.system + REDUCE (classic pickle exploit)" 1 - - -- inspect --json "$B/pk_os_system.pkl"
row "os.system nested inside a dataset dict" 1 - - -- inspect --json "$B/pk_system_in_dataset.pkl"
row "builtins.eval global" 1 - - -- inspect --json "$B/pk_eval.pkl"
row "unknown opcode 0xff" 1 - - -- inspect --json "$B/pk_unknown_opcode.pkl"
row "truncated pickle" 1 - - -- inspect --json "$B/pk_truncated.pkl"
row "pickle with only a PROTO opcode" 1 - - -- inspect --json "$B/pk_empty.pkl"
row "BINBYTES8 declaring 2^62 bytes" 1 - - -- inspect --json "$B/pk_huge_bytes.pkl"
row "memo GET of index 2^32-1" 1 - - -- inspect --json "$B/pk_huge_memo_get.pkl"
row "100000 nested MARKs" 1 - - -- inspect --json "$B/pk_deep_marks.pkl"
# ---- dataset pickles with bad contents
row "NaN in audio features" 1 - - -- inspect --json "$B/ds_nan_audio.pkl"
row "+inf in video features" 1 - - -- inspect --json "$B/ds_inf_video.pkl"
row "float64 feature 1e300 (inf as float32)" 1 - - -- inspect --json "$B/ds_f64_overflows_f32.pkl"
row "NaN label" 1 - - -- inspect --json "$B/ds_nan_label.pkl"
row "empty split" 1 - - -- inspect --json "$B/ds_empty_split.pkl"
row "3 labels for 2 clips" 1 - - -- inspect --json "$B/ds_label_count.pkl"
row "1 text for 2 clips" 1 - - -- inspect --json "$B/ds_text_count.pkl"
row "audio of rank 2" 1 - - -- inspect --json "$B/ds_wrong_rank.pkl"
row "complex64 audio (wrong dtype)" 1 - - -- inspect --json "$B/ds_wrong_dtype.pkl"
row "raw_text not valid UTF-8 (lone surrogate)" 1 - - -- inspect --json "$B/ds_text_not_utf8.pkl"
row "MMSA audio_lengths of 2^40" 1 - - -- inspect --json "$B/ds_mmsa_huge_lengths.pkl"
row "top level is a list" 1 - - -- inspect --json "$B/ds_not_a_dict.pkl"
row "dict without splits or features" 1 - - -- inspect --json "$B/ds_no_splits.pkl"
row "convert: NaN features, no .mird written" 1 "$M" - -- convert "$B/ds_nan_audio.pkl" "$M"
row "convert: malicious pickle, no .mird written" 1 "$M" - -- convert "$B/pk_os_system.pkl" "$M"
row "convert: output folder does not exist" 1 "$W/nodir/x.mird" - -- convert "$B/../pickle/mird_p4_f32.pkl" "$W/nodir/x.mird"
# ---- model configurations (mird init)
row "model config is not JSON" 1 "$O" - -- init --config "$B/cfg_not_json.json" --out "$O"
row "model config is a list" 1 "$O" - -- init --config "$B/cfg_not_object.json" --out "$O"
row "d_a given as a string (wrong type)" 1 "$O" - -- init --config "$B/cfg_wrong_type.json" --out "$O"
row "unknown fusion" 1 "$O" - -- init --config "$B/cfg_bad_value.json" --out "$O"
row "negative size" 1 "$O" - -- init --config "$B/cfg_negative.json" --out "$O"
row "vocab_size 2e9 (13 TB of embeddings)" 1 "$O" - -- init --config "$B/cfg_huge_vocab.json" --out "$O"
row "num_hidden_layers 1e8" 1 "$O" - -- init --config "$B/cfg_huge_layers.json" --out "$O"
row "empty model config file" 1 "$O" - -- init --config "$W/empty.bin" --out "$O"
# ---- pretrained BERT directories (mird init --bert)
row "HF dir: truncated pytorch_model.bin" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_truncated_bin" --out "$O"
row "HF dir: zip bomb (deflated 10 MB entry)" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_zip_bomb" --out "$O"
row "HF dir: zip end record with 65535 entries past the end" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_bad_zip" --out "$O"
row "HF dir: data.pkl calls os.system" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_evil_pickle" --out "$O"
row "HF dir: hidden_act relu" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_bad_config" --out "$O"
row "HF dir: no weights file" 1 "$O" - -- init --config "$B/cfg_tiny.json" --bert "$B/hf_no_weights" --out "$O"
# ---- the authors' torch.save files (mird import-torch; eval / predict read them too): nothing executes
TM=tests/fixtures/torch_module
row "torch.save module whose pickle calls os.system" 1 "$O" - -- import-torch "$TM/hostile/os_system.pt" --out "$O"
row "torch.save module whose pickle calls builtins.eval" 1 "$O" - -- import-torch "$TM/hostile/eval.pt" --out "$O"
row "torch.save module: submodules nested 100 deep" 1 "$O" - -- import-torch "$TM/hostile/deep.pt" --out "$O"
row "torch.save module: shared submodules, 2^40 paths" 1 "$O" - -- import-torch "$TM/hostile/dag.pt" --out "$O"
row "torch.save module: a child that is not a module" 1 "$O" - -- import-torch "$TM/hostile/not_a_module.pt" --out "$O"
row "torch.save state_dict of another model" 1 "$O" - -- import-torch "$TM/hostile/../../torch_misc/views.bin" --out "$O"
row "state_dict of the MAG-BERT variant" 1 "$O" - -- import-torch "$TM/hostile/mag_state_dict.pt" --out "$O"
row "legacy torch.save format (PyTorch < 1.6)" 1 "$O" - -- import-torch "$TM/hostile/legacy.pt" --out "$O"
row "import-torch: a dataset pickle instead" 1 "$O" - -- import-torch "$B/pk_os_system.pkl" --out "$O"
row "import-torch: --config not JSON" 1 "$O" - -- import-torch "$TM/wa_bert/model.pt" --config "$B/cfg_not_json.json" --out "$O"
row "import-torch: --config with an unknown fusion" 1 "$O" - -- import-torch "$TM/wa_bert/model.pt" --config "$B/cfg_bad_value.json" --out "$O"
row "import-torch: --config sizes disagree with the tensors" 1 "$O" - -- import-torch "$TM/wa_bert/model.pt" --config "$B/cfg_tiny.json" --out "$O"
row "import-torch: no --out" 2 - - -- import-torch "$TM/wa_bert/model.pt"
row "eval: torch.save module that calls os.system" 1 "$W/eval.json" - -- eval "$TM/hostile/os_system.pt" "$TM/wa_bert/data.pkl" --out "$W/eval.json"
row "predict: torch.save module nested 100 deep" 1 "$W/pred.csv" - -- predict "$TM/hostile/deep.pt" "$TM/wa_bert/data.pkl" --out "$W/pred.csv"
# ---- vocabularies and text (mird tokenize)
row "vocab not UTF-8" 1 - "$W/one_line.txt" -- tokenize --vocab "$B/vocab_not_utf8.txt"
row "vocab without [CLS]" 1 - "$W/one_line.txt" -- tokenize --vocab "$B/vocab_no_cls.txt"
row "empty vocab" 1 - "$W/one_line.txt" -- tokenize --vocab "$W/vocab_empty.txt"
row "text not UTF-8 (valid: bytes become U+FFFD, then dropped)" 0 - "$B/text_not_utf8.txt" -- tokenize --vocab "$VOC" --max-len 8
# ---- batches (mird debug-step; the checkpoint is the golden test's)
if [ -f "$CK" ]; then
  D=$W/debug.safetensors
  row "batch: input_ids stored as F64 (wrong dtype)" 1 "$D" - -- debug-step --checkpoint "$CK" --batch "$B/batch_wrong_dtype.safetensors" --out "$D"
  row "batch: acoustic [4,5,7] for d_a 5 (wrong shape)" 1 "$D" - -- debug-step --checkpoint "$CK" --batch "$B/batch_wrong_shape.safetensors" --out "$D"
  row "batch: token id outside the vocabulary" 1 "$D" - -- debug-step --checkpoint "$CK" --batch "$B/batch_id_out_of_range.safetensors" --out "$D"
  row "batch: NaN label" 1 "$D" - -- debug-step --checkpoint "$CK" --batch "$B/batch_nan_label.safetensors" --out "$D"
  row "batch: visual missing" 1 "$D" - -- debug-step --checkpoint "$CK" --batch "$B/batch_missing_visual.safetensors" --out "$D"
  row "checkpoint: truncated" 1 "$D" - -- debug-step --checkpoint "$B/st_truncated.safetensors" --batch "$B/batch_wrong_shape.safetensors" --out "$D"
  row "checkpoint: a dataset pickle instead" 1 "$D" - -- debug-step --checkpoint "$B/pk_os_system.pkl" --batch "$B/batch_wrong_shape.safetensors" --out "$D"
else
  echo "SKIP debug-step rows: $CK absent"
fi
# ---- eval / predict / bench (the golden test's checkpoint: d_a 5, d_v 7, vocab 40, 16 positions)
if [ -f "$CK" ]; then
  head -n 40 "$VOC" >"$W/vocab40.txt"
  P=$W/pred.csv
  row "eval: truncated checkpoint" 1 "$W/eval.json" - -- eval "$B/st_truncated.safetensors" "$B/ds_nan_audio.pkl" --out "$W/eval.json"
  row "eval: dataset with NaN features" 1 "$W/eval.json" - -- eval "$CK" "$B/ds_nan_audio.pkl" --vocab "$VOC" --out "$W/eval.json"
  row "predict: malicious dataset pickle" 1 "$P" - -- predict "$CK" "$B/pk_os_system.pkl" --vocab "$VOC" --out "$P"
  row "predict: frame value nan" 1 "$P" - -- predict "$CK" --text "hello world" --audio "$W/frames_nan.txt" --vocab "$W/vocab40.txt" --max-len 16 --out "$P"
  row "predict: frame value 1e999 (inf as float32)" 1 "$P" - -- predict "$CK" --text "hello world" --audio "$W/frames_overflow.txt" --vocab "$W/vocab40.txt" --max-len 16 --out "$P"
  row "predict: rows of different lengths" 1 "$P" - -- predict "$CK" --text "hello world" --audio "$W/frames_ragged.txt" --vocab "$W/vocab40.txt" --max-len 16 --out "$P"
  row "predict: binary garbage as frames" 1 "$P" - -- predict "$CK" --text "hello world" --audio "$W/frames_binary.txt" --vocab "$W/vocab40.txt" --max-len 16 --out "$P"
  row "predict: 3 values per frame, the model wants d_v 7" 1 "$P" - -- predict "$CK" --text "hello world" --video "$W/frames_3cols.txt" --vocab "$W/vocab40.txt" --max-len 16 --out "$P"
  row "predict: vocab larger than the model's" 1 "$P" - -- predict "$CK" --text "hello world" --vocab "$VOC" --max-len 16 --out "$P"
  row "bench: batch with a missing tensor" 1 - - -- bench --checkpoint "$CK" --batch "$B/batch_missing_visual.safetensors" --steps 1
  row "bench: malicious pickle as checkpoint" 1 - - -- bench --checkpoint "$B/pk_os_system.pkl" --batch "$B/batch_wrong_shape.safetensors" --steps 1
fi
# ---- training: the run folder must not get results
R=$W/run
row "train: dataset with NaN features" 1 "$R/results.json" - -- train --data "$B/ds_nan_audio.pkl" --out "$R" --epochs 1
row "train: malicious dataset pickle" 1 "$R/results.json" - -- train --data "$B/pk_os_system.pkl" --out "$R" --epochs 1
row "train: run config not JSON" 1 "$R/results.json" - -- train --config "$B/cfg_not_json.json" --data "$B/ds_nan_audio.pkl" --out "$R"
row "train: unknown flag" 2 "$R/results.json" - -- train --bogus
row "train: malicious unlabeled pickle" 1 "$R/results.json" - -- train --data "$B/../pickle/mird_p4_f32.pkl" --unlabeled "$B/pk_eval.pkl" --vocab "$VOC" --out "$R" --epochs 1
row "train: model config with 1e8 layers" 1 "$R/results.json" - -- train --data "$B/../pickle/mird_p4_f32.pkl" --model "$B/cfg_huge_layers.json" --vocab "$VOC" --out "$R" --epochs 1
row "train: --init checkpoint truncated" 1 "$R/results.json" - -- train --data "$B/../pickle/mird_p4_f32.pkl" --init "$B/st_truncated.safetensors" --vocab "$VOC" --out "$R" --epochs 1
row "train: vocab not UTF-8" 1 "$R/results.json" - -- train --data "$B/../pickle/mird_p4_f32.pkl" --vocab "$B/vocab_not_utf8.txt" --out "$R" --epochs 1
row "train: HF dir with a zip bomb" 1 "$R/results.json" - -- train --data "$B/../pickle/mird_p4_f32.pkl" --bert "$B/hf_zip_bomb" --vocab "$VOC" --out "$R" --epochs 1

[ $md -eq 1 ] && [ -f "$W/table.md" ] && cat "$W/table.md"
echo "bad inputs: $pass passed, $fail failed, $skip skipped (binaries: ${bins[*]})"
[ $fail -eq 0 ]
