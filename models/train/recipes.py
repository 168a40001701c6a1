"""The named training recipes: one name reproduces one model (`train.py --recipe NAME`, `export.py --recipe NAME`)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from paths import WORK_ROOT


@dataclass(frozen=True)
class Stage:
    epochs: int
    lr: float  # peak learning rate of a one-cycle stage; the constant one of an averaging stage
    warmup: float = 0.0  # fraction of a one-cycle stage's steps spent warming up
    average_from: int = 0  # 0: one cycle, ending with the last weights; N: constant lr, averaging epochs N..end


@dataclass(frozen=True)
class Recipe:
    """A whole training run, so that one name reproduces one model: its network, seed, precision and stages."""

    stages: tuple[Stage, ...]
    depth: int
    alpha: float
    seed: int
    bf16: bool  # bfloat16 autocast in the training forward pass; weights, updates and evaluation stay fp32
    work_subdir: str  # under models/train/work: "" for the staged recipe, whose checkpoints have always lived there
    version: str  # the model version its export carries
    # Earlier results on the test images that this recipe was chosen after. The run itself can be blind and its
    # figure still optimistic, so the model card's protocol says so.
    chosen_after: str = ""
    batch_size: int = 128
    cutout: int = 0  # side of the square Cutout (DeVries and Taylor 2017) in pixels; 0: none
    ema_decay: float = 0.0  # per-step decay of an exponential moving average of the weights; 0: none


# The 1.0.0 model's recipe. Each stage must finish within one 3-hour session on 2 CPU threads, because its checkpoints
# do not outlive the machine. 30 epochs from scratch reached 87.8% on the test images; a second, gentler cycle (half the
# peak learning rate) from those weights continued where the first stopped, as a longer single schedule would, and
# reached 88.9%. A third cycle would gain less again, so the third stage averages instead (SWA): a constant 0.05, half
# the second stage's peak, averaging the weights after epochs 2 to 16 so that the first epoch can leave the sharp point
# the decay to zero ended in. Its rate and start were fixed from the paper before it ran, not swept; it was planned with
# 24 epochs and cut to 16 after two, when this machine ran at half its earlier speed (110 images/s) and 24 no longer fit
# a session. A constant rate makes the first 16 epochs the same either way, and no average had been evaluated when the
# cut was made. A fourth stage was tried and left out: a one-cycle warm restart from the average (24 epochs, warm-up
# over 10% to a peak of 0.05, linear decay to 0) ended at 88.70%, below the average's 89.08%, so another short restart
# of this network does not pay; the next gain needs a longer single schedule or more width. An ensemble was tried and
# not shipped: a second network, stage 1 alone with seed 20261122 (87.54%), averaged with this one by the mean of their
# logits scored 89.76%, below the 90% its ship rule (fixed before it trained) asked for. A third (seed 20261123, 87.92%
# alone), its ship rule fixed the same way, brought the three-member mean to 89.82% through HTTP, still below 90%, at
# three times the inference cost. Code and checkpoints are on the `ensemble` branch.
STAGED = Recipe(
    stages=(
        Stage(epochs=30, lr=0.2, warmup=0.15),
        Stage(epochs=36, lr=0.1, warmup=0.1),
        Stage(epochs=16, lr=0.05, average_from=2),
    ),
    depth=20,
    alpha=48,
    seed=20261121,
    bf16=False,
    work_subdir="",
    version="1.0.0",
)
# The shipped model's recipe (1.1.0), fixed before it ran: one long cycle of stage 1's settings (peak 0.2, warm-up 15%)
# on a deeper and wider network, spread over two sessions through its per-epoch checkpoint. A single schedule of 80
# epochs replaces the short warm restarts that stopped paying. bf16 autocast ran the 20/48 training step 1.8 times
# faster on this CPU's AVX-512 BF16 units (278 against 152 images/s on synthetic batches); it trained 26/64 at
# 248 images/s on average. Its last epoch's weights scored 90.28% through HTTP; no epoch was picked.
LONG = Recipe(
    stages=(Stage(epochs=80, lr=0.2, warmup=0.15),),
    depth=26,
    alpha=64,
    seed=20261201,
    bf16=True,
    work_subdir="long",
    version="1.1.0",
    chosen_after="three earlier attempts were scored on these test images (89.08%, 89.76% and 89.82%)",
)
# Model 1.2.0 (issue 25), written down before its first epoch ran; nothing below is changed after seeing a test figure.
# Network: PyramidNet-26, alpha 96, basic units: widths 24, 32, ..., 112, all multiples of 8, which train about 1.4x
# faster per multiply-accumulate on this CPU than the unaligned widths of 26/64; 1,111,290 parameters, 217.6 M MACs
# per image (1.7x the 1.1.0 network). Bottleneck units and deep-narrow nets run 2-3x slower per MAC here, so wider
# beats deeper at this budget.
# Schedule: one cycle, batch 256, peak 0.4 (LONG's 0.2 at batch 128, scaled linearly with the batch), warm-up over
# 15% of the steps from 0.04, then linear decay to 0; SGD + Nesterov 0.9, weight decay 5e-4 off BN and biases, label
# smoothing 0.1; crop + flip + Cutout 16x16 (DeVries and Taylor's size for CIFAR-10); float32, channels_last.
# An exponential moving average of the weights, decay 0.9995 per step (a horizon of 2,000 steps, about the last
# 10 epochs of the decay), gets batch-norm statistics of its own from one pass over the augmented training images
# at the end and is what the stage hands on and export ships; the last iterate is never exported.
# Precision: float32, not LONG's bf16 autocast. The session that launched this run had an AMD EPYC with AVX2 and
# neither AVX-512 nor BF16 units, where the bf16 training step of this network ran 10-15x slower than float32 (1
# against 10-15 images/s at batch 64, measured with the other helpers' load on both cores); float32 is the one
# precision that is never the slow path, whichever machine a later session resumes on.
# Epochs: 150, the plan, which the launching session could not fit into 4 sessions. `--bench`-style step
# timings there (fp32, 2 threads, interleaved with 26/64 under a load average of 7-9 on 2 cores) gave 18-19 images/s
# for this network at batch 256 and 17-31 for 26/64 at batch 128, which ran at 248 images/s (bf16) on the AVX-512
# machine of earlier sessions. At 19 images/s, 150 epochs are 150 x 50,000 / 19 = 395,000 s, about 44 sessions of
# 2.5 h; fitting 4 sessions (36,000 s x 19 = 684,000 images) would allow 13 epochs, too few for this network to pass
# 1.1.0's 90.28%, let alone 92.5%. Uncontended, the AVX2 machine would run about 2x faster (22 sessions); on the
# AVX-512 machine float32 runs about 115 images/s (7 sessions). The schedule needs its length fixed up front, so the
# run keeps the 150 epochs, resumes across as many sessions as it takes, and its card records the time.
# Protocol: seed 20261202, fixed. Nothing is chosen during the run (no early stop, no checkpoint picking, no setting
# tried on any split), so it needs no validation split and holds none out: it trains on all 50,000 images. The
# per-epoch test accuracy is logged for the curve only, as LONG's is, and steers nothing.
# Test-time augmentation, decided now: export the EMA weights plainly first. If that export reaches the goal, 93.0%
# top-1 through HTTP (`npm run eval`), it is the 1.2.0 candidate and no flip-TTA graph is made. Below 93.0%, the same
# weights are exported once more with flip-TTA inside the ONNX graph (`export.py --flip-tta`: each image and its
# mirror as one batch, logits averaged, so two forward passes per image, 435 M MACs), and that graph replaces the plain
# one as the candidate if it passes the bench rule below at its doubled cost; if it does not, the plain export stays
# the candidate. The card says which graph shipped and that this one decision looked at the plain export's test figure.
# Ship rule, fixed now: 1.2.0 ships beside 1.1.0. It becomes the default version only if the candidate reaches at
# least 92.5% top-1 through HTTP, `npm run parity` agrees on 5,000/5,000 test images, and the bench rule holds
# (throughput at c=32 at least 6x the peer stack's, p99 at c=8 under 50 ms); at 92.5% or more failing only the bench
# rule it ships opt-in; below 92.5% it never becomes the default (opt-in at most, and only above 1.1.0's 90.28%).
# The goal is 93.0%; falling short of it is reported as such, never fixed by another look at the test images.
V120 = Recipe(
    stages=(Stage(epochs=150, lr=0.4, warmup=0.15),),
    depth=26,
    alpha=96,
    seed=20261202,
    bf16=False,
    work_subdir="v120",
    version="1.2.0",
    chosen_after="1.0.0, its ensembles and 1.1.0 were scored on these test images (89.08%, 89.82% and 90.28%)",
    batch_size=256,
    cutout=16,
    ema_decay=0.9995,
)
RECIPES = {"staged": STAGED, "long": LONG, "v120": V120}
SHIPPED = "long"  # the recipe that made models/pyramidnet.onnx


def recipe_work_dir(recipe: Recipe) -> str:
    return os.path.join(WORK_ROOT, recipe.work_subdir)
