"""Trains PyramidNet on the CIFAR-10 JPEGs by a named recipe, checkpointing every epoch and resuming after a stop.

    /usr/bin/python3 models/train/train.py                   # the shipped model's recipe (or resume it), then export
    /usr/bin/python3 models/train/train.py --recipe staged   # the earlier three-stage recipe of the 1.0.0 model
    /usr/bin/python3 models/train/train.py --bench 20        # measure training images/s only

A recipe names the network (depth, alpha), the seed, the precision and one or more stages. Stage 1 starts from
random weights; every later stage is a warm restart from the stage before (a fresh optimizer and schedule on its
weights). A stage either runs one cycle (warm-up, then decay to zero) and ends with its last weights, or holds a
constant learning rate and ends with the average of its weights over its epochs (stochastic weight averaging,
Izmailov et al. 2018), whose batch-norm statistics are then recomputed on the training images. Stage N checkpoints
to <work>/stageN.pt and logs to <work>/stageN.log.jsonl, where <work> is the recipe's directory under
models/train/work; a run starts at the latest stage that has a checkpoint, a finished stage is not run again, and
an interrupted one resumes at its last epoch.

The run is deterministic for a seed: the epoch's shuffle and augmentation come from generators seeded by
(seed, epoch), so a resumed run draws the same batches the uninterrupted run would have drawn.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from data import CLASSES, load_split  # noqa: E402
from pyramidnet import PyramidNet  # noqa: E402


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
    # Earlier results on the test images that this recipe was chosen after. The run itself can be blind and its
    # figure still optimistic, so the model card's protocol says so.
    chosen_after: str = ""


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
    chosen_after="three earlier attempts were scored on these test images (89.08%, 89.76% and 89.82%)",
)
RECIPES = {"staged": STAGED, "long": LONG}
SHIPPED = "long"  # the recipe that made models/pyramidnet.onnx


def recipe_work_dir(recipe: Recipe) -> str:
    return os.path.join(HERE, "work", recipe.work_subdir)


def checkpoint_path(work_dir: str, stage_number: int) -> str:
    return os.path.join(work_dir, f"stage{stage_number}.pt")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data", "cifar10"))
    p.add_argument("--recipe", choices=sorted(RECIPES), default=SHIPPED, help=f"default: {SHIPPED}, the shipped model's")
    p.add_argument("--work-dir", help="checkpoints, logs and caches (default: the recipe's, under models/train/work)")
    p.add_argument("--stages", type=int, default=0, help="run the first N of the recipe's stages (default: all)")
    p.add_argument("--depth", type=int, help="default: the recipe's")
    p.add_argument("--alpha", type=float, help="default: the recipe's")
    p.add_argument("--seed", type=int, help="default: the recipe's")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="bfloat16 autocast (default: the recipe's)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bench", type=int, default=0, help="time this many training steps of stage 1 and exit")
    p.add_argument("--no-export", action="store_true", help="stop after training")
    args = p.parse_args()
    recipe = RECIPES[args.recipe]
    for name in ("depth", "alpha", "seed", "bf16"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(recipe, name))
    args.work_dir = args.work_dir or recipe_work_dir(recipe)
    args.stage_list = recipe.stages
    args.stages = args.stages or len(args.stage_list)
    if not 1 <= args.stages <= len(args.stage_list):
        p.error(f"--stages must be between 1 and {len(args.stage_list)}")
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Augmenter:
    """Random 32x32 crops from 4-pixel zero padding, and horizontal flips, done on whole batches."""

    def __init__(self, images_nchw_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.padded = F.pad(images_nchw_uint8, (4, 4, 4, 4))
        self.mean = mean.view(1, 3, 1, 1)
        self.std = std.view(1, 3, 1, 1)
        self.base = torch.arange(32)

    def batch(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b = idx.numel()
        dy = torch.randint(0, 9, (b,), generator=gen)
        dx = torch.randint(0, 9, (b,), generator=gen)
        flip = torch.rand(b, generator=gen) < 0.5
        rows = (dy[:, None] + self.base)[:, None, :, None]
        cols = (dx[:, None] + self.base)
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
        crops = self.padded[idx[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
        return normalize(crops, self.mean, self.std)


def normalize(images_nchw_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    x = images_nchw_uint8.float().div_(255.0)
    return ((x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).contiguous(memory_format=torch.channels_last)


def lr_at(step: int, total: int, peak: float, warmup_fraction: float) -> float:
    """One cycle: linear warm-up from peak/10, then linear decay to zero (short budgets favour it)."""
    warm = max(1, int(total * warmup_fraction))
    if step < warm:
        return peak * (0.1 + 0.9 * step / warm)
    return peak * max(0.0, (total - step) / max(1, total - warm))


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 500):
    model.eval()
    logits = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
    model.train()
    return logits, (logits.argmax(1) == y).float().mean().item()


def build_optimizer(model: nn.Module, weight_decay: float) -> torch.optim.Optimizer:
    # Decay only conv and linear weights: decaying BN scales and biases hurts short schedules.
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=0.0, momentum=0.9, nesterov=True)  # lr is set every step


def new_model(args: argparse.Namespace) -> nn.Module:
    return PyramidNet(args.depth, args.alpha).to(memory_format=torch.channels_last)


class WeightAverage:
    """A running mean of a model's parameters; batch-norm statistics are recomputed for it at the end."""

    def __init__(self, model: nn.Module) -> None:
        self.sum = {n: torch.zeros_like(p, dtype=torch.float64) for n, p in model.named_parameters()}
        self.count = 0

    def add(self, model: nn.Module) -> None:
        with torch.no_grad():
            for n, p in model.named_parameters():
                self.sum[n] += p.detach().double()
        self.count += 1

    def state_dict(self) -> dict:
        return {"sum": self.sum, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.sum, self.count = state["sum"], state["count"]

    @torch.no_grad()
    def finish(self, model: nn.Module, data: "Data", args: argparse.Namespace, gen: torch.Generator) -> dict:
        """The averaged weights, with running BN statistics from one pass over the augmented training images."""
        averaged = new_model(args)
        averaged.load_state_dict(model.state_dict())
        for n, p in averaged.named_parameters():
            p.copy_((self.sum[n] / self.count).float())
        # The average's activations differ from any iterate's, so its BN statistics must be its own: momentum=None
        # makes each layer's running mean and variance an equal-weight average over the pass.
        for m in averaged.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        averaged.train()
        order = torch.randperm(len(data.train_y), generator=gen)
        for i in range(0, len(order), 500):
            averaged(data.augment.batch(order[i : i + 500], gen))
        return averaged.state_dict()


def evaluate_weights(args: argparse.Namespace, weights: dict, data: "Data"):
    model = new_model(args)
    model.load_state_dict(weights)
    return evaluate(model, data.test_in, data.test_y)


@dataclass
class Data:
    augment: Augmenter
    train_y: torch.Tensor
    test_in: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor


def load_data(args: argparse.Namespace) -> Data:
    cache = os.path.join(args.work_dir, "cache")
    t0 = time.time()
    train_x, train_y, _ = load_split(os.path.join(args.data_dir, "train.tar.gz"), cache)
    test_x, test_y, _ = load_split(os.path.join(args.data_dir, "test.tar.gz"), cache)
    print(f"data: {len(train_x)} train, {len(test_x)} test images in {time.time() - t0:.1f}s", flush=True)

    # Normalisation statistics come from the training split only.
    mean = torch.tensor(train_x.reshape(-1, 3).mean(0) / 255.0, dtype=torch.float32)
    std = torch.tensor(train_x.reshape(-1, 3).std(0) / 255.0, dtype=torch.float32)
    mean = torch.round(mean * 1e4) / 1e4
    std = torch.round(std * 1e4) / 1e4

    train_t = torch.from_numpy(train_x).permute(0, 3, 1, 2).contiguous()
    return Data(
        augment=Augmenter(train_t, mean, std),
        train_y=torch.from_numpy(train_y),
        test_in=normalize(torch.from_numpy(test_x).permute(0, 3, 1, 2), mean, std),
        test_y=torch.from_numpy(test_y),
        mean=mean,
        std=std,
    )


def stage_config(args: argparse.Namespace, number: int) -> dict:
    """What a stage's checkpoint must have been made with for a resume to continue it."""
    stage = args.stage_list[number - 1]
    config = {
        "depth": args.depth,
        "alpha": args.alpha,
        "epochs": stage.epochs,
        "batch_size": args.batch_size,
        "lr": stage.lr,
        "warmup": stage.warmup,
        "weight_decay": args.weight_decay,
        "label_smoothing": args.label_smoothing,
        "seed": args.seed,
    }
    if args.bf16:
        config["autocast"] = "bfloat16"  # only then, so that the fp32 runs' checkpoints still match their configs
    if stage.average_from:
        # Only averaging stages carry these keys, so checkpoints of one-cycle stages still match their configs.
        config.update(schedule="constant", average_from=stage.average_from)
    if number > 1:
        config["init_from"] = os.path.basename(checkpoint_path(args.work_dir, number - 1))
        config["init_from_epochs"] = sum(s.epochs for s in args.stage_list[: number - 1])
    return config


def run_stage(args: argparse.Namespace, number: int, data: Data) -> str:
    """Runs (or resumes, or skips if finished) stage `number`; returns its checkpoint's path."""
    config = stage_config(args, number)
    ckpt_path = checkpoint_path(args.work_dir, number)
    log_path = os.path.join(args.work_dir, f"stage{number}.log.jsonl")
    model = new_model(args)
    optimizer = build_optimizer(model, args.weight_decay)
    steps_per_epoch = len(data.train_y) // args.batch_size  # drop the ragged last batch: BN dislikes tiny ones
    total_steps = steps_per_epoch * config["epochs"]
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    start_epoch, history, train_seconds, earlier_stages = 0, [], 0.0, []
    average = WeightAverage(model) if config.get("average_from") else None
    if os.path.exists(ckpt_path) and not args.bench:
        state = torch.load(ckpt_path)
        if state["config"] != config:
            raise SystemExit(f"{ckpt_path} was made with other settings: {state['config']}; move it away to start anew")
        if state["epoch"] >= config["epochs"]:
            print(f"stage {number}: finished earlier ({ckpt_path})", flush=True)
            return ckpt_path
        model.load_state_dict(state.get("iterate", state["model"]))
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history, train_seconds = state["epoch"], state["history"], state["train_seconds"]
        earlier_stages = state.get("stages", [])
        if average:
            average.load_state_dict(state["average"])
        print(f"stage {number}: resumed after epoch {start_epoch}", flush=True)
    elif number > 1 and not args.bench:
        # The earlier stages' settings and results travel along, so the model card can tell the whole story.
        earlier = torch.load(checkpoint_path(args.work_dir, number - 1))
        model.load_state_dict(earlier["model"])
        earlier_stages = earlier.get("stages", []) + [
            {key: earlier[key] for key in ("config", "history", "train_seconds", "average_result") if key in earlier}
        ]
        print(f"stage {number}: warm restart from {config['init_from']}", flush=True)

    model.train()
    for epoch in range(start_epoch, config["epochs"]):
        gen = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        order = torch.randperm(len(data.train_y), generator=gen)
        t_epoch = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = config["lr"] if average else lr_at(step, total_steps, config["lr"], config["warmup"])
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            x, y = data.augment.batch(idx, gen), data.train_y[idx]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                logits = model(x)
            loss = criterion(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if args.bench and i + 1 >= args.bench:
                rate = seen / (time.time() - t_epoch)
                print(f"bench: depth={args.depth} alpha={args.alpha} batch={args.batch_size}: {rate:.0f} images/s")
                raise SystemExit(0)
        epoch_seconds = time.time() - t_epoch
        train_seconds += epoch_seconds
        _, test_acc = evaluate(model, data.test_in, data.test_y)
        record = {
            "epoch": epoch + 1,
            "loss": round(loss_sum / seen, 4),
            "train_acc": round(correct / seen, 4),
            "test_acc": round(test_acc, 4),
            "images_per_s": round(seen / epoch_seconds, 1),
            "epoch_s": round(epoch_seconds, 1),
            "lr_end": round(optimizer.param_groups[0]["lr"], 5),
        }
        if average and epoch + 1 >= config["average_from"]:
            average.add(model)
            record["averaged"] = average.count
        history.append(record)
        left = (config["epochs"] - epoch - 1) * epoch_seconds
        print(
            f"stage {number} epoch {epoch + 1}/{config['epochs']} loss {record['loss']:.4f} "
            f"train {record['train_acc']:.4f} test {record['test_acc']:.4f} {record['images_per_s']:.0f} img/s "
            f"{epoch_seconds:.0f}s left ~{left / 60:.0f} min",
            flush=True,
        )
        with open(log_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        state = {
            "model": model.state_dict(),  # what the stage hands on: its last weights, or at its end its average
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "train_seconds": train_seconds,
            "config": config,
            "stages": earlier_stages,
            "mean": data.mean.tolist(),
            "std": data.std.tolist(),
        }
        if average:
            state.update(iterate=model.state_dict(), average=average.state_dict())
            if epoch + 1 == config["epochs"]:
                state["model"] = average.finish(model, data, args, gen)
                _, averaged_acc = evaluate_weights(args, state["model"], data)
                print(f"stage {number}: average of {average.count} epochs: test {averaged_acc:.4f}", flush=True)
                state["average_result"] = {"epochsAveraged": average.count, "test_acc": round(averaged_acc, 4)}
                with open(log_path, "a") as f:
                    f.write(json.dumps(state["average_result"]) + "\n")
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
    return ckpt_path


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    data = load_data(args)
    # A stage needs only the checkpoint of the stage before it, so the run starts at the latest stage that has one:
    # the earlier stages are done even if their checkpoints have since been deleted.
    started = [n for n in range(1, args.stages + 1) if os.path.exists(checkpoint_path(args.work_dir, n))]
    first = max(started, default=1)
    for number in range(first, args.stages + 1):
        run_stage(args, number, data)

    if not args.no_export:
        from export import export_all

        export_all(
            checkpoint_path(args.work_dir, args.stages),
            args.data_dir,
            os.path.join(args.work_dir, "cache"),
            chosen_after=RECIPES[args.recipe].chosen_after,
        )


if __name__ == "__main__":
    main()
