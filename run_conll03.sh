#!/usr/bin/env bash
# The conll03 setting: bash run_conll03.sh single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status
# (PRESET=paper|cpu|demo, NAME=run name, SEEDS, GPUS, LAUNCHER=slurm, ...: see scripts/run_common.sh
# and docs/workflow.md).
SETTING=conll03
TRAINER=seq-label   # multi-task batch schedule
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
