#!/usr/bin/env bash
# Place one mask per task (and the rewind point) for multi-task training:
#   bash prepare-masks.sh SETTING                 # the rounds of MASK_LIST below
#   bash prepare-masks.sh SETTING K1 K2 ... KN    # one round per task, in task order
#   bash prepare-masks.sh SETTING auto            # chosen from the dev scores
# SETTING names the folder exp/SETTING (conll03, ptb, ontonotes, your own, or e.g. conll03-demo).
# Reads exp/SETTING/single/cp/<task_id>/ for every task of the data file the pruning runs were
# trained on, writes exp/SETTING/mtl/mask/. `auto` takes, per task, the sparsest round whose dev
# score is within AUTO_MARGIN points (default 0.5) of its best round. Every chosen mask is read and
# checked first; exp/SETTING/mtl/mask/ is then replaced whole.

# The pruning round chosen for each task, in task order: edit it, set MASK_LIST="10 8 12" in the
# environment, or give the rounds on the command line. The original's: round 10 for all three.
if [[ -n ${MASK_LIST:-} ]]; then read -r -a MASK_LIST <<<"$MASK_LIST"; else MASK_LIST=(10 10 10); fi

set -euo pipefail
cd "$(dirname "$0")"
PY=.venv/bin/python
[[ -x $PY ]] || PY=python3

usage() { echo "usage: bash prepare-masks.sh SETTING [auto | K1 K2 ... (one round per task)]" >&2; exit 2; }
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
else
    for k in "$@"; do [[ $k =~ ^[0-9]+$ ]] || usage; done
    choice=(--rounds "$@")
fi
for k in "${choice[@]:1}"; do
    [[ ${choice[0]} != --rounds || $k =~ ^[0-9]+$ ]] || { echo "error: MASK_LIST must hold whole numbers, got '${MASK_LIST[*]}'" >&2; exit 2; }
done
exec "$PY" -m utils.subnetworks.mask_select --exp "$EXP" "${choice[@]}"
