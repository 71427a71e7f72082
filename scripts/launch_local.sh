# The local launcher: carries out the plan (scripts/plan.sh) on this machine, stage after stage.
# The training runs of a stage go side by side: with GPUs, one run per GPU of GPU_LIST at a time
# (RUNS_PER_GPU to put more on each), pinned with CUDA_VISIBLE_DEVICES; on the CPU, JOBS at once
# (default the cores, at least the stage's MIN_JOBS). Each gets THREADS torch threads (default
# the cores divided among the runs going at once). Steps, and a stage of a single run, run in the
# foreground with their output shown and logged. Each attempt is appended to its log. A failed
# run fails the script after its stage, named, with the end of its log.
#
# Needs: CORES, GPU_LIST (array, empty for the CPU), RUNS_PER_GPU, JOBS and THREADS (may be
# unset), die().

declare -A JOB_NAME=() JOB_LOG=() JOB_SLOT=()
SLOT_GPU=() SLOT_BUSY=()
FAILED=()
trap 'stop_runs 130' INT
trap 'stop_runs 143' TERM

stop_runs() {  # stop_runs EXIT_CODE: Ctrl-C or SIGTERM stops every run going and starts no other
    local pid
    trap - INT TERM
    for pid in "${!JOB_NAME[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${!JOB_NAME[@]}"; do wait "$pid" 2>/dev/null || true; done
    (( ${#JOB_NAME[@]} == 0 )) || echo "stopped: ${JOB_NAME[*]}" >&2
    exit "$1"
}

visible_gpus() {  # the GPUs this process may use: CUDA_VISIBLE_DEVICES when set, else nvidia-smi's
    local gpu
    if [[ -n ${CUDA_VISIBLE_DEVICES+set} ]]; then
        for gpu in ${CUDA_VISIBLE_DEVICES//,/ }; do
            [[ $gpu == -* ]] || echo "$gpu"           # "-1" hides every GPU
        done
    elif command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | grep -E '^[0-9]+$' || true
    fi
}

make_slots() {  # make_slots CPU_JOBS: one slot per run that may go at once (a GPU id, or "")
    local r gpu
    SLOT_GPU=()
    if (( ${#GPU_LIST[@]} > 0 )); then
        for (( r = 0; r < RUNS_PER_GPU; r++ )); do    # GPU after GPU, then a second run on each
            for gpu in "${GPU_LIST[@]}"; do SLOT_GPU+=("$gpu"); done
        done
    else
        for (( r = 0; r < $1; r++ )); do SLOT_GPU+=(""); done
    fi
    SLOT_BUSY=()
    for r in "${!SLOT_GPU[@]}"; do SLOT_BUSY[r]=0; done
}

threads_per_run() {  # threads_per_run N_RUNS: THREADS, else the cores divided among those at once
    local at_once=$(( $1 < ${#SLOT_GPU[@]} ? $1 : ${#SLOT_GPU[@]} ))
    local n=${THREADS:-$(( CORES / (at_once > 0 ? at_once : 1) ))}
    echo $(( n > 0 ? n : 1 ))
}

free_slot() {
    local s
    for s in "${!SLOT_BUSY[@]}"; do
        if [[ ${SLOT_BUSY[s]} == 0 ]]; then echo "$s"; return 0; fi
    done
    return 1
}

exec_pinned() {  # exec_pinned GPU COMMAND...: become the command, seeing only that GPU ("": all)
    # Called in a subshell (a background run, a pipeline): the command replaces it, so the pid
    # the launcher holds is the run's own, and stopping it stops the run, not a shell above it.
    [[ -z $1 ]] || export CUDA_VISIBLE_DEVICES=$1
    shift
    exec "$@"
}

spawn() {  # spawn NAME LOG COMMAND...: start it in the background on a free slot, logged
    local name=$1 log=$2 slot where=""
    shift 2
    until slot=$(free_slot); do reap_one; done
    log_attempt "$log" "$name"
    exec_pinned "${SLOT_GPU[slot]}" "$@" >>"$log" 2>&1 &
    JOB_NAME[$!]=$name
    JOB_LOG[$!]=$log
    JOB_SLOT[$!]=$slot
    SLOT_BUSY[slot]=1
    [[ -z ${SLOT_GPU[slot]} ]] || where=" on GPU ${SLOT_GPU[slot]}"
    echo "started $name$where (pid $!), log: $log"
}

reap_one() {  # wait until a run ends, report it and free its slot
    local pid rc
    while :; do
        for pid in "${!JOB_NAME[@]}"; do
            # Polled: `wait -n` loses a run that ends together with another one.
            if kill -0 "$pid" 2>/dev/null; then continue; fi
            rc=0
            wait "$pid" || rc=$?
            if (( rc == 0 )); then
                echo "finished ${JOB_NAME[$pid]}"
            else
                FAILED+=("${JOB_NAME[$pid]}")
                { echo "FAILED: ${JOB_NAME[$pid]} (exit code $rc); last lines of ${JOB_LOG[$pid]}:"
                  tail -n 15 "${JOB_LOG[$pid]}" | sed 's/^/    /'; } >&2
            fi
            SLOT_BUSY[${JOB_SLOT[$pid]}]=0
            unset "JOB_NAME[$pid]" "JOB_LOG[$pid]" "JOB_SLOT[$pid]"
            return 0
        done
        sleep 0.2
    done
}

wait_all() {
    while (( ${#JOB_NAME[@]} > 0 )); do reap_one; done
    if (( ${#FAILED[@]} > 0 )); then
        echo "error: ${#FAILED[@]} run(s) failed: ${FAILED[*]}" >&2
        exit 1
    fi
}

run_foreground() {  # run_foreground NAME LOG GPU COMMAND...: output shown and logged
    local name=$1 log=$2 gpu=$3 rc=0
    shift 3
    log_attempt "$log" "$name"
    exec_pinned "$gpu" "$@" 2>&1 | tee -a "$log" || rc=$?
    if (( rc != 0 )); then
        echo "error: $name failed (exit code $rc); its log: $log" >&2
        exit "$rc"
    fi
}

run_plan_local() {
    local stage i runs n_train threads shown=0
    for (( stage = 1; stage <= N_STAGES; stage++ )); do
        mapfile -t runs < <(stage_runs "$stage")
        (( ${#runs[@]} > 0 )) || continue
        n_train=0
        for i in "${runs[@]}"; do
            if [[ ${PLAN_KIND[i]} == train ]]; then n_train=$((n_train + 1)); fi
        done
        shown=$((shown + 1))
        (( N_STAGES == 1 )) || echo "== $shown. ${STAGE_TITLE[stage]}"
        make_slots "${JOBS:-$(( CORES > STAGE_MIN_JOBS[stage] ? CORES : STAGE_MIN_JOBS[stage] ))}"
        threads=$(threads_per_run "$n_train")
        for i in "${runs[@]}"; do
            plan_command "$i"
            if [[ ${PLAN_KIND[i]} == step ]]; then
                run_foreground "$(run_name "$i")" "${PLAN_LOG[i]}" "" "${CMD[@]}"
            elif (( ${#runs[@]} == 1 )); then
                run_foreground "$(run_name "$i")" "${PLAN_LOG[i]}" "${SLOT_GPU[0]}" "${CMD[@]}" \
                    --num_threads "$threads"
            else
                CMD+=(--num_threads "$threads")
                spawn "$(run_name "$i")" "${PLAN_LOG[i]}" "${CMD[@]}"
            fi
        done
        wait_all
    done
}
