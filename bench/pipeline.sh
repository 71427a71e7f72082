#!/usr/bin/env bash
# Wall time of the pipeline's stages, as users run them:
#   bash bench/pipeline.sh [OUT] [prepare] [demo] [cpu]     (no part named: all three)
#   prepare  prepare-data.py for each setting (conll03, ptb, ontonotes), into OUT/data
#   demo     `make demo` (its output in OUT/exp/conll03-demo)
#   cpu      the cpu preset on conll03, stage by stage: single (three prunings in parallel),
#            prepare-masks auto, mtl (sparse sharing), baselines; into OUT/exp/conll03-cpu
# OUT defaults to exp/bench-pipeline. Each stage's output goes to OUT/logs/<stage>.log; a stage
# that fails is recorded with its exit code and the next one still runs. Prints one JSON object
# and writes it to OUT/pipeline.json. Environment: CORES (passed on to the run scripts), PTB_ARGS
# (extra prepare-data.py arguments for ptb; default: dev.pos stands in for the missing WSJ train).
# The cpu stages need ~30 minutes on 2 idle cores; run them on an otherwise idle machine.

set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3

OUT=exp/bench-pipeline
if [[ $# -gt 0 && $1 != prepare && $1 != demo && $1 != cpu ]]; then
    OUT=$1
    shift
fi
PARTS=("$@")
[[ ${#PARTS[@]} -gt 0 ]] || PARTS=(prepare demo cpu)
for part in "${PARTS[@]}"; do
    case $part in
        prepare | demo | cpu) ;;
        *) echo "error: unknown part '$part'; expected prepare, demo or cpu" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUT/logs"
ROWS=()
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

stage() {  # stage NAME COMMAND...: run it, log it, record its wall time and exit code
    local name=$1 start end rc
    shift
    echo "== $name: $*" >&2
    start=$(date +%s.%N)
    "$@" >"$OUT/logs/$name.log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    local seconds
    seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    echo "   $seconds s, exit $rc" >&2
    ROWS+=("$(printf '{"stage": "%s", "seconds": %s, "exit": %d, "command": "%s"}' \
        "$name" "$seconds" "$rc" "$(echo "$*" | sed 's/"/\\"/g')")")
}

wants() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }

if wants prepare; then
    stage prepare-conll03 "$PY" prepare-data.py --type conll03 --out "$OUT/data"
    # Without the WSJ train sections, dev.pos stands in for them (see docs/data.md).
    read -r -a PTB_ARGS <<<"${PTB_ARGS:-}"
    if [[ ${#PTB_ARGS[@]} -eq 0 && ! -f data/raw/wsj_ptb/train.pos && ! -f ../shared/data/wsj_ptb/train.pos ]]; then
        PTB_ARGS=(--pos-train ../shared/data/wsj_ptb/dev.pos)
    fi
    stage prepare-ptb "$PY" prepare-data.py --type ptb "${PTB_ARGS[@]}" --out "$OUT/data"
    stage prepare-ontonotes "$PY" prepare-data.py --type ontonotes --out "$OUT/data"
fi

if wants demo; then
    # Its own output folder, so a demo someone else is running in exp/ is left alone.
    stage demo env DEMO_EXP="$OUT/exp/conll03-demo" make demo
fi

if wants cpu; then
    EXP_DIR=$OUT/exp/conll03-cpu
    rm -rf "$EXP_DIR"
    export PRESET=cpu EXP=$EXP_DIR NAME=main
    stage cpu-single bash run_conll03.sh single
    stage cpu-prepare-masks env EXP_ROOT="$OUT/exp" bash prepare-masks.sh conll03-cpu auto
    stage cpu-mtl bash run_conll03.sh mtl
    stage cpu-baselines bash run_conll03.sh baselines
fi

{
    printf '{"machine": {"cpu": "%s", "cores": %s, "load_avg_before": "%s", "load_avg_after": "%s"},\n' \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" "$(nproc)" \
        "$LOAD_BEFORE" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf ' "stages": [\n'
    for i in "${!ROWS[@]}"; do
        sep=","
        [[ $i -eq $((${#ROWS[@]} - 1)) ]] && sep=""
        printf '  %s%s\n' "${ROWS[i]}" "$sep"
    done
    printf ' ]}\n'
} >"$OUT/pipeline.json.tmp" && mv "$OUT/pipeline.json.tmp" "$OUT/pipeline.json"
cat "$OUT/pipeline.json"
