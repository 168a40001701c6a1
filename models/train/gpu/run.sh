#!/usr/bin/env bash
# Trains recipe gpu120 (model 1.2.0, issue 25) on one lent GPU in a single device call, and leaves in $OUT what the
# CPU side needs: the checkpoint (resumable while the run lasts, final EMA weights at its end), its per-epoch log,
# and the whole console output. Total: ~15 s decode and start-up + ~10 s calibration + 420 s training budget + ~10 s
# BN pass, evaluation and copies, inside the call's 560 s limit; the checkpoint is copied every 10 epochs, so a run
# stopped at the limit still brings back a checkpoint to resume.
#
# Before the call, once, in the repository root of the checkout the session was started in (the device tool sends
# that checkout, not a helper's worktree); .data/ is git-ignored and travels only because `carry` names it:
#   mkdir -p .data/cifar10 && cp ../shared/data/cifar10/{train,test}.tar.gz .data/cifar10/
# The device call (the `run` tool; 15 minutes of device time in all, ~1-2 of them the machine's start):
#   command:   bash models/train/gpu/run.sh
#   carry:     [".data"]
#   timeout_s: 560
# To resume a run the limit stopped: copy the stage1.pt it brought back to .data/resume/stage1.pt, and call again
# with the same command and carry; the epoch count then comes from that checkpoint, never from a new timing.
# After it, on the CPU side (files_at is the folder the reply names):
#   mkdir -p models/train/work/gpu120 && cp <files_at>/stage1.pt <files_at>/stage1.log.jsonl models/train/work/gpu120/
#   npm run model:export -- --recipe gpu120   # ONNX, card, parity tensors, golden fixtures
#   npm run parity && npm run eval && npm run bench
# A repeat of the run elsewhere: npm run train -- --recipe gpu120 --device cuda --epochs <the recorded epochs>.
#
# On a machine without a GPU, the same script is the smoke test (models/train/gpu/smoke.sh sets these):
#   DEVICE=cpu OUT=/tmp/gpu-out bash models/train/gpu/run.sh --depth 8 --alpha 24 --steps-per-epoch 3 ...
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
: "${OUT:?OUT must name the folder whose files come back}"
DEVICE="${DEVICE:-cuda}"
DATA="${DATA:-.data/cifar10}"
WORK="${WORK:-/tmp/gpu120-work}"
THREADS="${THREADS:-$(nproc)}"
PYTHON="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT" "$WORK"
for f in train.tar.gz test.tar.gz; do
  [ -s "$DATA/$f" ] || { echo "run.sh: $DATA/$f is missing: copy it there and name .data in carry" >&2; exit 2; }
done
RESUME="${RESUME:-.data/resume}"
if [ -s "$RESUME/stage1.pt" ] && [ ! -e "$WORK/stage1.pt" ]; then
  cp "$RESUME/stage1.pt" "$WORK/stage1.pt"
  if [ -s "$RESUME/stage1.log.jsonl" ]; then cp "$RESUME/stage1.log.jsonl" "$WORK/stage1.log.jsonl"; fi
  echo "run.sh: resuming from $RESUME/stage1.pt"
fi
if [ "$DEVICE" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
"$PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
set -o pipefail
"$PYTHON" models/train/train.py --recipe gpu120 --device "$DEVICE" --data-dir "$DATA" --work-dir "$WORK" \
  --threads "$THREADS" --checkpoint-every 10 --copy-to "$OUT" --no-export "$@" 2>&1 | tee "$OUT/train.log"
cp "$WORK/stage1.pt" "$WORK/stage1.log.jsonl" "$OUT/"
ls -l "$OUT"
