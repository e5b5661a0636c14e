#!/usr/bin/env bash
# Parity: the TypeScript engine vs the PyTorch reference sampler on the exported model, same seeds and
# schedulers (Euler and DDIM, 20 steps, guidance 5, a 2x2 batch). Passes when every final image is within
# 2/255 of the reference. Usage: bash training/parity.sh [model-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-models/shapes-ldm-v9}
OUT=artifacts/parity
PROMPT="a red circle on a blue background"
status=0
for pair in euler:EulerDiscreteScheduler ddim:DDIMScheduler; do
  ref=${pair%%:*}; ts=${pair##*:}
  OMP_NUM_THREADS=1 /usr/bin/python3 training/reference_sampler.py --model-dir "$MODEL" --prompt "$PROMPT" \
    --seed 42 --n 4 --steps 20 --guidance 5 --scheduler "$ref" --out "$OUT/$ref" > /dev/null
  npx tsx training/eval/parity.ts --model-dir "$MODEL" --reference "$OUT/$ref/images.npy" --scheduler "$ts" \
    --prompt "$PROMPT" --seed 42 --n 4 --steps 20 --guidance 5 || status=1
done
exit $status
