# The stages of the run scripts' modes (scripts/run_common.sh): each adds its runs to the plan
# (scripts/plan.sh): the prunings, the mask choice, one multi-task run, the baselines and the
# tables. They read the settings run_common.sh sets (SEED_LIST, COMMON, EXTRA, NAME, ...).

plan_prunings() {  # plan_prunings [CHECKPOINT]: one train_single.py run per task and seed
    local checkpoint=${1:-} seed i dir
    new_stage "single-task pruning (train_single.py), ${#TASK_IDS[@]} tasks x ${#SEED_LIST[@]} seed(s) in parallel" \
        "${#TASK_IDS[@]}"
    for seed in "${SEED_LIST[@]}"; do
        dir=$(seed_exp "$seed")/single
        for i in "${!TASK_IDS[@]}"; do
            plan_run train "$seed" "prune-${TASK_NAMES[i]}" "$dir/logs/${TASK_IDS[i]}.log" \
                "$PY" train_single.py "${COMMON[@]}" --seed "$seed" --task_id "${TASK_IDS[i]}" \
                --save_dir "$dir" --exp_name "${TASK_IDS[i]}" \
                ${checkpoint:+--init_weights "$checkpoint"} "${EXTRA[@]}" "${SINGLE_EXTRA[@]}"
        done
    done
}

plan_masks() {  # one prepare-masks.sh auto per seed
    local seed dir
    new_stage "masks chosen by dev score (prepare-masks.sh auto)"
    for seed in "${SEED_LIST[@]}"; do
        dir=$(seed_exp "$seed")
        plan_run step "$seed" masks "$dir/mtl/logs/masks.log" \
            env EXP_ROOT="$(dirname "$dir")" ${AUTO_MARGIN:+AUTO_MARGIN="$AUTO_MARGIN"} \
            bash prepare-masks.sh "$(basename "$dir")" auto
    done
}

plan_mtl_run() {  # plan_mtl_run SEED RUN_NAME [ARGS...]: one train_mtl.py run
    local seed=$1 name=$2 dir
    shift 2
    dir=$(seed_exp "$seed")/mtl
    plan_run train "$seed" "$name" "$dir/logs/$name.log" \
        "$PY" train_mtl.py "${COMMON[@]}" --seed "$seed" --trainer "$TRAINER" --save_dir "$dir" \
        --exp_name "$name" "$@" "${EXTRA[@]}" "${MTL_EXTRA[@]}"
}

plan_baselines() {  # every baseline of every seed; a finished run (results.json) is reused
    local seed masks entry column suffix args arg list name i
    local columns="${BASELINE_RUNS[*]//|*/}"
    (( SINGLE_COLUMN == 0 )) || columns="single-task${columns:+ and $columns}"
    new_stage "baselines: $columns (train_mtl.py)"
    for seed in "${SEED_LIST[@]}"; do
        masks=$(seed_exp "$seed")/mtl/mask
        for entry in "${BASELINE_RUNS[@]}"; do
            IFS='|' read -r column suffix args <<<"$entry"
            list=()
            for arg in $args; do
                if [[ $arg == MASKS ]]; then list+=("$masks"); else list+=("$arg"); fi
            done
            plan_reusable "$seed" "$NAME$suffix" "${list[@]}" --init_weights "$masks/init_weights.th"
        done
        (( SINGLE_COLUMN == 1 )) || continue
        for i in "${!TASK_IDS[@]}"; do
            plan_reusable "$seed" "$NAME-single-${TASK_NAMES[i]}" --tasks "${TASK_IDS[i]}" \
                --init_weights "$masks/init_weights.th"
        done
    done
}

plan_reusable() {  # plan_reusable SEED RUN_NAME [ARGS...]: plan_mtl_run, unless it has finished
    local dir
    dir=$(seed_exp "$1")/mtl/cp/$2
    if finished "$dir"; then
        "$PY" -m utils.training.reuse "$dir" || exit 2     # its inputs must be those it was built from
        echo "reusing $2: $dir"
        # and again when due: a masks stage of this plan may choose other masks meanwhile
        plan_run step "$1" "inputs of $2" "$(seed_exp "$1")/mtl/logs/reuse.log" \
            "$PY" -m utils.training.reuse "$dir"
    else
        plan_mtl_run "$@"
    fi
}

table_columns() {  # table_columns DIR: COLUMNS, results_table's column specs for DIR/mtl/cp
    local cp=$1/mtl/cp singles="" entry column suffix task
    COLUMNS=()
    if (( SINGLE_COLUMN == 1 )); then
        for task in "${TASK_NAMES[@]}"; do singles+="${singles:+,}$cp/$NAME-single-$task"; done
        COLUMNS=("single=$singles")
    fi
    for entry in "${BASELINE_RUNS[@]}"; do
        IFS='|' read -r column suffix _ <<<"$entry"
        COLUMNS+=("$column=$cp/$NAME$suffix")
    done
}

plan_tables() {  # one table per seed, and with several seeds their mean +- std
    local seed dir title="$SETTING, preset $PRESET, run $NAME"
    new_stage "results table"
    for seed in "${SEED_LIST[@]}"; do
        dir=$(seed_exp "$seed")
        table_columns "$dir"
        plan_run step "$seed" table "$dir/mtl/logs/$NAME-table.log" \
            "$PY" -m utils.results.results_table "${COLUMNS[@]}" --tasks "${TASK_NAMES[@]}" \
            --title "$title, seed $seed: test scores at the epoch selected on dev" \
            --out "$dir/mtl/$NAME-table.md" --json "$dir/mtl/$NAME-table.json"
    done
    (( ${#SEED_LIST[@]} > 1 )) || return 0
    new_stage "results table over the seeds"
    table_columns "$EXP/seed-{seed}"
    plan_run step "*" table-seeds "$EXP/logs/$NAME-table.log" \
        "$PY" -m utils.results.results_table "${COLUMNS[@]}" --tasks "${TASK_NAMES[@]}" --seeds "${SEED_LIST[@]}" \
        --title "$title, seeds ${SEED_LIST[*]}: mean ± sample std of the test scores at the epoch selected on dev" \
        --out "$EXP/$NAME-table.md" --json "$EXP/$NAME-table.json"
}
