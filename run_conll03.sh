#!/usr/bin/env bash
# The conll03 setting: bash run_conll03.sh single [CHECKPOINT] | mtl | warmup | baselines | demo | all
# (PRESET=paper|cpu|demo, NAME=run name; see scripts/run_common.sh and README, "Workflow").
SETTING=conll03
TRAINER=seq-label   # multi-task batch schedule
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
