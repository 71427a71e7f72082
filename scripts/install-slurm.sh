#!/usr/bin/env bash
# Installs Slurm from the distribution (Debian/Ubuntu package slurm-wlm) when sbatch, slurmctld or
# slurmd is missing, for the test that submits the demo pipeline to a real one-node Slurm
# (tests/test_launchers.py). `make test` runs it. Without root (or password-less sudo) and apt-get
# it only says so, and that test then fails under `make test` (CI=true) and is skipped by a plain
# pytest.
set -euo pipefail
missing=()
for program in sbatch squeue slurmctld slurmd; do
    command -v "$program" >/dev/null || missing+=("$program")
done
(( ${#missing[@]} > 0 )) || exit 0

if [[ $(id -u) == 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    echo "note: Slurm (${missing[*]}) is missing and installing it needs root; the Slurm test cannot run (it fails under make test, a plain pytest skips it)" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "note: Slurm (${missing[*]}) is missing and there is no apt-get here; install Slurm, or the Slurm test cannot run (it fails under make test, a plain pytest skips it)" >&2
    exit 0
fi
echo "installing Slurm (slurm-wlm) for the Slurm test: ${missing[*]} missing"
export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq && "${as_root[@]}" apt-get install -y -qq slurm-wlm >/dev/null; }; then
    echo "error: installing slurm-wlm failed (above). Install Slurm yourself, or run" \
         "\`.venv/bin/python -m pytest -q tests\`, which skips the Slurm test without it." >&2
    exit 1
fi
