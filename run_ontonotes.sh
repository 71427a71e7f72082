#!/usr/bin/env bash
# The ontonotes setting: bash run_ontonotes.sh single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status
# (PRESET=paper|cpu|demo, NAME=run name, SEEDS, GPUS, LAUNCHER=slurm, ...: see scripts/run_common.sh
# and docs/workflow.md). The same as `bash run_tasks.sh settings/ontonotes.toml ...`.
TASK_SET_FILE=settings/ontonotes.toml   # the tasks, their corpora and the multi-task batch schedule
RUN_SCRIPT="bash run_ontonotes.sh"
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
