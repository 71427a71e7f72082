# Shared logic of run_conll03.sh, run_ptb.sh and run_ontonotes.sh. They set SETTING (which reads
# data/$SETTING.pt and writes exp/$SETTING/) and TRAINER (the multi-task batch schedule), source
# this file and call `run_main "$@"`.
#
#   single [CHECKPOINT]  prune each task alone (train_single.py), the three tasks in parallel,
#                        from fresh weights or from CHECKPOINT (e.g. the `warmup` run's best.th)
#   mtl                  sparse sharing through the masks placed by prepare-masks.sh
#   warmup               brief hard-sharing training; prints the checkpoint to give to `single`
#   baselines            single-task, hard, soft, hierarchical and sparse training; one table
#   demo                 prepare-data -> single -> prepare-masks auto -> mtl -> baselines, small
#   all                  single -> prepare-masks auto -> baselines (the full comparison)
#
# Environment: PRESET=paper|cpu|demo (default paper); NAME, the multi-task run's name (default
# main); CORES (default all); THREADS (torch threads per run; default the cores divided among
# the runs going at once); RESUME=1 or OVERWRITE=1 (continue or replace existing runs);
# DEVICE (default cpu); TRAIN_ARGS (extra arguments for both training scripts), SINGLE_ARGS
# (train_single.py only), MTL_ARGS (train_mtl.py only); DATA and EXP
# (default data/$SETTING.pt and exp/$SETTING); AUTO_MARGIN (for `prepare-masks.sh auto`).

set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3
PRESET=${PRESET:-paper}
NAME=${NAME:-main}
CORES=${CORES:-$(nproc)}
DEVICE=${DEVICE:-cpu}
DATA=${DATA:-data/$SETTING.pt}
EXP=${EXP:-exp/$SETTING}
read -r -a EXTRA <<<"${TRAIN_ARGS:-}"
read -r -a SINGLE_EXTRA <<<"${SINGLE_ARGS:-}"
read -r -a MTL_EXTRA <<<"${MTL_ARGS:-}"
TASK_IDS=(0 1 2)
TASK_NAMES=(pos chunk ner)

die() { echo "error: $*" >&2; exit 2; }

run_flags() {
    if [[ ${OVERWRITE:-0} == 1 ]]; then echo --overwrite
    elif [[ ${RESUME:-0} == 1 ]]; then echo --resume
    fi
}

set_common() {  # COMMON: the arguments both training scripts get (read again after demo's changes)
    COMMON=(--data_path "$DATA" --preset "$PRESET" --device "$DEVICE")
    [[ -z $(run_flags) ]] || COMMON+=("$(run_flags)")
}

# ---- background jobs: at most MAX_JOBS at once, each with its own log; failures are collected --
declare -A JOB_NAME=() JOB_LOG=()
FAILED=()
MAX_JOBS=$CORES
trap 'for pid in "${!JOB_NAME[@]}"; do kill "$pid" 2>/dev/null || true; done' INT TERM

threads_per_job() {  # THREADS, else the cores divided among N jobs running at once (at least 1)
    local n=${THREADS:-$(( CORES / $1 ))}
    echo $(( n > 0 ? n : 1 ))
}

