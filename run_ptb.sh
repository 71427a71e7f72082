#!/usr/bin/env bash
# The ptb setting: bash run_ptb.sh single [CHECKPOINT] | mtl | warmup | baselines | demo | all
# (PRESET=paper|cpu|demo, NAME=run name; see scripts/run_common.sh and README, "Workflow").
SETTING=ptb
TRAINER=re-seq-label   # multi-task batch schedule
source "$(dirname "$0")/scripts/run_common.sh"
run_main "$@"
