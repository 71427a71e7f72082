"""The run scripts beyond one process: runs pinned to GPUs (scripts/launch_local.sh), the Slurm job
wrapper (scripts/slurm_job.sh), SEEDS, and the demo pipeline submitted to a real Slurm
(scripts/launch_slurm.sh) against the same pipeline run locally."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from needs import unavailable
from slurm_cluster import SlurmCluster, missing_programs

REPO = Path(__file__).resolve().parents[1]


# ---- GPUs: the local launcher's assignment, with stub runs instead of training -----------------
def launch_stubs(tmp_path: Path, n_runs: int, **env: str) -> list[dict]:
    """n_runs stub training runs in one stage through the run scripts' own code (run_common.sh
    sourced as run_conll03.sh does, then its planner and local launcher). Each stub records the
    GPU it sees, its arguments and when it started and ended."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    stub = tmp_path / "stub.sh"
    stub.write_text('echo "gpu=${CUDA_VISIBLE_DEVICES-unset} start=$(date +%s.%N) args=$*"\n'
                    'sleep 0.6\necho "end=$(date +%s.%N)"\n')
    driver = f"""
        SETTING=conll03 TRAINER=seq-label
        source scripts/run_common.sh
        choose_seeds; choose_devices
        echo "device=$DEVICE"
        new_stage stubs
        for i in $(seq {n_runs}); do plan_run train 1 run$i {tmp_path}/run$i.log bash {stub}; done
        run_plan_local
    """
    full_env = {k: v for k, v in os.environ.items() if k not in ("GPUS", "CUDA_VISIBLE_DEVICES")}
    done = subprocess.run(["bash", "-c", driver], cwd=REPO, capture_output=True, text=True,
                          env={**full_env, "CORES": "4", **env}, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = []
    for i in range(1, n_runs + 1):
        header, first, last = (tmp_path / f"run{i}.log").read_text().splitlines()
        assert header.startswith("==> attempt ") and header.endswith(f": run{i}")
        fields = dict(f.split("=", 1) for f in first.split(" ", 2))
        runs.append({"gpu": fields["gpu"], "args": fields["args"], "start": float(fields["start"]),
                     "end": float(last.split("=")[1]), "stdout": done.stdout})
    return runs


def most_at_once(runs: list[dict]) -> int:
    """The largest number of these runs going at the same moment."""
    return max(sum(r["start"] <= s["start"] < r["end"] for r in runs) for s in runs)


def test_five_runs_on_two_gpus_go_one_per_gpu_each_pinned(tmp_path):
    runs = launch_stubs(tmp_path, 5, GPUS="0,1")
    assert "device=cuda" in runs[0]["stdout"]
    assert [r["gpu"] for r in runs[:2]] == ["0", "1"]          # the first two start at once
    assert {r["gpu"] for r in runs} == {"0", "1"}
    for gpu in ("0", "1"):                                      # never two on one GPU
        assert most_at_once([r for r in runs if r["gpu"] == gpu]) == 1
    assert most_at_once(runs) == 2
    assert all(r["args"] == "--num_threads 2" for r in runs)   # 4 cores shared by 2 runs at once
    assert "started run1 on GPU 0" in runs[0]["stdout"]


def test_runs_per_gpu_visible_gpus_and_cpu(tmp_path):
    runs = launch_stubs(tmp_path / "two", 5, GPUS="0,1", RUNS_PER_GPU="2")
    assert [r["gpu"] for r in runs[:4]] == ["0", "1", "0", "1"]
    assert most_at_once(runs) == 4
    for gpu in ("0", "1"):
        assert most_at_once([r for r in runs if r["gpu"] == gpu]) == 2
    # no GPUS: the GPUs CUDA_VISIBLE_DEVICES shows
    runs = launch_stubs(tmp_path / "visible", 3, CUDA_VISIBLE_DEVICES="3,5")
    assert {r["gpu"] for r in runs} == {"3", "5"} and most_at_once(runs) == 2
    # DEVICE=cpu: no pinning; JOBS runs at once, the cores shared among them
    runs = launch_stubs(tmp_path / "cpu", 3, GPUS="0,1", DEVICE="cpu", JOBS="3")
    assert "device=cpu" in runs[0]["stdout"]
    assert {r["gpu"] for r in runs} == {"unset"} and most_at_once(runs) == 3
    assert all(r["args"] == "--num_threads 1" for r in runs)


# ---- stopping: Ctrl-C or SIGTERM stops the runs going and starts no other ---------------------
STOPPABLE_STUB = """trap 'echo stopped; exit 143' TERM
echo "start args=$*"
sleep 60 & wait $!
echo end
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_launcher_stops_its_runs_and_starts_no_other(tmp_path, sig, code):
    """Three runs one at a time, then a second stage: the signal reaches the launcher during the
    first run. That run itself is stopped (not the shell above it), no later run starts, and the
    launcher ends at once with the signal's exit code."""
    stub = tmp_path / "stub.sh"
    stub.write_text(STOPPABLE_STUB)
    driver = f"""
        SETTING=conll03 TRAINER=seq-label
        source scripts/run_common.sh
        choose_seeds; choose_devices
        new_stage first
        for i in 1 2 3; do plan_run train 1 run$i {tmp_path}/run$i.log bash {stub}; done
        new_stage second
        plan_run train 1 later {tmp_path}/later.log bash {stub}
        run_plan_local
    """
    env = {k: v for k, v in os.environ.items() if k not in ("GPUS", "CUDA_VISIBLE_DEVICES")}
    launcher = subprocess.Popen(["bash", "-c", driver], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True,
                                # as from a terminal: a shell cannot trap a signal ignored at its
                                # start, and a test runner's workers may ignore SIGINT
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                                env={**env, "CORES": "2", "JOBS": "1", "DEVICE": "cpu"})
    first = tmp_path / "run1.log"
    try:
        deadline = time.monotonic() + 60
        while "start" not in (first.read_text() if first.exists() else ""):
            assert launcher.poll() is None and time.monotonic() < deadline, launcher.stdout.read()
            time.sleep(0.1)
        launcher.send_signal(sig)
        output = launcher.communicate(timeout=20)[0]
    finally:
        if launcher.poll() is None:      # a launcher that goes on: stop it and all it started
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode == code, output
    assert first.read_text().splitlines()[-1] == "stopped", output
    assert not any((tmp_path / f"{name}.log").exists() for name in ("run2", "run3", "later")), output
    assert "stopped: run1" in output


# ---- the Slurm job wrapper ---------------------------------------------------------------------
def slurm_job(tmp_path: Path, *command: str, restart: int = 0) -> tuple[subprocess.CompletedProcess, str]:
    env = {**os.environ, "SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "conll03-main-x",
           "SLURM_CPUS_PER_TASK": "3", "SLURM_RESTART_COUNT": str(restart)}
    done = subprocess.run(["bash", "scripts/slurm_job.sh", "train", str(tmp_path), *command],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=60)
    return done, (tmp_path / "7").read_text()


def test_slurm_job_records_its_end_and_resumes_when_requeued(tmp_path):
    echo_args = ("bash", "-c", 'echo "args: $*"', "run")
    done, record = slurm_job(tmp_path, *echo_args, "--epochs", "1", "--overwrite")
    assert done.returncode == 0 and "args: --epochs 1 --overwrite --num_threads 3" in done.stdout
    status, start, end = record.split()
    assert status == "ok" and float(start) <= float(end)
    # requeued (preemption, node failure): continue the run instead of replacing it
    done, _ = slurm_job(tmp_path, *echo_args, "--epochs", "1", "--overwrite", restart=1)
    assert "args: --epochs 1 --resume --num_threads 3" in done.stdout
    done, record = slurm_job(tmp_path, "bash", "-c", "exit 3")
    assert done.returncode == 3 and record.split()[:2] == ["failed", "3"]
    assert "FAILED: conll03-main-x (job 7, exit code 3)" in done.stderr


# ---- SEEDS and Slurm on the demo pipeline ------------------------------------------------------
# The demo preset with a small subset, so that two pipelines of two seeds fit the suite's time.
DEMO_ENV = {"SEEDS": "1 2", "CORES": "2", "SINGLE_ARGS": "--pruning_iter 1",
            "TRAIN_ARGS": "--hidden_size 16 --epochs 1 --train_subset 100 --eval_subset 30 "
                          "--batch_size 10 --optim adam(lr=0.01)"}


def demo(root: Path, exp: str, env: dict[str, str] | None = None,
         **extra: str) -> subprocess.CompletedProcess:
    full_env = {**(env or os.environ), **DEMO_ENV, "DATA": str(root / "data" / "conll03.pt"),
                "DEMO_EXP": str(root / exp)}
    full_env.update(extra)
    return subprocess.run(["bash", "run_conll03.sh", "demo"], cwd=REPO, capture_output=True,
                          text=True, env=full_env, timeout=900)


@pytest.fixture(scope="module")
def local_demo(tmp_path_factory, shared_data) -> Path:
    """The demo pipeline with SEEDS="1 2", run locally; the root holding data/ and local-demo/."""
    root = tmp_path_factory.mktemp("demo")
    done = demo(root, "local-demo")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "mean ± sample std" in done.stdout
    return root


def scores(table: dict) -> dict:
    """A table's JSON without what differs between two runs of the same seed: times and folders."""
    def strip(values: dict) -> dict:
        return {k: v for k, v in values.items() if k not in ("seconds", "seconds_std", "runs", "per_seed")}

    out = {}
    for column, values in table.items():
        out[column] = strip(values)
        if "per_seed" in values:
            out[column]["per_seed"] = {s: strip(p) for s, p in values["per_seed"].items()}
    return out


def test_seeds_give_one_folder_each_and_a_mean_std_table(local_demo):
    exp = local_demo / "local-demo"
    for seed in ("1", "2"):
        args = json.loads((exp / f"seed-{seed}" / "single" / "cp" / "2" / "args.json").read_text())
        assert args["seed"] == int(seed) and args["preset"] == "demo"
        assert (exp / f"seed-{seed}" / "mtl" / "demo-table.md").is_file()
    table = json.loads((exp / "demo-table.json").read_text())
    assert list(table) == ["single", "hard", "soft", "hier", "sparse"]
    for column in table.values():
        assert column["seeds"] == ["1", "2"]
        assert set(column["test"]) == set(column["test_std"]) == {"pos", "chunk", "ner"}
        per_seed = [column["per_seed"][s]["test"]["pos"] for s in ("1", "2")]
        assert column["test"]["pos"] == pytest.approx(sum(per_seed) / 2)
        assert column["test_std"]["pos"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2 ** 0.5)
    markdown = (exp / "demo-table.md").read_text().splitlines()
    below = markdown[markdown.index("|---|---|---|---|---|---|") + 1:]
    rows = below[:below.index("")] if "" in below else below
    # under the table only notes (a task at chance level in every pruning round)
    assert all(line.startswith("note: ") for line in below[len(rows):] if line)
    assert [row.split("|")[1].strip() for row in rows] == [
        "pos (acc)", "chunk (F1)", "ner (F1)", "avg (test)", "avg (dev)", "parameters", "train minutes"]
    assert all(cell.count("±") == 1 for row in rows for cell in row.split("|")[2:-1])


@pytest.fixture(scope="session")
def slurm() -> None:
    """Slurm's programs, run as root; else a skip (a failure under CI=true). Session-scoped, so
    that it is checked before the (module-scoped) local demo that the Slurm test compares with."""
    if missing_programs():
        unavailable(f"Slurm not installed (`make test` installs slurm-wlm where it can); missing "
                    f"{', '.join(missing_programs())}")
    if os.geteuid() != 0:
        unavailable("slurmd must run as root to start jobs")


def test_demo_on_slurm_runs_every_job_in_order_and_gives_the_local_table(slurm, local_demo, tmp_path):
    root, exp = local_demo, local_demo / "slurm-demo"
    slurm = {"LAUNCHER": "slurm", "SBATCH_ARGS": "--partition=test --time=30",
             "SBATCH_TRAIN_ARGS": "--mem=200"}
    with SlurmCluster(tmp_path / "cluster") as cluster:
        done = demo(root, "slurm-demo", cluster.env, **{**slurm, "SBATCH_ARGS": "--partition=nowhere"})
        assert done.returncode == 2 and "error: sbatch refused prune-pos (seed 1)" in done.stderr
        # 1. a mask selection that fails: its dependants are cancelled, the status names it
        # (a margin of 401 digits passes the run script's check, which reads digits, but is no
        # finite number to the selection job, which then fails); OVERWRITE=1 replaces what the
        # refused call left (the demo keeps an earlier demo folder otherwise)
        done = demo(root, "slurm-demo", cluster.env, **slurm, AUTO_MARGIN="1" + "0" * 400,
                    OVERWRITE="1")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "submitted prune-pos (seed 1): job" in done.stdout and "follow them: squeue -j" in done.stdout
        cluster.wait_until_idle(600)
        status = subprocess.run(["bash", "run_conll03.sh", "status"], cwd=REPO, env={**cluster.env,
                                "EXP": str(exp)}, capture_output=True, text=True, timeout=60)
        assert status.returncode == 1, status.stdout + status.stderr
        states = {tuple(line.split()[1:3]): line.split()[3] for line in status.stdout.splitlines()[1:-1]
                  if line.split()[0].isdigit()}
        assert {states[(s, f"prune-{t}")] for s in "12" for t in ("pos", "chunk", "ner")} == {"done"}
        assert states[("1", "masks")] == states[("2", "masks")] == "FAILED"
        assert states[("1", "demo-hard")] == states[("*", "table-seeds")] == "CANCELLED"
        assert "FAILED: conll03-demo-masks-seed1" in (exp / "seed-1" / "mtl" / "logs" / "masks.log").read_text()
        # 2. RESUME=1 submits only what has not finished
        done = demo(root, "slurm-demo", cluster.env, **slurm, RESUME="1")
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.count("finished already: prune-") == 6
        submitted = [line for line in done.stdout.splitlines() if line.startswith("submitted ")]
        assert len(submitted) == 2 + 14 + 2 + 1 + 1      # masks, runs, tables, their summary line
        cluster.wait_until_idle(600)
        # every run's latest job finished, each after the jobs it waited for
        ledger = [line.split("\t") for line in (exp / "slurm" / "jobs.tsv").read_text().splitlines()[1:]]
        latest = {(seed, run): (job, after) for job, seed, run, _, _, after, _ in ledger}
        assert len(latest) == 6 + 2 + 14 + 2 + 1
        record = {job: (exp / "slurm" / "state" / job).read_text().split() for job, _ in latest.values()}
        assert all(r[0] == "ok" for r in record.values()), record
        for job, after in latest.values():
            for before in filter(None, after.split(":")):
                assert float(record[before][2]) <= float(record[job][1]), (before, job)
        assert latest[("*", "table-seeds")][1].count(":") == 1      # after both seeds' tables
        # 3. a training job that Slurm runs again (requeue: preemption, node failure) continues
        #    its run; this one had finished, so there is nothing left to do
        job = latest[("1", "demo")][0]
        cluster.run("scontrol", "requeue", job)
        cluster.run("scontrol", "update", f"jobid={job}", "StartTime=now")   # no requeue delay
        cluster.wait_until_idle(300)
    log = (exp / "seed-1" / "mtl" / "logs" / "demo.log").read_text()
    assert f"== job {job} (conll03-demo-demo-seed1)" in log and "restart 1" in log
    assert "has finished already (results.json); nothing to do" in log
    assert (exp / "slurm" / "state" / job).read_text().startswith("ok ")
    # logs where the local launcher puts them, and the same tables
    local = root / "local-demo"
    assert ({p.relative_to(exp) for p in exp.rglob("*.log")}
            == {p.relative_to(local) for p in local.rglob("*.log")})
    for table in ("demo-table.json", "seed-1/mtl/demo-table.json", "seed-2/mtl/demo-table.json"):
        assert scores(json.loads((exp / table).read_text())) == scores(json.loads((local / table).read_text()))
