#!/usr/bin/env bash
# Place one mask per task (and the rewind point) for multi-task training:
#   bash prepare-masks.sh SETTING                         # rounds from MASK_LIST below
#   bash prepare-masks.sh SETTING K_POS K_CHUNK K_NER     # rounds given here
#   bash prepare-masks.sh SETTING auto                    # chosen from the dev scores
# SETTING names the folder exp/SETTING (conll03, ptb, ontonotes, or e.g. conll03-demo).
# Reads exp/SETTING/single/cp/{0,1,2}/, writes exp/SETTING/mtl/mask/. `auto` takes, per task, the
# sparsest round whose dev score is within AUTO_MARGIN points (default 0.5) of its best round.
# Every chosen mask is read and checked first; exp/SETTING/mtl/mask/ is then replaced whole.

# The pruning round chosen for POS, chunking and NER (edit, or give the rounds on the command line).
MASK_LIST=(10 10 10)

set -euo pipefail
cd "$(dirname "$0")"
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3

usage() { echo "usage: bash prepare-masks.sh SETTING [auto | K_POS K_CHUNK K_NER]" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
SETTING=$1
shift
if [[ -z $SETTING || $SETTING == */* || $SETTING == . || $SETTING == .. ]]; then
    echo "error: SETTING must be a folder name under ${EXP_ROOT:-exp}/ (e.g. conll03), got '$SETTING'" >&2
    exit 2
fi
EXP="${EXP_ROOT:-exp}/$SETTING"

if [[ $# -eq 0 ]]; then
    choice=(--rounds "${MASK_LIST[@]}")
elif [[ $# -eq 1 && $1 == auto ]]; then
    choice=(--auto --margin "${AUTO_MARGIN:-0.5}")
elif [[ $# -eq 3 ]]; then
    for k in "$@"; do [[ $k =~ ^[0-9]+$ ]] || usage; done
    choice=(--rounds "$@")
else
    usage
fi
exec "$PY" -m utils.sparsity.mask_select --exp "$EXP" --tasks 0 1 2 --names pos chunk ner "${choice[@]}"
