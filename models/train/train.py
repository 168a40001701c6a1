"""Trains PyramidNet on the CIFAR-10 JPEGs by a named recipe, checkpointing every epoch and resuming after a stop.

    /usr/bin/python3 models/train/train.py                   # the shipped model's recipe (or resume it), then export
    /usr/bin/python3 models/train/train.py --recipe staged   # the earlier three-stage recipe of the 1.0.0 model
    /usr/bin/python3 models/train/train.py --recipe v120     # model 1.2.0's recipe (many sessions on 2 CPU cores)
    /usr/bin/python3 models/train/train.py --bench 20        # measure training images/s only

The recipes themselves are in recipes.py, the paths in paths.py, the normalisation in data.py: train.py and
export.py both import them, and neither imports the other at module level.

A recipe names the network (depth, alpha), the seed, the precision and one or more stages. Stage 1 starts from
random weights; every later stage is a warm restart from the stage before (a fresh optimizer and schedule on its
weights). A stage either runs one cycle (warm-up, then decay to zero) and ends with its last weights, or holds a
constant learning rate and ends with the average of its weights over its epochs (stochastic weight averaging,
Izmailov et al. 2018), whose batch-norm statistics are then recomputed on the training images. A recipe may also
keep an exponential moving average of the weights, updated every step and handed on (with batch-norm statistics of
its own) instead of the last weights, and add Cutout to the crops and flips. Stage N checkpoints
to <work>/stageN.pt and logs to <work>/stageN.log.jsonl, where <work> is the recipe's directory under
models/train/work; a run starts at the latest stage that has a checkpoint, a finished stage is not run again, and
an interrupted one resumes at its last epoch.

The run is deterministic for a seed: the epoch's shuffle and augmentation come from generators seeded by
(seed, epoch), so a resumed run draws the same batches the uninterrupted run would have drawn; the checkpoint holds
the weights, the optimizer, the moving average or weight sum, and the history. `--epochs 3 --steps-per-epoch 3
--stop-after-epoch 2` (with a small `--depth 8 --alpha 24`) make a smoke test of stop, resume and export in minutes.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from data import load_split, normalize  # noqa: E402
from paths import DATA_DIR, checkpoint_path  # noqa: E402
from pyramidnet import PyramidNet  # noqa: E402
from recipes import RECIPES, SHIPPED, recipe_work_dir  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--recipe", choices=sorted(RECIPES), default=SHIPPED, help=f"default: {SHIPPED}, the shipped model's")
    p.add_argument("--work-dir", help="checkpoints, logs and caches (default: the recipe's, under models/train/work)")
    p.add_argument("--stages", type=int, default=0, help="run the first N of the recipe's stages (default: all)")
    p.add_argument("--depth", type=int, help="default: the recipe's")
    p.add_argument("--alpha", type=float, help="default: the recipe's")
    p.add_argument("--seed", type=int, help="default: the recipe's")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="bfloat16 autocast (default: the recipe's)")
    p.add_argument("--batch-size", type=int, help="default: the recipe's")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bench", type=int, default=0, help="time this many training steps of stage 1 and exit")
    p.add_argument("--no-export", action="store_true", help="stop after training")
    # For a smoke test of checkpoint, resume, averaging and export in minutes; a run shortened by --epochs or
    # --steps-per-epoch records that in its checkpoint's config, so it can never pass for (or resume) the real one.
    p.add_argument("--epochs", type=int, help="smoke test: every stage this many epochs (default: the recipe's)")
    p.add_argument("--steps-per-epoch", type=int, help="smoke test: this many steps per epoch (default: all images)")
    p.add_argument("--stop-after-epoch", type=int, default=0, help="smoke test: exit after this epoch, as a stop would")
    args = p.parse_args()
    recipe = RECIPES[args.recipe]
    for name in ("depth", "alpha", "seed", "bf16", "batch_size"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(recipe, name))
    args.cutout, args.ema_decay = recipe.cutout, recipe.ema_decay
    args.work_dir = args.work_dir or recipe_work_dir(recipe)
    args.stage_list = recipe.stages
    if args.epochs:
        args.stage_list = tuple(replace(stage, epochs=args.epochs) for stage in recipe.stages)
    args.stages = args.stages or len(args.stage_list)
    if not 1 <= args.stages <= len(args.stage_list):
        p.error(f"--stages must be between 1 and {len(args.stage_list)}")
    return args


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Augmenter:
    """Random 32x32 crops from 4-pixel zero padding, horizontal flips and optionally Cutout, on whole batches."""

    def __init__(self, images_nchw_uint8: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, cutout: int = 0) -> None:
        self.padded = F.pad(images_nchw_uint8, (4, 4, 4, 4))
        self.mean = mean
        self.std = std
        self.base = torch.arange(32)
        self.cutout = cutout

    def batch(self, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        b = idx.numel()
        dy = torch.randint(0, 9, (b,), generator=gen)
        dx = torch.randint(0, 9, (b,), generator=gen)
        flip = torch.rand(b, generator=gen) < 0.5
        rows = (dy[:, None] + self.base)[:, None, :, None]
        cols = (dx[:, None] + self.base)
        cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
        crops = self.padded[idx[:, None, None, None], torch.arange(3)[None, :, None, None], rows, cols]
        x = to_channels_last(normalize(crops, self.mean, self.std))
        if self.cutout:
            # Drawn after the crops and flips, so recipes without Cutout draw exactly what they always drew.
            x = to_channels_last(x * self.cutout_mask(b, gen))
        return x

    def cutout_mask(self, b: int, gen: torch.Generator) -> torch.Tensor:
        """Zero (the channel mean, after normalisation) over a square centred anywhere, clipped at the borders."""
        cy = torch.randint(0, 32, (b,), generator=gen)[:, None]
        cx = torch.randint(0, 32, (b,), generator=gen)[:, None]
        top, left = cy - self.cutout // 2, cx - self.cutout // 2
        in_rows = (self.base >= top) & (self.base < top + self.cutout)  # (b, 32)
        in_cols = (self.base >= left) & (self.base < left + self.cutout)
        return (~(in_rows[:, :, None] & in_cols[:, None, :])).float()[:, None, :, :]


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last)


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

    key = "average"  # its state's and its result's names in the checkpoint

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

    def finish(self, model: nn.Module, data: "Data", args: argparse.Namespace, gen: torch.Generator) -> dict:
        """The averaged weights, with running BN statistics from one pass over the augmented training images."""
        averaged = {n: (total / self.count).float() for n, total in self.sum.items()}
        return with_own_bn_statistics(model, averaged, data, args, gen)

    def describe(self) -> str:
        return f"average of {self.count} epochs"

    def summary(self) -> dict:
        return {"epochsAveraged": self.count}


class WeightEma:
    """An exponential moving average of a model's parameters, updated after every step (Polyak averaging with
    forgetting); like the SWA average, it gets batch-norm statistics of its own at the end."""

    key = "ema"

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for n, p in model.named_parameters():
            self.shadow[n].mul_(self.decay).add_(p.detach(), alpha=1.0 - self.decay)

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "decay": self.decay}

    def load_state_dict(self, state: dict) -> None:
        self.shadow, self.decay = state["shadow"], state["decay"]

    def finish(self, model: nn.Module, data: "Data", args: argparse.Namespace, gen: torch.Generator) -> dict:
        return with_own_bn_statistics(model, self.shadow, data, args, gen)

    def describe(self) -> str:
        return f"moving average (decay {self.decay:g})"

    def summary(self) -> dict:
        return {"decay": self.decay}


@torch.no_grad()
def with_own_bn_statistics(
    model: nn.Module, parameters: dict, data: "Data", args: argparse.Namespace, gen: torch.Generator
) -> dict:
    """`model`'s state with `parameters` in place of its own and running BN statistics recomputed for them from one
    pass over the augmented training images."""
    averaged = new_model(args)
    averaged.load_state_dict(model.state_dict())
    for n, p in averaged.named_parameters():
        p.copy_(parameters[n])
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
        augment=Augmenter(train_t, mean, std, args.cutout),
        train_y=torch.from_numpy(train_y),
        test_in=to_channels_last(normalize(torch.from_numpy(test_x).permute(0, 3, 1, 2), mean, std)),
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
    # Likewise each of these keys only where it is set, so that the earlier recipes' checkpoints still match.
    if args.cutout:
        config["cutout"] = args.cutout
    if args.ema_decay:
        config["ema_decay"] = args.ema_decay
    if args.steps_per_epoch:
        config["steps_per_epoch"] = args.steps_per_epoch  # a smoke test's, never a real run's
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
    steps_per_epoch = config.get("steps_per_epoch", steps_per_epoch)
    total_steps = steps_per_epoch * config["epochs"]
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    start_epoch, history, train_seconds, earlier_stages = 0, [], 0.0, []
    average = WeightAverage(model) if config.get("average_from") else None
    ema = WeightEma(model, config["ema_decay"]) if config.get("ema_decay") else None
    if average and ema:
        raise SystemExit(f"stage {number} both averages its weights from epoch {config['average_from']} and keeps "
                         "a moving average of them; a stage hands on one of the two, so set only one")
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
        if ema:
            ema.load_state_dict(state["ema"])
        print(f"stage {number}: resumed after epoch {start_epoch}", flush=True)
    elif number > 1 and not args.bench:
        # The earlier stages' settings and results travel along, so the model card can tell the whole story.
        earlier = torch.load(checkpoint_path(args.work_dir, number - 1))
        model.load_state_dict(earlier["model"])
        earlier_stages = earlier.get("stages", []) + [
            {
                key: earlier[key]
                for key in ("config", "history", "train_seconds", "average_result", "ema_result")
                if key in earlier
            }
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
            if ema:
                ema.update(model)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if (i + 1) % 20 == 0 and not args.bench:
                # A long epoch on a shared machine: the speed so far, to stdout only (the log keeps whole epochs).
                rate = seen / (time.time() - t_epoch)
                print(f"  epoch {epoch + 1} step {i + 1}/{steps_per_epoch}: {rate:.1f} img/s", flush=True)
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
        averager = ema or average
        if averager:
            # What the stage hands on at its end (and export ships) is the average, never the last iterate, whose
            # test accuracy is in the log for the record only.
            state.update({"iterate": model.state_dict(), averager.key: averager.state_dict()})
            if epoch + 1 == config["epochs"]:
                state["model"] = averager.finish(model, data, args, gen)
                _, averaged_acc = evaluate_weights(args, state["model"], data)
                print(f"stage {number}: {averager.describe()}: test {averaged_acc:.4f}", flush=True)
                state[f"{averager.key}_result"] = {**averager.summary(), "test_acc": round(averaged_acc, 4)}
                with open(log_path, "a") as f:
                    f.write(json.dumps(state[f"{averager.key}_result"]) + "\n")
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)
        if epoch + 1 == args.stop_after_epoch:
            print(f"stage {number}: stopped after epoch {epoch + 1} (--stop-after-epoch)", flush=True)
            raise SystemExit(0)
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

        recipe = RECIPES[args.recipe]
        export_all(
            checkpoint_path(args.work_dir, args.stages),
            args.data_dir,
            os.path.join(args.work_dir, "cache"),
            recipe=recipe,
        )


if __name__ == "__main__":
    main()
