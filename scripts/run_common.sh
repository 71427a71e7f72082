# Shared logic of run_tasks.sh, run_conll03.sh, run_ptb.sh and run_ontonotes.sh. They set
# TASK_SET_FILE (the setting's task-set file: its name SETTING, which reads data/$SETTING.pt and
# writes exp/$SETTING/, and its multi-task batch schedule TRAINER) and RUN_SCRIPT (the command
# line that names the setting, for messages), source this file and call `run_main "$@"`. The
# tasks themselves come from the data file.
#
#   single [CHECKPOINT]  prune each task alone (train_single.py), every task in parallel,
#                        from fresh weights or from CHECKPOINT (e.g. the `warmup` run's best.th)
#   mtl [MASKDIR]        sparse sharing through the masks in MASKDIR (default the ones placed by
#                        prepare-masks.sh in exp/<setting>/mtl/mask)
#   warmup               brief hard-sharing training; prints the checkpoint to give to `single`
#   baselines            single-task, hard, soft, hierarchical and sparse training; one table
#   demo                 prepare-data -> single -> prepare-masks auto -> baselines, small
#   all                  single -> prepare-masks auto -> baselines (the full comparison)
#   status               the state of the Slurm jobs submitted for this EXP
#
# Environment (docs/workflow.md):
#   PRESET=paper|cpu|demo (default paper); NAME, the multi-task runs' name (default main);
#   SEEDS="1 2 3": the whole grid once per seed, in EXP/seed-<seed>/, and a table of mean +- std
#     (default: seed 2019, as the original's scripts, in EXP itself);
#   LAUNCHER=local|slurm (default local). Local: GPUS=0,1,... (default every visible GPU; none:
#     the CPU), RUNS_PER_GPU (default 1), CORES (default all), JOBS (CPU runs at once, default the
#     cores), THREADS (torch threads per run; default the cores divided among the runs going at
#     once). Slurm: SBATCH_ARGS (every job), SBATCH_TRAIN_ARGS (training jobs), THREADS (CPUs
#     per training job, default 1);
#   RESUME=1 or OVERWRITE=1 (continue or replace existing runs); ACCEPT_STALE=1 (use a data file,
#   masks or finished run whose inputs changed since it was built); DEVICE (default cuda with GPUs,
#   else cpu); TRAIN_ARGS (extra arguments for both training scripts), SINGLE_ARGS
#   (train_single.py only), MTL_ARGS (train_mtl.py only); DATA and EXP (default data/$SETTING.pt
#   and exp/$SETTING); AUTO_MARGIN (for `prepare-masks.sh auto`);
#   BASELINES="single hard soft hier sparse": the columns `baselines`, `all` and `demo` train and
#     tabulate (default all of them; commas or spaces);
#   ENCODER=PATH: a local Hugging Face model folder in place of the BiLSTM (docs/encoders.md):
#     every training stage gets --encoder PATH, EXP defaults to exp/$SETTING-<folder name>, and
#     the baselines leave out soft sharing.

set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3
PRESET_GIVEN=${PRESET:-}   # demo mode refuses any other preset than its own
PRESET=${PRESET:-paper}
NAME=${NAME-main}      # an empty NAME is refused (check_settings), not replaced
CORES=${CORES:-$(nproc)}
RUNS_PER_GPU=${RUNS_PER_GPU:-1}
LAUNCHER=${LAUNCHER:-local}
read -r -a EXTRA <<<"${TRAIN_ARGS:-}"
read -r -a SINGLE_EXTRA <<<"${SINGLE_ARGS:-}"
read -r -a MTL_EXTRA <<<"${MTL_ARGS:-}"
TASK_IDS=() TASK_NAMES=()   # from the data file (load_tasks)
DEFAULT_SEED=2019   # the seed the original's run scripts pass

# The multi-task runs of `baselines` besides the single-task models (one per task), in the
# table's order: column|run name after $NAME|train_mtl.py arguments (MASKS: the masks folder).
# BASELINES (the environment) picks some of them (choose_baselines).
BASELINE_RUNS=(
    "hard|-hard|"
    "soft|-soft|--arch soft"
    "hier|-hier|--arch hier-lstm"
    "sparse||--masks_path MASKS"
)

die() { echo "error: $*" >&2; exit 2; }

source scripts/plan.sh
source scripts/launch_local.sh
source scripts/launch_slurm.sh
source scripts/stages.sh

