#!/usr/bin/env bash
# A setting of your own, described by a task-set file (docs/own-tasks.md):
#   bash run_tasks.sh FILE.toml single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status
# The file names the setting (data/<name>.pt, exp/<name>/), its tasks and its multi-task batch
# schedule; PRESET, NAME, SEEDS, GPUS, LAUNCHER=slurm, ... work as for the built-in settings (see
# scripts/run_common.sh and docs/workflow.md).
if [[ $# -lt 1 || $1 != *.toml ]]; then
    echo "usage: bash run_tasks.sh FILE.toml single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status" >&2
    exit 2
fi
TASK_SET_FILE=$1
RUN_SCRIPT="bash run_tasks.sh $1"
shift
source "$(dirname "$0")/scripts/run_common.sh"
TASK_SET_FILE=$(from_caller "$TASK_SET_FILE")
run_main "$@"
