"""CIFAR-10 JPEG archives decoded once into uint8 arrays (N, 32, 32, 3), cached beside the recipe, and the
normalisation that training, export and the golden fixtures share."""
from __future__ import annotations

import io
import os
import tarfile

import numpy as np
import torch
from PIL import Image

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def decode_rgb(data: bytes) -> np.ndarray:
    """The reference decode: what the service's sharp pipeline must reproduce (see the model card)."""
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def read_archive(path: str):
    """Yields (class_name, member_name, jpeg_bytes) in a stable order: class index, then file name."""
    with tarfile.open(path, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.lower().endswith(".jpg")]
        members.sort(key=lambda m: (CLASSES.index(m.name.split("/")[-2]), m.name))
        for m in members:
            yield m.name.split("/")[-2], m.name, tar.extractfile(m).read()


def load_split(archive: str, cache_dir: str):
    """Returns (images uint8 NHWC, labels int64, member names), decoding the archive only once."""
    os.makedirs(cache_dir, exist_ok=True)
    stem = os.path.basename(archive).split(".")[0]
    cache = os.path.join(cache_dir, f"{stem}.npz")
    if os.path.exists(cache):
        z = np.load(cache)
        return z["images"], z["labels"], list(z["names"])
    images, labels, names = [], [], []
    for cls, name, data in read_archive(archive):
        img = decode_rgb(data)
        if img.shape != (32, 32, 3):
            raise ValueError(f"{name}: expected 32x32 RGB, got {img.shape}")
        images.append(img)
        labels.append(CLASSES.index(cls))
        names.append(name)
    arrays = dict(images=np.stack(images), labels=np.array(labels, dtype=np.int64), names=np.array(names))
    np.savez(cache + ".tmp.npz", **arrays)
    os.replace(cache + ".tmp.npz", cache)
    return arrays["images"], arrays["labels"], names


def normalize(images_nchw_uint8: torch.Tensor, mean, std) -> torch.Tensor:
    """x = (pixel / 255 - mean[c]) / std[c] as contiguous float32 NCHW: the model card's formula."""
    mean = torch.as_tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.as_tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((images_nchw_uint8.float() / 255.0 - mean) / std).contiguous()
