"""Trains PyramidNet on the CIFAR-10 JPEGs, checkpointing every epoch and resuming after a stop.

    /usr/bin/python3 models/train/train.py            # train (or resume), then export and write the card
    /usr/bin/python3 models/train/train.py --bench 20 # measure training images/s only

The run is deterministic for a seed: the epoch's shuffle and augmentation come from generators seeded by
(seed, epoch), so a resumed run draws the same batches the uninterrupted run would have drawn.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from data import CLASSES, load_split  # noqa: E402
from pyramidnet import PyramidNet  # noqa: E402


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=os.path.join(REPO, "..", "shared", "data", "cifar10"))
    p.add_argument("--work-dir", default=os.path.join(HERE, "work"), help="checkpoints, logs and caches")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--alpha", type=float, default=48)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.2, help="peak learning rate of the one-cycle schedule")
    p.add_argument("--warmup", type=float, default=0.15, help="fraction of steps spent warming up")
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=20261121)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bench", type=int, default=0, help="time this many training steps and exit")
    p.add_argument("--no-export", action="store_true", help="stop after training")
    return p.parse_args()


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


def build_optimizer(model: nn.Module, args: argparse.Namespace) -> torch.optim.Optimizer:
    # Decay only conv and linear weights: decaying BN scales and biases hurts short schedules.
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
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
    test_in = normalize(torch.from_numpy(test_x).permute(0, 3, 1, 2), mean, std)
    test_y_t = torch.from_numpy(test_y)
    train_y_t = torch.from_numpy(train_y)
    augment = Augmenter(train_t, mean, std)

    model = PyramidNet(args.depth, args.alpha).to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, args)
    steps_per_epoch = len(train_x) // args.batch_size  # drop the ragged last batch: BN dislikes tiny ones
    total_steps = steps_per_epoch * args.epochs
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)

    ckpt_path = os.path.join(args.work_dir, "checkpoint.pt")
    log_path = os.path.join(args.work_dir, "log.jsonl")
    config = {k: v for k, v in vars(args).items() if k not in ("bench", "no_export", "data_dir", "work_dir", "threads")}
    start_epoch, history, train_seconds = 0, [], 0.0
    if os.path.exists(ckpt_path) and not args.bench:
        state = torch.load(ckpt_path)
        if state["config"] != config:
            raise SystemExit(f"{ckpt_path} was made with other settings: {state['config']}; move it away to start anew")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch, history, train_seconds = state["epoch"], state["history"], state["train_seconds"]
        print(f"resumed after epoch {start_epoch}", flush=True)

    model.train()
    for epoch in range(start_epoch, args.epochs):
        gen = torch.Generator().manual_seed(args.seed * 1000 + epoch)
        order = torch.randperm(len(train_x), generator=gen)
        t_epoch = time.time()
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(steps_per_epoch):
            step = epoch * steps_per_epoch + i
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step, total_steps, args.lr, args.warmup)
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            x, y = augment.batch(idx, gen), train_y_t[idx]
            logits = model(x)
            loss = criterion(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(idx)
            if args.bench and i + 1 >= args.bench:
                rate = seen / (time.time() - t_epoch)
                print(f"bench: depth={args.depth} alpha={args.alpha} batch={args.batch_size}: {rate:.0f} images/s")
                return
        epoch_seconds = time.time() - t_epoch
        train_seconds += epoch_seconds
        _, test_acc = evaluate(model, test_in, test_y_t)
        record = {
            "epoch": epoch + 1,
            "loss": round(loss_sum / seen, 4),
            "train_acc": round(correct / seen, 4),
            "test_acc": round(test_acc, 4),
            "images_per_s": round(seen / epoch_seconds, 1),
            "epoch_s": round(epoch_seconds, 1),
            "lr_end": round(optimizer.param_groups[0]["lr"], 5),
        }
        history.append(record)
        left = (args.epochs - epoch - 1) * epoch_seconds
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {record['loss']:.4f} train {record['train_acc']:.4f} "
            f"test {record['test_acc']:.4f} {record['images_per_s']:.0f} img/s {epoch_seconds:.0f}s "
            f"left ~{left / 60:.0f} min",
            flush=True,
        )
        with open(log_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "epoch": epoch + 1,
            "history": history,
            "train_seconds": train_seconds,
            "config": config,
            "mean": mean.tolist(),
            "std": std.tolist(),
        }
        torch.save(state, ckpt_path + ".tmp")
        os.replace(ckpt_path + ".tmp", ckpt_path)

    if not args.no_export:
        from export import export_all

        export_all(ckpt_path, args.data_dir, os.path.join(args.work_dir, "cache"))


if __name__ == "__main__":
    main()
