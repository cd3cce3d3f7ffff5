#!/usr/bin/env bash
# test_python.sh: the Python package python/mird and the C example, with Debian's python3 and numpy
# (/usr/bin/python3: the python3 first on PATH may be another build without numpy). The checks are
# tests/python/test_mird.py (unittest): predictions and latents bit-identical to `mird predict` and
# `mird train --dump-latents`, mird.train equal to `mird train`, bad arguments, examples/predict.c
# against `mird predict --text`, the README's example, `pip install`.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
"$PY" -c "import numpy" 2>/dev/null || { echo "$PY cannot import numpy: install python3-numpy (scripts/deps.sh --test)"; exit 1; }
bin=${MIRD_BIN:-build/mird}
dir=$(dirname "$bin")
[ -f "$dir/libmird.so" ] && [ -x "$dir/examples/predict" ] || { echo "no $dir/libmird.so or $dir/examples/predict: run make first"; exit 1; }
export MIRD_BIN=$bin MIRD_LIBRARY=$dir/libmird.so MIRD_EXAMPLE=$dir/examples/predict PYTHONPATH=python
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONDONTWRITEBYTECODE=1
exec "$PY" tests/python/test_mird.py -v
