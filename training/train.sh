#!/usr/bin/env bash
# Trains the embedded model (training/train.py stages data -> vae -> latents -> unet), then exports it.
# Fixed seeds; resumes from the run's latest checkpoint; finished stages skip themselves.
#
# Usage: [TRAIN_RUN=v10|v9|...|v1] bash training/train.sh        (same as: npm run train:model)
#   TRAIN_RUN=v10: v9's two experts, each trained only on the timesteps it serves (v10l: t >= 801, 2000 steps;
#                v10d: t <= 800, 5000 steps): mostly empty backgrounds at 2000 + 2084 steps (train.py says more).
#   TRAIN_RUN=v9 (default, the shipped models/shapes-ldm-v9): two expert denoisers by noise level, v4's UNet for
#                t >= 801 (where the layout is decided) and v1's below (where shapes are drawn); trains runs v4
#                and v1 side by side (one core each), then exports them as one model.
#   TRAIN_RUN=v4: UNet with coordinates (CoordConv + 2-D position embedding in attention), multi-resolution noise,
#                v prediction: learns position words, draws blobs; checkpoints in training/runs/v4/.
#   TRAIN_RUN=v1: the first release (no coordinates, white noise, epsilon; checkpoints in training/runs/): clean
#                shapes, ignores position words.
#   v2, v3, v5-v8: the attempts between them (training/train.py says what each changed and why).
# data/, the VAE (training/runs/vae_final.pt) and the latents cache are shared by all runs.
# Run (or resume) detached:
#   nohup setsid bash training/train.sh >> training/runs/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
mkdir -p training/runs
PY=/usr/bin/python3
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
export TRAIN_RUN=${TRAIN_RUN:-v9}
experts=$($PY training/train.py --experts)
if [ -n "$experts" ]; then
  $PY training/train.py data vae latents
  pids=()
  for run in $experts; do
    TRAIN_RUN=$run $PY training/train.py unet > >(sed -u "s/^/[$run] /") 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
else
  $PY training/train.py data vae latents unet
fi
$PY training/export.py
echo "$(date +%T) train.sh: TRAIN_RUN=$TRAIN_RUN done in $(( ($(date +%s) - started) / 60 )) min"
