#!/usr/bin/env bash
# The throughput benchmark on a GPU, in one go: fp32 and bf16 autocast, batch 10 (the paper's)
# and 64, each written as JSON (and a table) into the folder given:
#   bash bench/gpu_check.sh OUT_DIR
# Needs python3 (or .venv/bin/python) with torch, numpy and tqdm, and data/conll03.pt. A run that
# fails (e.g. bf16 LSTM unsupported by the card) is logged and the others still run.
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: bash bench/gpu_check.sh OUT_DIR" >&2; exit 2; }
OUT=$1
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3
mkdir -p "$OUT"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  nproc; cut -d' ' -f1-3 /proc/loadavg; } >"$OUT/machine.txt" 2>&1
cat "$OUT/machine.txt"
status=0
for batch in 10 64; do
    for precision in fp32 amp; do
        name=b${batch}-$precision
        flags=()
        [[ $precision == amp ]] && flags=(--amp)
        echo "== $name" >&2
        timeout "${RUN_TIMEOUT:-140}" "$PY" bench/throughput.py --device cuda --batch "$batch" \
            "${flags[@]}" --out "$OUT/$name.json" --table >"$OUT/$name.txt" 2>"$OUT/$name.err"
        rc=$?
        cat "$OUT/$name.txt"
        if [[ $rc -ne 0 ]]; then
            echo "$name failed (exit $rc):" >&2
            tail -5 "$OUT/$name.err" >&2
            status=1
        fi
    done
done
exit $status
