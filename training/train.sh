#!/usr/bin/env bash
# Trains the embedded model (training/train.py stages data -> vae -> latents -> unet), then exports it.
# Fixed seeds; resumes from the run's latest checkpoint; finished stages skip themselves.
#
# Usage: [TRAIN_RUN=v5|v4|v3|v2|v1] bash training/train.sh        (same as: npm run train:model)
#   TRAIN_RUN=v4 (default): UNet with coordinates (CoordConv + 2-D position embedding in attention), trained with
#                multi-resolution noise to predict v (issue 3); checkpoints in training/runs/v4/, exported to
#                models/shapes-ldm-v4.
#   TRAIN_RUN=v5: v4 with pyramid noise only above t = 600 (v4's shapes stayed blobs); training/runs/v5/.
#   TRAIN_RUN=v3: v4 predicting epsilon; v2: coordinates, white noise, epsilon; v1: the first release
#                (models/shapes-ldm-v1: no coordinates, white noise, epsilon; checkpoints in training/runs/).
# data/, the VAE (training/runs/vae_final.pt) and the latents cache are shared, so v2-v4 only train the UNet.
# Run (or resume) detached:
#   nohup setsid bash training/train.sh >> training/runs/train-v4.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p training/runs
PY=/usr/bin/python3
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export TRAIN_RUN=${TRAIN_RUN:-v4}
$PY training/train.py data vae latents unet
$PY training/export.py
