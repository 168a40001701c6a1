"""Where the training code, the repository, the data and the runs live: written once, imported by train and export."""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))  # models/train
REPO = os.path.dirname(os.path.dirname(HERE))
MODELS_DIR = os.path.join(REPO, "models")
DATA_DIR = os.path.join(REPO, "..", "shared", "data", "cifar10")  # train.tar.gz and test.tar.gz
WORK_ROOT = os.path.join(HERE, "work")  # ignored by git: recipes' checkpoints, caches, parity tensors
FIXTURES_DIR = os.path.join(REPO, "__tests__", "fixtures")  # committed: what jest reads without Python or ../shared


def parity_dir(version: str) -> str:
    """One exported version's PyTorch tensors for all 5,000 test images, read by scripts/parity.ts (not committed)."""
    return os.path.join(WORK_ROOT, "parity", version)


def golden_dir(version: str) -> str:
    """One version's golden fixture tensors (read by __tests__/service/helpers.ts and the benchmark); every version
    keeps its own, so exporting a new one leaves the default version's in place."""
    return os.path.join(FIXTURES_DIR, "golden", version)


def checkpoint_path(work_dir: str, stage_number: int) -> str:
    return os.path.join(work_dir, f"stage{stage_number}.pt")
