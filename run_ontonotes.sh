#!/usr/bin/env bash
# The ontonotes setting: bash run_ontonotes.sh single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status
# (PRESET=paper|cpu|demo, NAME=run name, SEEDS, GPUS, LAUNCHER=slurm, ...: see scripts/run_common.sh
# and docs/workflow.md).
SETTING=ontonotes
TRAINER=seq-label   # multi-task batch schedule
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