# ---- the setting and its tasks ----------------------------------------------------------------
read_setting() {  # SETTING and TRAINER from the task-set file; DATA, EXP; how to prepare the data
    local described
    [[ -f $TASK_SET_FILE ]] || die "task-set file not found: $TASK_SET_FILE"
    described=$("$PY" -m utils.data.describe setting "$TASK_SET_FILE") || exit 2
    read -r SETTING TRAINER <<<"$described"
    if [[ $TASK_SET_FILE == settings/$SETTING.toml ]]; then
        PREPARE_ARGS=(--type "$SETTING")
    else
        PREPARE_ARGS=(--tasks "$TASK_SET_FILE")
    fi
    DATA=${DATA:-data/$SETTING.pt}
    EXP=${EXP:-exp/$SETTING$(encoder_suffix)}
}

read_encoder() {  # ENCODER (a path from where the script was called); no soft sharing over it
    [[ -n ${ENCODER:-} ]] || return 0
    ENCODER=$(from_caller "$ENCODER")
    [[ -d $ENCODER ]] || die "ENCODER must be a local Hugging Face model folder, got '$ENCODER'"
    local entry kept=()
    for entry in "${BASELINE_RUNS[@]}"; do [[ $entry == soft\|* ]] || kept+=("$entry"); done
    BASELINE_RUNS=("${kept[@]}")
}

