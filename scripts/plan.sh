# The plan of one run-script call: the runs to make, in stages, each with its kind, seed, label,
# log and command. The modes (scripts/run_common.sh) fill it; a launcher carries it out, on this
# machine (scripts/launch_local.sh) or as Slurm jobs (scripts/launch_slurm.sh).
#
# A run waits for the runs of the nearest earlier stage that has runs of its seed; a run of seed
# "*" (e.g. the table over all seeds) belongs to every seed. Kinds: "train" (train_single.py,
# train_mtl.py: the launcher gives it a CPU or GPU share and appends `--num_threads N`) and
# "step" (mask selection, tables: light, one thread). Logs are appended to, one attempt after
# the other (log_attempt, last_attempt), never replaced.

PLAN_STAGE=() PLAN_KIND=() PLAN_SEED=() PLAN_LABEL=() PLAN_LOG=() PLAN_CMD=()
STAGE_TITLE=() STAGE_MIN_JOBS=()
N_STAGES=0
SEED_IN_NAMES=0     # 1: run names carry their seed (several seeds, or SEEDS given)

new_stage() {  # new_stage TITLE [MIN_JOBS]: the runs planned next wait for those planned before;
               # MIN_JOBS: how many of its CPU runs may go at once even on fewer cores
    N_STAGES=$((N_STAGES + 1))
    STAGE_TITLE[N_STAGES]=$1
    STAGE_MIN_JOBS[N_STAGES]=${2:-1}
}

plan_run() {  # plan_run KIND SEED LABEL LOG COMMAND...
    PLAN_STAGE+=("$N_STAGES")
    PLAN_KIND+=("$1")
    PLAN_SEED+=("$2")
    PLAN_LABEL+=("$3")
    PLAN_LOG+=("$4")
    shift 4
    PLAN_CMD+=("$(printf '%q ' "$@")")
}

plan_command() {  # plan_command I: CMD = the command of run I, as an array
    eval "CMD=(${PLAN_CMD[$1]})"
}

run_name() {  # run_name I: the run's label, with its seed when the names carry seeds
    local seed=${PLAN_SEED[$1]}
    if [[ $SEED_IN_NAMES == 1 && $seed != "*" ]]; then
        echo "${PLAN_LABEL[$1]} (seed $seed)"
    else
        echo "${PLAN_LABEL[$1]}"
    fi
}

stage_runs() {  # stage_runs S: the indices of the runs of stage S
    local i
    for i in "${!PLAN_STAGE[@]}"; do
        if [[ ${PLAN_STAGE[i]} == "$1" ]]; then echo "$i"; fi
    done
}

waits_for() {  # waits_for I: the runs that run I waits for (the nearest earlier stage with runs
               # of its seed)
    local i=$1 j stage=0 found=()
    for j in "${!PLAN_STAGE[@]}"; do
        if (( PLAN_STAGE[j] < PLAN_STAGE[i] )) && same_seed "$i" "$j"; then
            if (( PLAN_STAGE[j] > stage )); then stage=${PLAN_STAGE[j]}; found=(); fi
            if (( PLAN_STAGE[j] == stage )); then found+=("$j"); fi
        fi
    done
    echo "${found[@]}"
}

same_seed() {
    [[ ${PLAN_SEED[$1]} == "${PLAN_SEED[$2]}" || ${PLAN_SEED[$1]} == "*" || ${PLAN_SEED[$2]} == "*" ]]
}

# ---- logs: every attempt appends to its run's log, so a finished run's log is never lost ------------
ATTEMPT_MARK="==> attempt"

log_attempt() {  # log_attempt LOG LABEL: open a new attempt in LOG, after what earlier ones wrote
    mkdir -p "$(dirname "$1")"
    echo "$ATTEMPT_MARK $(date '+%Y-%m-%d %H:%M:%S'): $2" >>"$1"
}

last_attempt() {  # last_attempt LOG: what the latest attempt wrote in LOG
    awk -v mark="$ATTEMPT_MARK" 'index($0, mark) == 1 { text = ""; next } { text = text $0 "\n" }
                                 END { printf "%s", text }' "$1"
}
