#!/usr/bin/env bash
# CPU smoke test of the GPU route (run.sh with DEVICE=cpu), a few minutes at nice 10 on 2 cores; not part of CI.
# Proves: the parallel decode, the batch augmentation on tensors of the run's device, the epoch-budget calibration
# and its refusal below the minimum, checkpoints copied into OUT, a stop and a resume from a brought-back checkpoint
# (as .data/resume would be), and that export's loading and card code read the result on a CPU.
#   bash models/train/gpu/smoke.sh            # leaves everything under /tmp/gpu120-smoke
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT="${SMOKE_ROOT:-/tmp/gpu120-smoke}"
rm -rf "$ROOT" && mkdir -p "$ROOT"
# float32: bf16 autocast is the GPU's path, and 10-15x slower than float32 on an AVX2 CPU without BF16 units.
TINY=(--depth 8 --alpha 24 --batch-size 32 --steps-per-epoch 3 --checkpoint-every 1 --no-bf16)
export DEVICE=cpu THREADS=2 PYTHON=/usr/bin/python3 DATA="${DATA:-.data/cifar10}"
[ -s "$DATA/train.tar.gz" ] || DATA=../shared/data/cifar10

echo "== decode: 2 workers give the serial decode's arrays"
nice -n 10 /usr/bin/python3 - "$DATA" "$ROOT/decode" <<'PY'
import sys, numpy as np
sys.path.insert(0, "models/train")
from data import decode_rgb, load_split, read_archive
images, labels, names = load_split(f"{sys.argv[1]}/test.tar.gz", sys.argv[2], workers=2)
serial = [(n, decode_rgb(d)) for i, (_, n, d) in zip(range(300), read_archive(f"{sys.argv[1]}/test.tar.gz"))]
assert images.shape[1:] == (32, 32, 3) and images.dtype == np.uint8 and len(images) == len(labels), images.shape
assert all(names[i] == n and (images[i] == img).all() for i, (n, img) in enumerate(serial))
assert np.bincount(labels).tolist() == [len(labels) // 10] * 10
print("decode ok")
PY

echo "== budget below the minimum: refuses to start"
if OUT="$ROOT/out0" WORK="$ROOT/work1" bash models/train/gpu/run.sh "${TINY[@]}" --budget-s 1 --min-epochs 5; then
  echo "FAIL: a budget under the minimum started" && exit 1
fi

echo "== run 1: calibrate, train, stop after epoch 1"
OUT="$ROOT/out1" WORK="$ROOT/work1" bash models/train/gpu/run.sh "${TINY[@]}" --budget-s 40 --min-epochs 2 \
  --stop-after-epoch 1
echo "== run 2: a fresh machine resumes from the checkpoint brought back"
mkdir -p "$ROOT/resume" "$ROOT/work2" && cp "$ROOT/out1/stage1.pt" "$ROOT/out1/stage1.log.jsonl" "$ROOT/resume/"
ln -s "$ROOT/work1/cache" "$ROOT/work2/cache"  # the decode, already proven, is not repeated
RESUME="$ROOT/resume" OUT="$ROOT/out2" WORK="$ROOT/work2" bash models/train/gpu/run.sh "${TINY[@]}" \
  --budget-s 40 --min-epochs 2 | tee "$ROOT/run2.txt"
grep -q "resuming from" "$ROOT/run2.txt" && grep -q "resumed after epoch 1" "$ROOT/run2.txt"
if grep -q "epoch budget: {" "$ROOT/run2.txt"; then echo "FAIL: the resume timed the machine again" && exit 1; fi

echo "== the result, read on the CPU as export reads it"
nice -n 10 /usr/bin/python3 - "$ROOT" <<'PY'
import json, sys
import torch
sys.path.insert(0, "models/train")
from export import describe_stage
from pyramidnet import PyramidNet, count_macs
root = sys.argv[1]
state = torch.load(f"{root}/out2/stage1.pt")  # no map_location: every tensor must already be on the CPU
cfg, rule = state["config"], state["epoch_rule"]
assert cfg["epochs"] == rule["epochs"] == state["epoch"] >= 2, (cfg["epochs"], rule, state["epoch"])
assert rule["epochs"] == min(rule["max_epochs"], int(rule["budget_s"] // rule["epoch_s_estimate"]))
assert "autocast" not in cfg and cfg["cutout"] == 16 and cfg["ema_decay"] == 0.999, cfg
net = PyramidNet(cfg["depth"], cfg["alpha"])
net.load_state_dict(state["model"])
assert "ema_result" in state and len(state["history"]) == cfg["epochs"]
log = [json.loads(line) for line in open(f"{root}/out2/stage1.log.jsonl")]
assert [r["epoch"] for r in log if "epoch" in r] == list(range(1, cfg["epochs"] + 1)), log
card = describe_stage(state)
assert card["epochBudget"] == rule and card["hardware"], card
print("result ok:", json.dumps({"epochs": cfg["epochs"], "rule": rule, "macs": count_macs(net),
                                "ema": state["ema_result"], "hardware": card["hardware"]}))
PY
echo "smoke ok"
