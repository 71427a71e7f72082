#!/usr/bin/env bash
# The ptb setting: bash run_ptb.sh single [CHECKPOINT] | mtl [MASKDIR] | warmup | baselines | demo | all | status
# (PRESET=paper|cpu|demo, NAME=run name, SEEDS, GPUS, LAUNCHER=slurm, ...: see scripts/run_common.sh
# and docs/workflow.md).
SETTING=ptb
TRAINER=re-seq-label   # multi-task batch schedule
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
