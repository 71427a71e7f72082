#!/usr/bin/env bash
# Wall time of the pipeline's stages, as users run them:
#   bash bench/pipeline.sh [OUT] [prepare] [demo] [cpu]     (no part named: all three)
#   prepare  prepare-data.py for each setting (conll03, ptb, ontonotes), into OUT/data
#   demo     `make demo`
#   cpu      the cpu preset on conll03, stage by stage: single (three prunings in parallel),
#            prepare-masks auto, mtl (sparse sharing), baselines; into OUT/exp/conll03-cpu
# OUT defaults to exp/bench-pipeline. Each stage's output goes to OUT/logs/<stage>.log; a stage
# that fails is recorded with its exit code and the next one still runs. Prints one JSON object
# and writes it to OUT/pipeline.json. Environment: CORES (passed on to the run scripts).
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
    for setting in conll03 ptb ontonotes; do
        stage "prepare-$setting" "$PY" prepare-data.py --type "$setting" --out "$OUT/data"
    done
fi

if wants demo; then
    stage demo make demo
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