spawn() {  # spawn NAME LOG COMMAND...
    local name=$1 log=$2
    shift 2
    while (( ${#JOB_NAME[@]} >= MAX_JOBS )); do reap_one; done
    mkdir -p "$(dirname "$log")"
    "$@" >"$log" 2>&1 &
    JOB_NAME[$!]=$name
    JOB_LOG[$!]=$log
    echo "started $name (pid $!), log: $log"
}

reap_one() {
    local pid rc=0
    wait -n -p pid "${!JOB_NAME[@]}" || rc=$?
    if (( rc == 0 )); then
        echo "finished ${JOB_NAME[$pid]}"
    else
        FAILED+=("${JOB_NAME[$pid]}")
        { echo "FAILED: ${JOB_NAME[$pid]} (exit code $rc); last lines of ${JOB_LOG[$pid]}:"
          tail -n 15 "${JOB_LOG[$pid]}" | sed 's/^/    /'; } >&2
    fi
    unset "JOB_NAME[$pid]" "JOB_LOG[$pid]"
}

wait_all() {
    while (( ${#JOB_NAME[@]} > 0 )); do reap_one; done
    if (( ${#FAILED[@]} > 0 )); then
        echo "error: ${#FAILED[@]} run(s) failed: ${FAILED[*]}" >&2
        exit 1
    fi
}

# ---- checks -----------------------------------------------------------------------------------
need_data() {
    [[ -f $DATA ]] || die "$DATA not found; prepare it first: $PY prepare-data.py --type $SETTING (see README)"
}

need_masks() {
    [[ -f $EXP/mtl/mask/init_weights.th ]] || die "no masks in $EXP/mtl/mask; run \`bash run_$SETTING.sh single\`, then \`bash prepare-masks.sh $(basename "$EXP") [auto]\`"
}

finished() { [[ -f $1/results.json && ${OVERWRITE:-0} != 1 ]]; }

# ---- modes ------------------------------------------------------------------------------------
mode_single() {
    local checkpoint=${1:-} threads
    need_data
    set_common
    if [[ -n $checkpoint && $checkpoint != /* && ! -f $checkpoint ]]; then
        checkpoint=$CALLER_DIR/$checkpoint          # a path relative to where the script was called
    fi
    [[ -z $checkpoint || -f $checkpoint ]] || die "warm-up checkpoint not found: $checkpoint"
    threads=$(threads_per_job ${#TASK_IDS[@]})
    MAX_JOBS=${#TASK_IDS[@]}
    for i in "${!TASK_IDS[@]}"; do
        spawn "single ${TASK_NAMES[i]}" "$EXP/single/logs/${TASK_IDS[i]}.log" \
            "$PY" train_single.py "${COMMON[@]}" --task_id "${TASK_IDS[i]}" \
            --save_dir "$EXP/single" --exp_name "${TASK_IDS[i]}" --num_threads "$threads" \
            ${checkpoint:+--init_weights "$checkpoint"} "${EXTRA[@]}" "${SINGLE_EXTRA[@]}"
    done
    wait_all
    for i in "${!TASK_IDS[@]}"; do
        echo "${TASK_NAMES[i]} ($EXP/single/cp/${TASK_IDS[i]}):"
        sed -n '/^ *round  *% kept/,$p' "$EXP/single/logs/${TASK_IDS[i]}.log"
    done
    echo "next: bash prepare-masks.sh $(basename "$EXP") [auto | K_POS K_CHUNK K_NER]"
}

mtl_command() {  # mtl_command EXP_NAME [ARGS...]: sets CMD to train_mtl.py with these settings
    local name=$1
    shift
    set_common
    CMD=("$PY" train_mtl.py "${COMMON[@]}" --trainer "$TRAINER" --save_dir "$EXP/mtl"
         --exp_name "$name" "$@" "${EXTRA[@]}" "${MTL_EXTRA[@]}")
}

mode_mtl() {
    need_data
    need_masks
    mkdir -p "$EXP/mtl/logs"
    mtl_command "$NAME" --masks_path "$EXP/mtl/mask" --num_threads "$(threads_per_job 1)"
    "${CMD[@]}" 2>&1 | tee "$EXP/mtl/logs/$NAME.log"
}

mode_warmup() {
    local epochs
    need_data
    case $PRESET in paper) epochs=10 ;; *) epochs=1 ;; esac
    epochs=${WARMUP_EPOCHS:-$epochs}
    mkdir -p "$EXP/mtl/logs"
    mtl_command "$NAME-warmup" --epochs "$epochs" --num_threads "$(threads_per_job 1)"
    "${CMD[@]}" 2>&1 | tee "$EXP/mtl/logs/$NAME-warmup.log"
    echo "warm-up checkpoint: $EXP/mtl/cp/$NAME-warmup/best.th"
    echo "next: bash run_$SETTING.sh single $EXP/mtl/cp/$NAME-warmup/best.th"
}

mode_baselines() {
    local threads label name args
    need_data
    need_masks
    MAX_JOBS=${JOBS:-$CORES}
    threads=$(threads_per_job "$MAX_JOBS")
    # The longest runs first; a finished run (results.json) is reused unless OVERWRITE=1. Every
    # run starts from the masks' init_weights.th, the weights sparse sharing starts from.
    for label in soft sparse hard hier "${TASK_IDS[@]/#/single-}"; do
        case $label in
            sparse) name=$NAME; args=(--masks_path "$EXP/mtl/mask") ;;
            soft) name=$NAME-soft; args=(--arch soft) ;;
            hard) name=$NAME-hard; args=() ;;
            hier) name=$NAME-hier; args=(--arch hier-lstm) ;;
            single-*) name=$NAME-single-${TASK_NAMES[${label#single-}]}; args=(--tasks "${label#single-}") ;;
        esac
        if finished "$EXP/mtl/cp/$name"; then
            echo "reusing $label: $EXP/mtl/cp/$name"
            continue
        fi
        mtl_command "$name" "${args[@]}" --init_weights "$EXP/mtl/mask/init_weights.th" \
            --num_threads "$threads"
        spawn "$label ($name)" "$EXP/mtl/logs/$name.log" "${CMD[@]}"
    done
    wait_all
    print_table
}

print_table() {
    local singles
    singles=$(printf "$EXP/mtl/cp/$NAME-single-%s," "${TASK_NAMES[@]}")
    echo
    "$PY" -m utils.results_table "single=${singles%,}" "hard=$EXP/mtl/cp/$NAME-hard" \
        "soft=$EXP/mtl/cp/$NAME-soft" \
        "hier=$EXP/mtl/cp/$NAME-hier" "sparse=$EXP/mtl/cp/$NAME" --tasks "${TASK_NAMES[@]}" \
        --title "$SETTING, preset $PRESET, run $NAME: test scores at the epoch selected on dev" \
        --out "$EXP/mtl/$NAME-table.md" --json "$EXP/mtl/$NAME-table.json"
    echo "table written to $EXP/mtl/$NAME-table.md"
}

prepare_masks_auto() {
    EXP_ROOT=$(dirname "$EXP") bash prepare-masks.sh "$(basename "$EXP")" auto
}

prepare_data_if_missing() {
    [[ -f $DATA ]] && return 0
    echo "== preparing $DATA: prepare-data.py --type $SETTING"
    if ! "$PY" prepare-data.py --type "$SETTING" --out "$(dirname "$DATA")"; then
        [[ $SETTING != conll03 ]] || echo "The demo needs the CoNLL-2003 files train.txt, dev.txt" \
            "and test.txt in data/raw/conll03/ (inside the repository) or in ../shared/data/conll03/" \
            "(beside it)." >&2
        die "no prepared data; see README, \"Getting the corpora\""
    fi
}

mode_demo() {
    PRESET=demo
    NAME=demo
    # Small batches gain little from a second thread, and threads contend with the other runs.
    THREADS=${THREADS:-1}
    EXP=${DEMO_EXP:-exp/$SETTING-demo}
    echo "$SETTING demo: preset demo, $CORES cores, output $EXP (rebuilt on every run)"
    if [[ $EXP == *-demo ]]; then rm -rf "$EXP"; fi
    prepare_data_if_missing
    echo "== 1/4 single-task pruning (train_single.py, 3 tasks in parallel)"
    mode_single
    echo "== 2/4 masks chosen by dev score (prepare-masks.sh auto)"
    prepare_masks_auto
    echo "== 3/4 sparse sharing (train_mtl.py --masks_path)"
    mode_mtl
    echo "== 4/4 baselines: single-task, hard, soft, hierarchical"
    mode_baselines
}

mode_all() {
    mode_single
    prepare_masks_auto
    mode_baselines
}

usage() {
    sed -n '/^#   single/,/^#   all/p' scripts/run_common.sh | sed 's/^#//' >&2
    die "usage: bash run_$SETTING.sh single [CHECKPOINT] | mtl | warmup | baselines | demo | all"
}

run_main() {
    local mode=${1:-}
    [[ $# -gt 0 ]] && shift
    case $mode in
        single | mtl | warmup | baselines | demo | all) ;;
        *) usage ;;
    esac
    [[ $mode == demo ]] || echo "$SETTING: $mode, preset $PRESET, run $NAME, $CORES cores, output $EXP"
    "mode_$mode" "$@"
    echo "$mode done in $(( SECONDS / 60 )) min $(( SECONDS % 60 )) s"
}
