#!/usr/bin/env bash
# Trains the embedded model (training/train.py stages data -> vae -> latents -> unet), then exports it.
# Fixed seeds; resumes from the latest checkpoint in training/runs/; finished stages skip themselves.
# Run detached:  nohup setsid bash training/train.sh > training/runs/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p training/runs
PY=/usr/bin/python3
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
$PY training/train.py data vae latents unet
$PY training/export.py
