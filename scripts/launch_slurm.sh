# The Slurm launcher: submits every run of the plan (scripts/plan.sh) as its own sbatch job and
# returns; a run waits (afterok) for the jobs of the runs it waits for, so a failed job cancels
# its dependants. Logs go where the local launcher writes them. SBATCH_ARGS go to every job
# (partition, time, account, ...), SBATCH_TRAIN_ARGS to the training runs only (e.g.
# --gres=gpu:1); each job asks for THREADS CPUs (default 1). Jobs run scripts/slurm_job.sh,
# which records each job's start, end and exit code in $EXP/slurm/state/<job id>;
# $EXP/slurm/jobs.tsv lists every submission. RESUME=1 submits only the runs that have not
# finished, waiting for those still queued from an earlier submission.
#
# Needs: EXP, SETTING, RUN_SCRIPT, NAME, RESUME (may be unset), die().

SLURM_FIELDS="job_id	seed	run	stage	log	after	submitted"

slurm_dir() { echo "$EXP/slurm"; }

live_jobs() {  # the job ids of this user still pending or running
    squeue -h -u "$(id -un)" -o '%i' 2>/dev/null || true
}

last_job() {  # last_job SEED LABEL: the job id of the run's latest submission (none: empty)
    local ledger
    ledger=$(slurm_dir)/jobs.tsv
    [[ -f $ledger ]] || return 0
    awk -F'\t' -v seed="$1" -v run="$2" '$2 == seed && $3 == run { id = $1 } END { print id }' "$ledger"
}

job_record() {  # job_record JOB_ID: what slurm_job.sh recorded ("started T", "ok T0 T1",
                # "failed CODE T0 T1"), or nothing
    local file
    file=$(slurm_dir)/state/$1
    [[ -f $file ]] && cat "$file"
    return 0
}

job_name() {  # job_name I: the Slurm job name of run I
    local name="$SETTING-$NAME-${PLAN_LABEL[$1]}"
    [[ $SEED_IN_NAMES == 1 && ${PLAN_SEED[$1]} != "*" ]] && name+="-seed${PLAN_SEED[$1]}"
    echo "${name// /-}"
}

submit_job() {  # submit_job I AFTER: sbatch run I after the jobs in AFTER (colon-separated)
    local i=$1 after=$2 log=${PLAN_LOG[$1]} options id
    options=(--parsable --job-name="$(job_name "$i")" --output="$log" --open-mode=append
             --chdir="$PWD" --requeue --kill-on-invalid-dep=yes)
    [[ -z $after ]] || options+=(--dependency="afterok:$after")
    if [[ ${PLAN_KIND[i]} == train ]]; then           # the user's options last: they win
        options+=(--cpus-per-task="${THREADS:-1}" "${SBATCH_ALL[@]}" "${SBATCH_TRAIN[@]}")
    else
        options+=(--cpus-per-task=1 "${SBATCH_ALL[@]}")
    fi
    log_attempt "$log" "$(run_name "$i"), submitted to Slurm"
    plan_command "$i"
    id=$(sbatch "${options[@]}" scripts/slurm_job.sh "${PLAN_KIND[i]}" \
         "$(slurm_dir)/state" "${CMD[@]}") || die "sbatch refused $(run_name "$i"); nothing more submitted"
    id=${id%%;*}                                    # "id;cluster" on multi-cluster set-ups
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "${PLAN_SEED[i]}" "${PLAN_LABEL[i]}" \
        "${PLAN_STAGE[i]}" "$log" "$after" "$(date -Iseconds)" >>"$(slurm_dir)/jobs.tsv"
    JOB_OF[$i]=$id
    SUBMITTED+=("$id")
    echo "submitted $(run_name "$i"): job $id${after:+, after ${after//:/ }}; log $log"
}

