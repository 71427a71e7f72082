#!/usr/bin/env bash
# One run of the run scripts as a Slurm job (scripts/launch_slurm.sh submits it):
#   sbatch [OPTIONS] scripts/slurm_job.sh KIND STATE_DIR COMMAND...
# Writes STATE_DIR/<job id>: "started T0" when it starts, then "ok T0 T1" or "failed CODE T0 T1"
# (times in seconds since 1970), which `run_<setting>.sh status` and RESUME=1 read. A training
# run (KIND train) gets --num_threads from its allocation; when Slurm runs it again after a
# requeue or preemption it continues from its last finished epoch (--resume in place of
# --overwrite) instead of starting over.
set -uo pipefail
kind=$1
state=$2/${SLURM_JOB_ID:?slurm_job.sh runs inside a Slurm job}
shift 2

command=()
if [[ $kind == train ]]; then
    for arg in "$@"; do
        if (( ${SLURM_RESTART_COUNT:-0} > 0 )) && [[ $arg == --overwrite || $arg == --resume ]]; then
            continue
        fi
        command+=("$arg")
    done
    (( ${SLURM_RESTART_COUNT:-0} == 0 )) || command+=(--resume)
    command+=(--num_threads "${SLURM_CPUS_PER_TASK:-1}")
else
    command=("$@")
fi

record() {  # atomically, so that a reader never sees half a line
    printf '%s\n' "$*" >"$state.tmp" && mv "$state.tmp" "$state"
}

start=$(date +%s.%N)
record started "$start"
echo "== job $SLURM_JOB_ID ($SLURM_JOB_NAME) on $(hostname), $(date -Iseconds), restart ${SLURM_RESTART_COUNT:-0}"
echo "== ${command[*]}"
"${command[@]}"
code=$?
if (( code == 0 )); then
    record ok "$start" "$(date +%s.%N)"
else
    record failed "$code" "$start" "$(date +%s.%N)"
    echo "FAILED: $SLURM_JOB_NAME (job $SLURM_JOB_ID, exit code $code)" >&2
fi
exit "$code"
