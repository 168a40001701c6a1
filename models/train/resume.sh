#!/usr/bin/env bash
# A long CPU run that spans sessions (recipe v120, model 1.2.0, issue 25): `start` resumes it in the background from
# the committed checkpoint, `save` copies its latest checkpoint and log back into the repository to be committed, and
# `status` prints where it stands. Only the committed files outlive a session; /work/train-work does not.
#
#   bash models/train/resume.sh start    # once per session, first thing: the run needs the cores to itself
#   bash models/train/resume.sh status
#   bash models/train/resume.sh save     # before the session ends; then commit models/train/checkpoints/
#
# RECIPE (default v120) and WORK (default /work/train-work/$RECIPE) override the two names.
#
# The allocator: PyTorch's CPU training step frees and allocates its large activation buffers every step; glibc's
# malloc hands those back to the kernel and faults them in again (about 11% of the run's time went to the kernel).
# tcmalloc keeps them, and the same step ran 71-82 images/s against 64-66 with glibc on the same 2 cores
# (`train.py --recipe v120 --bench 20`, 2026-12-07). It changes no arithmetic, so the run stays the same run.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
RECIPE="${RECIPE:-v120}"
WORK="${WORK:-/work/train-work/$RECIPE}"
COMMITTED="models/train/checkpoints/$RECIPE-stage1"
PYTHON=/usr/bin/python3  # Debian's python3-torch; pyenv's python3 has no torch
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4

running_pid() { pgrep -f "train.py --recipe $RECIPE --work-dir $WORK" || true; }
# The epoch a checkpoint was saved after (0 when there is none): the checkpoint, not its log, is what a run resumes.
checkpoint_epoch() {
  [ -s "$1" ] || { echo 0; return; }
  "$PYTHON" -c 'import sys, torch; print(torch.load(sys.argv[1], map_location="cpu")["epoch"])' "$1"
}
# train.py appends an epoch's log line just before it saves that epoch's checkpoint, so a run stopped in between
# leaves the log one line ahead; keep the lines of the epochs the checkpoint holds, or a resume would repeat one.
log_upto() { "$PYTHON" -c '
import json, sys
for line in open(sys.argv[1]):
    if line.strip() and json.loads(line)["epoch"] <= int(sys.argv[2]):
        print(line, end="")' "$1" "$2"; }

case "${1:-}" in
  start)
    if [ -n "$(running_pid)" ]; then echo "resume: already running (pid $(running_pid))"; exit 0; fi
    if ! "$PYTHON" -c 'import torch, numpy' 2>/dev/null || [ ! -e "$TCMALLOC" ]; then
      echo "resume: installing python3-torch, python3-numpy and libtcmalloc-minimal4 from Debian"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        python3-torch python3-numpy libtcmalloc-minimal4 >/dev/null
    fi
    mkdir -p "$WORK"
    # The committed checkpoint wins only when it is further on than the one already in the work folder.
    if [ "$(checkpoint_epoch "$COMMITTED.pt")" -gt "$(checkpoint_epoch "$WORK/stage1.pt")" ]; then
      cp "$COMMITTED.pt" "$WORK/stage1.pt"
      cp "$COMMITTED.log.jsonl" "$WORK/stage1.log.jsonl"
    fi
    epoch="$(checkpoint_epoch "$WORK/stage1.pt")"
    if [ -s "$WORK/stage1.log.jsonl" ]; then
      log_upto "$WORK/stage1.log.jsonl" "$epoch" > "$WORK/stage1.log.jsonl.tmp"
      mv "$WORK/stage1.log.jsonl.tmp" "$WORK/stage1.log.jsonl"
    fi
    LD_PRELOAD="$TCMALLOC" nohup nice -n 19 "$PYTHON" models/train/train.py --recipe "$RECIPE" --work-dir "$WORK" \
      --no-export >> "$WORK/train.out" 2>&1 &
    echo "resume: started pid $! after epoch $epoch; output in $WORK/train.out"
    ;;
  save)
    [ -s "$WORK/stage1.pt" ] || { echo "resume: no checkpoint in $WORK" >&2; exit 1; }
    # train.py saves to a temporary name and renames it, so this copy never sees half a checkpoint; the log is cut
    # to the epochs that the copied checkpoint holds.
    cp "$WORK/stage1.pt" "$COMMITTED.pt.tmp"
    epoch="$(checkpoint_epoch "$COMMITTED.pt.tmp")"
    log_upto "$WORK/stage1.log.jsonl" "$epoch" > "$COMMITTED.log.jsonl.tmp"
    mv "$COMMITTED.pt.tmp" "$COMMITTED.pt"
    mv "$COMMITTED.log.jsonl.tmp" "$COMMITTED.log.jsonl"
    echo "resume: saved the checkpoint after epoch $epoch into $COMMITTED.{pt,log.jsonl}"
    ;;
  status)
    pid="$(running_pid)"
    echo "resume: ${pid:+running (pid $pid), }checkpoint after epoch $(checkpoint_epoch "$WORK/stage1.pt"); committed: after epoch $(checkpoint_epoch "$COMMITTED.pt")"
    tail -n 2 "$WORK/train.out" 2>/dev/null || true
    ;;
  *)
    echo "usage: bash models/train/resume.sh start|save|status" >&2
    exit 2
    ;;
esac