run_plan_slurm() {
    local i j after previous record live
    command -v sbatch >/dev/null || die "LAUNCHER=slurm needs Slurm's sbatch on PATH"
    read -r -a SBATCH_ALL <<<"${SBATCH_ARGS:-}"
    read -r -a SBATCH_TRAIN <<<"${SBATCH_TRAIN_ARGS:-}"
    mkdir -p "$(slurm_dir)/state"
    [[ -f $(slurm_dir)/jobs.tsv ]] || echo "$SLURM_FIELDS" >"$(slurm_dir)/jobs.tsv"
    live=" $(live_jobs | tr '\n' ' ') "
    declare -gA JOB_OF=()      # run index -> its job id (submitted now, or still queued)
    SUBMITTED=()
    for i in "${!PLAN_STAGE[@]}"; do                # in stage order: plan_run appends in order
        if [[ ${RESUME:-0} == 1 ]]; then
            previous=$(last_job "${PLAN_SEED[i]}" "${PLAN_LABEL[i]}")
            record=$( [[ -z $previous ]] || job_record "$previous")
            if [[ $record == ok* ]]; then
                echo "finished already: $(run_name "$i") (job $previous)"
                continue
            elif [[ -n $previous && $live == *" $previous "* ]]; then
                echo "still queued: $(run_name "$i") (job $previous)"
                JOB_OF[$i]=$previous
                continue
            fi
        fi
        after=""
        for j in $(waits_for "$i"); do
            [[ -z ${JOB_OF[$j]:-} ]] || after+="${after:+:}${JOB_OF[$j]}"
        done
        submit_job "$i" "$after"
    done
    if (( ${#JOB_OF[@]} == 0 )); then
        echo "nothing to submit: every run has finished"
        return 0
    fi
    echo "submitted ${#SUBMITTED[@]} job(s): ${SUBMITTED[*]}"
    echo "follow them: squeue -j $(IFS=,; echo "${JOB_OF[*]}")"
    echo "        or:  EXP=$EXP $RUN_SCRIPT status"
}

# ---- status: the latest job of every run, from the ledger, the job records and squeue ----------
job_state() {  # job_state JOB_ID LIVE_STATES: one line, the job's state in words
    local id=$1 record fields line
    record=$(job_record "$id")
    read -r -a fields <<<"$record"
    line=$(grep -m1 "^$id " <<<"$2" || true)
    case ${fields[0]:-} in
        ok) echo "done ($(elapsed "${fields[1]}" "${fields[2]}"))" ;;
        failed) echo "FAILED (exit code ${fields[1]}, after $(elapsed "${fields[2]}" "${fields[3]}"))" ;;
        started) if [[ -n $line ]]; then echo "${line#* }"; else echo "LOST (ended without a record: killed, time limit or node failure)"; fi ;;
        *) if [[ -n $line ]]; then echo "${line#* }"; else echo "CANCELLED (a job it waits for failed, or scancel)"; fi ;;
    esac
}

elapsed() {
    awk -v a="$1" -v b="$2" 'BEGIN { s = b - a; printf "%d min %d s", s / 60, s % 60 }'
}

mode_status() {
    local ledger live id seed run log state bad=0 open=0
    ledger=$(slurm_dir)/jobs.tsv
    [[ -f $ledger ]] || die "no Slurm submissions recorded in $(slurm_dir) (submit with LAUNCHER=slurm $RUN_SCRIPT MODE)"
    live=$(squeue -h -u "$(id -un)" -o '%i %T %r' 2>/dev/null | awk '{ print $1, $2 ($3 == "None" ? "" : " (" $3 ")") }' || true)
    printf '%-8s %-6s %-28s %s\n' job seed run state
    while IFS=$'\t' read -r id seed run log; do
        state=$(job_state "$id" "$live")
        printf '%-8s %-6s %-28s %s\n' "$id" "$seed" "$run" "$state"
        case $state in
            FAILED* | LOST* | CANCELLED*) bad=$((bad + 1))
                [[ $state != FAILED* ]] || tail -n 5 "$log" | sed 's/^/           /' ;;
            done*) ;;
            *) open=$((open + 1)) ;;
        esac
    done < <(awk -F'\t' 'NR > 1 { key = $2 "\t" $3; if (!(key in last)) order[++n] = key; last[key] = $1 "\t" $2 "\t" $3 "\t" $5 }
                       END { for (k = 1; k <= n; k++) print last[order[k]] }' "$ledger")
    echo "$open pending or running, $bad failed or cancelled (logs: jobs.tsv in $(slurm_dir))"
    (( bad == 0 ))
}