choose_baselines() {  # BASELINES="single hard ..." (default: every column the setting offers):
                      # BASELINE_RUNS and SINGLE_COLUMN (1: the single-task models too)
    local offered=(single) entry name wanted kept=()
    for entry in "${BASELINE_RUNS[@]}"; do offered+=("${entry%%|*}"); done
    SINGLE_COLUMN=1
    [[ -n ${BASELINES+set} ]] || return 0
    read -r -a wanted <<<"${BASELINES//,/ }"
    (( ${#wanted[@]} > 0 )) || die "BASELINES names no column ('$BASELINES'); give some of: ${offered[*]}, or leave it unset"
    declare -A seen=()
    for name in "${wanted[@]}"; do
        if [[ " ${offered[*]} " != *" $name "* ]]; then
            [[ $name != soft || -z ${ENCODER:-} ]] || die "BASELINES: soft sharing is not offered over an encoder (ENCODER); choose among: ${offered[*]}"
            die "BASELINES: '$name' is not a column; choose among: ${offered[*]}"
        fi
        [[ -z ${seen[$name]:-} ]] || die "BASELINES names '$name' twice ('$BASELINES')"
        seen[$name]=1
    done
    [[ -n ${seen[single]:-} ]] || SINGLE_COLUMN=0
    for entry in "${BASELINE_RUNS[@]}"; do [[ -z ${seen[${entry%%|*}]:-} ]] || kept+=("$entry"); done
    BASELINE_RUNS=("${kept[@]}")
}

encoder_suffix() {  # "-<encoder folder name>" with ENCODER, else nothing
    [[ -z ${ENCODER:-} ]] || echo "-$(basename "${ENCODER%/}")"
}

load_tasks() {  # TASK_NAMES (and TASK_IDS, their positions) from the data file, which must be
                # prepared from the task-set file as it is now
    local names
    need_data
    names=$("$PY" -m utils.data.describe tasks "$DATA" --task-set "$TASK_SET_FILE") || exit 2
    mapfile -t TASK_NAMES <<<"$names"
    TASK_IDS=("${!TASK_NAMES[@]}")
}

# ---- settings that depend on the environment ----------------------------------------------------
choose_seeds() {  # SEED_LIST, and SEED_IN_NAMES=1 when SEEDS is given (one folder per seed)
    if [[ -z ${SEEDS:-} ]]; then
        SEED_LIST=("$DEFAULT_SEED")
        return
    fi
    read -r -a SEED_LIST <<<"$SEEDS"
    (( ${#SEED_LIST[@]} > 0 )) || die "SEEDS names no seed ('$SEEDS'); give whole numbers separated by spaces, or leave it unset"
    local seed
    for seed in "${SEED_LIST[@]}"; do
        [[ $seed =~ ^[0-9]+$ ]] || die "SEEDS must be whole numbers separated by spaces, got '$SEEDS'"
    done
    SEED_IN_NAMES=1
}

seed_exp() {  # seed_exp SEED: the experiment folder of that seed
    if [[ $SEED_IN_NAMES == 1 ]]; then echo "$EXP/seed-$1"; else echo "$EXP"; fi
}

choose_devices() {  # GPU_LIST (local launcher: the GPUs to spread the runs over) and DEVICE
    GPU_LIST=()
    [[ $RUNS_PER_GPU =~ ^[1-9][0-9]*$ ]] || die "RUNS_PER_GPU must be 1 or more, got '$RUNS_PER_GPU'"
    if [[ $LAUNCHER == slurm ]]; then        # Slurm pins the GPUs a job asks for
        if [[ -z ${DEVICE:-} && " ${SBATCH_ARGS:-} ${SBATCH_TRAIN_ARGS:-} " =~ \ (--gres=gpu|--gpus|-G) ]]; then
            DEVICE=cuda
        fi
        DEVICE=${DEVICE:-cpu}
        return
    fi
    case ${DEVICE:-} in
        "" | cuda)
            if [[ -n ${GPUS:-} ]]; then
                read -r -a GPU_LIST <<<"${GPUS//,/ }"
            else
                mapfile -t GPU_LIST < <(visible_gpus)
            fi ;;
        cuda:*) die "DEVICE=$DEVICE: choose the GPUs with GPUS=${DEVICE#cuda:} and DEVICE=cuda" ;;
    esac
    if [[ ${DEVICE:-} == cuda && ${#GPU_LIST[@]} -eq 0 ]]; then
        die "DEVICE=cuda but no GPU is visible; name them with GPUS=0,1,..."
    fi
    if [[ -z ${DEVICE:-} ]]; then
        if (( ${#GPU_LIST[@]} > 0 )); then DEVICE=cuda; else DEVICE=cpu; fi
    fi
}

run_flags() {
    if [[ ${OVERWRITE:-0} == 1 ]]; then echo --overwrite
    elif [[ ${RESUME:-0} == 1 ]]; then echo --resume
    fi
}

set_common() {  # COMMON: the arguments both training scripts get (read again after demo's changes)
    COMMON=(--data_path "$DATA" --preset "$PRESET" --device "$DEVICE")
    [[ -z ${ENCODER:-} ]] || COMMON+=(--encoder "$ENCODER")
    [[ -z $(run_flags) ]] || COMMON+=("$(run_flags)")
}

run_plan() {
    if [[ $LAUNCHER == slurm ]]; then run_plan_slurm; else run_plan_local; fi
}

# ---- checks -------------------------------------------------------------------------------------
positive() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }

check_settings() {  # every setting from the environment, once, before anything is launched
    local presets seed var gpu
    presets=$("$PY" -c 'from utils.training.presets import PRESETS; print(*PRESETS)') ||
        die "cannot read the presets with $PY"
    [[ " $presets " == *" $PRESET "* ]] || die "PRESET must be one of: $presets; got '$PRESET'"
    if [[ -z $NAME || $NAME == */* || $NAME == . || $NAME == .. ]]; then
        die "NAME must be one folder name (not empty, not '.' or '..', no '/'), got '$NAME'"
    fi
    declare -A seen=()
    for seed in "${SEED_LIST[@]}"; do   # a round's seed is seed * 1000 + round: 64 bits hold 16 digits
        [[ $seed =~ ^[0-9]{1,16}$ ]] || die "SEEDS must be whole numbers of at most 16 digits, got '$seed'"
        [[ -z ${seen[$seed]:-} ]] || die "SEEDS names seed $seed twice ('${SEEDS:-}'); each seed's runs share one folder"
        seen[$seed]=1
    done
    positive "$CORES" || die "CORES must be 1 or more, got '$CORES'"
    for var in JOBS THREADS; do
        [[ -z ${!var:-} ]] || positive "${!var}" || die "$var must be 1 or more, got '${!var}'"
    done
    [[ ${WARMUP_EPOCHS:-0} =~ ^[0-9]+$ ]] || die "WARMUP_EPOCHS must be a whole number, got '$WARMUP_EPOCHS'"
    for var in RESUME OVERWRITE ACCEPT_STALE; do
        [[ ${!var:-0} =~ ^[01]$ ]] || die "$var must be 0 or 1, got '${!var}'"
    done
    [[ ${RESUME:-0} == 0 || ${OVERWRITE:-0} == 0 ]] || die "RESUME=1 (continue the runs) and OVERWRITE=1 (replace them) exclude each other"
    [[ $DEVICE == cpu || $DEVICE == cuda || ( $LAUNCHER == slurm && $DEVICE =~ ^cuda:[0-9]+$ ) ]] ||
        die "DEVICE must be cpu or cuda, got '$DEVICE'"
    for gpu in "${GPU_LIST[@]}"; do
        [[ $gpu =~ ^[0-9]+$ ]] || die "GPUS must be GPU numbers separated by commas, got '${GPUS:-}'"
    done
    [[ -z ${AUTO_MARGIN:-} || $AUTO_MARGIN =~ ^([0-9]+[.]?[0-9]*|[.][0-9]+)$ ]] ||
        die "AUTO_MARGIN must be a number of dev points, 0 or more, got '$AUTO_MARGIN'"
}

need_data() {
    [[ -f $DATA ]] || die "$DATA not found; prepare it first: $PY prepare-data.py ${PREPARE_ARGS[*]} (see docs/data.md)"
}

need_masks() {  # need_masks EXP_DIR: the masks prepare-masks.sh places in EXP_DIR/mtl/mask
    [[ -f $1/mtl/mask/init_weights.th ]] || die "no masks in $1/mtl/mask; run \`$RUN_SCRIPT single\`, then \`$(masks_command "$1") [auto]\`"
}

finished() { [[ -f $1/results.json && ${OVERWRITE:-0} != 1 ]]; }

from_caller() {  # from_caller PATH: a path given on the command line, relative to where the script was called
    if [[ -n $1 && $1 != /* && ! -e $1 ]]; then echo "$CALLER_DIR/$1"; else echo "$1"; fi
}

masks_command() {  # masks_command EXP_DIR: the prepare-masks.sh command line for that folder
    local root
    root=$(dirname "$1")
    if [[ $root == exp ]]; then echo "bash prepare-masks.sh $(basename "$1")"
    else echo "EXP_ROOT=$root bash prepare-masks.sh $(basename "$1")"
    fi
}

# ---- modes --------------------------------------------------------------------------------------
mode_single() {  # [CHECKPOINT]
    local checkpoint seed i
    checkpoint=$(from_caller "${1:-}")
    load_tasks
    [[ -z $checkpoint || -f $checkpoint ]] || die "warm-up checkpoint not found: $checkpoint"
    set_common
    plan_prunings "$checkpoint"
    run_plan
    [[ $LAUNCHER == local ]] || return 0
    for seed in "${SEED_LIST[@]}"; do
        for i in "${!TASK_IDS[@]}"; do
            echo "${TASK_NAMES[i]} ($(seed_exp "$seed")/single/cp/${TASK_IDS[i]}):"
            last_attempt "$(seed_exp "$seed")/single/logs/${TASK_IDS[i]}.log" | sed -n '/^ *round  *% kept/,$p'
        done
        echo "next: $(masks_command "$(seed_exp "$seed")") [auto | one round per task:$(printf ' K_%s' "${TASK_NAMES[@]}")]"
    done
}

mode_mtl() {  # [MASKDIR]
    local maskdir seed masks
    maskdir=$(from_caller "${1:-}")
    load_tasks
    [[ -z $maskdir || -d $maskdir ]] || die "masks folder not found: $maskdir"
    set_common
    new_stage "sparse sharing (train_mtl.py --masks_path)"
    for seed in "${SEED_LIST[@]}"; do
        [[ -n $maskdir ]] || need_masks "$(seed_exp "$seed")"
        masks=${maskdir:-$(seed_exp "$seed")/mtl/mask}
        plan_mtl_run "$seed" "$NAME" --masks_path "$masks"
    done
    run_plan
}

mode_warmup() {
    local epochs seed
    load_tasks
    set_common
    case $PRESET in paper) epochs=10 ;; *) epochs=1 ;; esac
    epochs=${WARMUP_EPOCHS:-$epochs}
    new_stage "multi-task warm-up (hard sharing, $epochs epochs)"
    for seed in "${SEED_LIST[@]}"; do
        plan_mtl_run "$seed" "$NAME-warmup" --epochs "$epochs"
    done
    run_plan
    for seed in "${SEED_LIST[@]}"; do
        echo "warm-up checkpoint: $(seed_exp "$seed")/mtl/cp/$NAME-warmup/best.th"
        echo "next: $RUN_SCRIPT single $(seed_exp "$seed")/mtl/cp/$NAME-warmup/best.th"
    done
}

mode_baselines() {
    local seed
    load_tasks
    for seed in "${SEED_LIST[@]}"; do need_masks "$(seed_exp "$seed")"; done
    set_common
    plan_baselines
    plan_tables
    run_plan
}

mode_all() {
    load_tasks
    set_common
    plan_prunings
    plan_masks
    plan_baselines
    plan_tables
    run_plan
}

prepare_data_if_missing() {
    [[ -f $DATA ]] && return 0
    echo "== preparing $DATA: prepare-data.py ${PREPARE_ARGS[*]}"
    if ! "$PY" prepare-data.py "${PREPARE_ARGS[@]}" --out "$(dirname "$DATA")"; then
        [[ $SETTING != conll03 ]] || echo "The demo needs the CoNLL-2003 files train.txt, dev.txt" \
            "and test.txt in data/raw/conll03/ (inside the repository) or in ../shared/data/conll03/" \
            "(beside it)." >&2
        [[ ${PREPARE_ARGS[0]} == --tasks ]] && die "no prepared data: prepare-data.py refused $TASK_SET_FILE (above)"
        die "no prepared data; see docs/data.md, \"Getting the corpora\""
    fi
}

demo_settings() {  # after check_settings: the user's own settings are checked as given
    [[ -z $PRESET_GIVEN || $PRESET_GIVEN == demo ]] ||
        die "demo mode runs PRESET=demo; got PRESET=$PRESET_GIVEN (the mode \`all\` runs another preset)"
    PRESET=demo
    NAME=demo
    # Small batches gain little from a second thread, and threads contend with the other runs.
    THREADS=${THREADS:-1}
    EXP=${DEMO_EXP:-exp/$SETTING$(encoder_suffix)-demo}
    [[ ! -e $EXP || ${RESUME:-0} == 1 || ${OVERWRITE:-0} == 1 ]] ||
        die "$EXP holds an earlier demo; RESUME=1 continues it, OVERWRITE=1 replaces it," \
            "DEMO_EXP=FOLDER runs the demo in another folder"
}

mode_demo() {  # `all` with the demo settings, in its own folder: an earlier one is kept
    # unless RESUME=1 (continued) or OVERWRITE=1 (replaced)
    if [[ -e $EXP && ${OVERWRITE:-0} == 1 ]]; then   # (demo_settings refused it otherwise)
        "$PY" -m utils.folders remove "$EXP" || exit 2
    fi
    "$PY" -m utils.folders mark "$EXP" || exit 2   # what OVERWRITE=1 may remove later
    prepare_data_if_missing
    mode_all
}

usage() {
    sed -n '/^#   single/,/^#   status/p' scripts/run_common.sh | sed 's/^#//' >&2
    die "usage: $RUN_SCRIPT single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status"
}

describe() {  # the first line of a call: what runs where
    local where
    if [[ $LAUNCHER == slurm ]]; then
        where="Slurm${SBATCH_ARGS:+ (sbatch $SBATCH_ARGS)}${SBATCH_TRAIN_ARGS:+, training jobs $SBATCH_TRAIN_ARGS}, device $DEVICE"
    elif (( ${#GPU_LIST[@]} > 0 )); then
        where="GPUs ${GPU_LIST[*]} ($RUNS_PER_GPU run(s) each), $CORES cores"
    else
        where="$CORES cores"
    fi
    echo "$SETTING: $1, preset $PRESET, run $NAME, seed(s) ${SEED_LIST[*]}, $where, output $EXP"
}

run_main() {
    local mode=${1:-}
    [[ $# -gt 0 ]] && shift
    case $mode in
        single | mtl | warmup | baselines | demo | all | status) ;;
        *) usage ;;
    esac
    [[ $LAUNCHER == local || $LAUNCHER == slurm ]] || die "LAUNCHER must be local or slurm, got '$LAUNCHER'"
    read_encoder
    choose_baselines
    read_setting
    if [[ $mode == status ]]; then mode_status; return; fi
    choose_seeds
    choose_devices
    check_settings
    [[ $mode != demo ]] || demo_settings
    describe "$mode"
    "mode_$mode" "$@"
    if [[ $LAUNCHER == slurm ]]; then
        echo "$mode submitted in $SECONDS s"
    else
        echo "$mode done in $(( SECONDS / 60 )) min $(( SECONDS % 60 )) s"
    fi
}
