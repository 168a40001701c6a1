"""Where the training code, the repository, the data and the runs live: written once, imported by train and export."""
from __future__ import annotations

import os

HERE = os.path.dirname(os.path.abspath(__file__))  # models/train
REPO = os.path.dirname(os.path.dirname(HERE))
MODELS_DIR = os.path.join(REPO, "models")
DATA_DIR = os.path.join(REPO, "..", "shared", "data", "cifar10")  # train.tar.gz and test.tar.gz
WORK_ROOT = os.path.join(HERE, "work")  # ignored by git: recipes' checkpoints, caches, parity tensors
PARITY_DIR = os.path.join(WORK_ROOT, "parity")  # read by scripts/parity.ts


def checkpoint_path(work_dir: str, stage_number: int) -> str:
    return os.path.join(work_dir, f"stage{stage_number}.pt")
