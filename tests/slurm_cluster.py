"""A real one-node Slurm cluster for tests: slurmctld and slurmd from the distribution's slurm-wlm
package (`make test` installs it when missing), started on free ports with a configuration written
in a temporary folder, and stopped after. Authentication is `auth/none`: the daemons listen on
this machine only and live as long as the test."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")
NODE = "localhost"


def missing_programs() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def config_text(folder: Path, spool: Path, cpus: int) -> str:
    user = subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    return "\n".join([
        "ClusterName=testcluster",
        f"SlurmctldHost={NODE}",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "AuthType=auth/none",
        "CredType=cred/none",
        f"SlurmUser={user}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={spool}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",      # no cgroups in a container
        "TaskPlugin=task/none",
        "SchedulerType=sched/builtin",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "ReturnToService=2",
        "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        f"NodeName={NODE} NodeAddr=127.0.0.1 NodeHostname={socket.gethostname()} CPUs={cpus} "
        "RealMemory=1000 State=UNKNOWN",
        f"PartitionName=test Nodes={NODE} Default=YES MaxTime=INFINITE State=UP",
        ""])


class SlurmCluster:
    """`with SlurmCluster(folder) as cluster:` runs slurmctld + slurmd; `cluster.env` is the
    environment (SLURM_CONF) under which sbatch and squeue talk to it."""

    def __init__(self, folder: Path, cpus: int | None = None) -> None:
        self.folder = Path(folder)
        self.cpus = cpus or len(os.sched_getaffinity(0))
        self.conf = self.folder / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.daemons: list[subprocess.Popen] = []
        self.spool: Path | None = None

    def __enter__(self) -> "SlurmCluster":
        # slurmstepd makes a Unix socket per job step in the spool folder, and such a path may
        # not exceed 108 bytes: a pytest folder (deeper still under pytest-xdist) can be too long.
        self.spool = Path(tempfile.mkdtemp(prefix="slurmd-", dir="/tmp"))
        (self.folder / "state").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(config_text(self.folder, self.spool, self.cpus))
        try:
            self._start(["slurmctld", "-D", "-c", "-i"])
            self._start(["slurmd", "-D", "-N", NODE])
            self._wait_for_idle_node()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self, command: list[str]) -> None:
        log = open(self.folder / f"{command[0]}.out", "w")
        self.daemons.append(subprocess.Popen(command + ["-f", str(self.conf)], env=self.env,
                                             stdout=log, stderr=subprocess.STDOUT))

    def _wait_for_idle_node(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.run("sinfo", "-h", "-o", "%T", check=False).stdout.strip()
            if state == "idle":
                return
            if any(d.poll() is not None for d in self.daemons):
                break
            time.sleep(0.5)
        raise RuntimeError(f"the Slurm node did not come up; logs:\n{self.logs()}")

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True, check=check,
                              timeout=60)

    def live_jobs(self) -> list[str]:
        """The ids of the jobs still pending or running."""
        return self.run("squeue", "-h", "-o", "%i").stdout.split()

    def wait_until_idle(self, timeout: float) -> None:
        """Wait until no job is pending or running (TimeoutError after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while self.live_jobs():
            if time.monotonic() > deadline:
                raise TimeoutError(f"jobs still queued after {timeout} s:\n"
                                   + self.run("squeue").stdout)
            time.sleep(1.0)

    def logs(self) -> str:
        parts = []
        for name in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"):
            path = self.folder / name
            if path.is_file():
                parts.append(f"--- {name}\n" + "\n".join(path.read_text().splitlines()[-20:]))
        return "\n".join(parts)

    def __exit__(self, *exc) -> None:
        if self.daemons and self.daemons[0].poll() is None:
            self.run("scancel", "--full", "-u", self.run("id", "-un").stdout.strip(), check=False)
            try:
                self.wait_until_idle(30)
            except (TimeoutError, subprocess.SubprocessError):
                pass                              # the daemons go anyway
        for daemon in reversed(self.daemons):
            if daemon.poll() is None:
                daemon.terminate()
                try:
                    daemon.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
        self.daemons.clear()
        if self.spool is not None:
            shutil.rmtree(self.spool, ignore_errors=True)
