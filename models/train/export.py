"""Exports a training checkpoint: ONNX model, state_dict, model card, and the golden fixtures for jest.

    /usr/bin/python3 models/train/export.py [--recipe long] [--checkpoint models/train/work/long/stage1.pt] [--flip-tta]

Writes
  models/pyramidnet/<version>/{pyramidnet.onnx,pyramidnet.pt,pyramidnet.json (the model card)}
      one version's folder of the model repository (the recipe's version)
  __tests__/fixtures/cifar10/<class>/<NNNN>.jpg   10 test images per class
  __tests__/fixtures/golden/<version>/{manifest.json,inputs.f32,logits.f32}
      the recipe's own preprocessing of those images and this version's PyTorch logits (float32, little-endian,
      NCHW); other versions' golden folders are left as they are
  models/train/work/parity/<version>/{test_inputs.f32,test_logits.f32,test_labels.json}
      the same for all 5,000 test images, for the ONNX Runtime parity check (`npm run parity -- --model-version
      <version>`; not committed: 61 MB)
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from data import CLASSES, load_split, normalize, read_archive  # noqa: E402
from paths import DATA_DIR, FIXTURES_DIR, MODELS_DIR, WORK_ROOT, checkpoint_path, golden_dir, parity_dir  # noqa: E402
from pyramidnet import PyramidNet, count_macs  # noqa: E402
from recipes import RECIPES, SHIPPED, Recipe, recipe_work_dir  # noqa: E402

MODEL_NAME = "pyramidnet"
FIXTURES_PER_CLASS = 10


def version_dir(version: str) -> str:
    """One version's folder of the model repository, as the service reads it: models/<model>/<version>/."""
    return os.path.join(MODELS_DIR, MODEL_NAME, version)


class FlipAveraged(torch.nn.Module):
    """Flip test-time augmentation inside the graph: each image and its mirror run as one batch, logits averaged.
    Inputs and outputs stay those of the plain network; each image costs two forward passes."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(torch.cat([x, x.flip(3)]))
        plain, mirrored = logits.chunk(2)
        return (plain + mirrored) / 2


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def preprocess(images_nhwc_uint8: np.ndarray, mean, std) -> torch.Tensor:
    return normalize(torch.from_numpy(images_nhwc_uint8).permute(0, 3, 1, 2), mean, std)


@torch.no_grad()
def logits_of(model, x: torch.Tensor, batch: int = 500) -> torch.Tensor:
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])


def accuracy_report(logits: torch.Tensor, labels: np.ndarray) -> dict:
    y = torch.from_numpy(labels)
    top5 = logits.topk(5, dim=1).indices
    top1_hit = top5[:, 0] == y
    top5_hit = (top5 == y[:, None]).any(1)
    per_class = {
        name: round(top1_hit[y == i].float().mean().item(), 4) for i, name in enumerate(CLASSES)
    }
    return {
        "images": int(len(y)),
        "top1": round(top1_hit.float().mean().item(), 4),
        "top5": round(top5_hit.float().mean().item(), 4),
        "perClassTop1": per_class,
    }


def write_f32(path: str, t: torch.Tensor) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t.detach().numpy().astype("<f4").tofile(path)


def describe_stage(stage: dict) -> dict:
    """One training run, as the card tells it: a later stage is a warm restart from the one before."""
    cfg, history = stage["config"], stage["history"]
    if cfg.get("average_from"):
        schedule = (
            f"constant learning rate {cfg['lr']:g}; the weights after epochs {cfg['average_from']} to "
            f"{cfg['epochs']} averaged (SWA), then batch-norm statistics recomputed on the augmented training images"
        )
    else:
        schedule = (
            f"one cycle: linear warm-up over {cfg['warmup']:.0%} of steps from {cfg['lr'] / 10:g} to "
            f"{cfg['lr']:g}, then linear decay to 0"
        )
    described = {
        "epochs": cfg["epochs"],
        "start": f"the weights after {cfg['init_from_epochs']} epochs" if cfg.get("init_from") else "random weights",
        "schedule": schedule,
        "wallTimeSeconds": round(stage["train_seconds"]),
        "finalEpoch": history[-1] if history else None,
    }
    if cfg.get("ema_decay"):
        described["schedule"] += (
            f"; exported: an exponential moving average of the weights (decay {cfg['ema_decay']:g} per step), "
            "its batch-norm statistics recomputed on the augmented training images"
        )
    if "average_result" in stage:
        described["average"] = stage["average_result"]
    if "ema_result" in stage:
        described["movingAverage"] = stage["ema_result"]
    if "hardware" in stage:
        described["hardware"] = stage["hardware"]
    if "epoch_rule" in stage:
        described["epochBudget"] = stage["epoch_rule"]  # how a budgeted recipe's length was fixed before it ran
    return described


def protocol(stage_count: int, chosen_after: str = "") -> str:
    blind = (
        "the exported weights are the last stage's result, never picked by test accuracy, and no setting was swept "
        "on the test images"
    )
    caveats = []
    if stage_count > 1:
        later = {2: "stage 2 was", 3: "stages 2 and 3 were"}.get(stage_count, f"stages 2 to {stage_count} were")
        caveats.append(
            f"{later} added after seeing the earlier stages' test accuracy, so the figures are not from a blind protocol"
        )
    if chosen_after:
        caveats.append(
            f"the recipe was chosen after {chosen_after}, so the figures are a slightly optimistic estimate for new images"
        )
    return "; but ".join([blind, *caveats])


def precision(cfg: dict) -> str:
    if cfg.get("autocast") == "bfloat16":
        return "bfloat16 autocast in the training forward pass; weights, optimizer updates and evaluation in float32"
    return "float32"


def augmentation(cfg: dict) -> str:
    described = "random 32x32 crop from 4-pixel zero padding, horizontal flip"
    if cfg.get("cutout"):
        described += f", Cutout of a {cfg['cutout']}x{cfg['cutout']} square (clipped at the borders)"
    return described


def export_all(checkpoint: str, data_dir: str, cache_dir: str, recipe: Recipe, flip_tta: bool = False) -> dict:
    state = torch.load(checkpoint)
    cfg = state["config"]
    # Four decimals, as the training run rounded them; float32 noise would only clutter the card.
    mean, std = [round(float(v), 4) for v in state["mean"]], [round(float(v), 4) for v in state["std"]]
    network = PyramidNet(cfg["depth"], cfg["alpha"])
    network.load_state_dict(state["model"])
    network.eval()
    model = FlipAveraged(network).eval() if flip_tta else network

    out_dir = version_dir(recipe.version)
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, f"{MODEL_NAME}.onnx")
    torch.save(network.state_dict(), os.path.join(out_dir, f"{MODEL_NAME}.pt"))
    torch.onnx.export(
        model,
        torch.zeros(1, 3, 32, 32),
        onnx_path,
        opset_version=17,
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        do_constant_folding=True,
    )

    test_x, test_y, test_names = load_split(os.path.join(data_dir, "test.tar.gz"), cache_dir)
    test_in = preprocess(test_x, mean, std)
    test_logits = logits_of(model, test_in)
    evaluation = accuracy_report(test_logits, test_y)

    parity = parity_dir(recipe.version)
    write_f32(os.path.join(parity, "test_inputs.f32"), test_in)
    write_f32(os.path.join(parity, "test_logits.f32"), test_logits)
    with open(os.path.join(parity, "test_labels.json"), "w") as f:
        json.dump({"names": [str(n) for n in test_names], "labels": test_y.tolist()}, f)

    write_fixtures(data_dir, model, mean, std, recipe.version)

    forward_passes = 2 if flip_tta else 1  # the card's MACs are what one image costs through the exported graph
    stages = [describe_stage(stage) for stage in state.get("stages", [])] + [describe_stage(state)]
    card = {
        "name": MODEL_NAME,
        "version": recipe.version,
        "description": "PyramidNet trained from scratch on CIFAR-10 (32x32 RGB, 10 classes).",
        "file": os.path.basename(onnx_path),
        "sha256": sha256_of(onnx_path),
        "stateDict": f"{MODEL_NAME}.pt",
        "labels": CLASSES,
        "input": {"name": "input", "dtype": "float32", "layout": "NCHW", "shape": [-1, 3, 32, 32]},
        "output": {
            "name": "logits",
            "dtype": "float32",
            "shape": [-1, len(CLASSES)],
            "meaning": "logits: unnormalised class scores; apply softmax for probabilities",
        },
        "preprocessing": {
            "decode": "decode the image; apply EXIF orientation; take the first frame of an animation",
            "alpha": {"flattenOnto": [255, 255, 255]},
            "colorSpace": "srgb",
            "channels": 3,
            "channelOrder": "RGB",
            "resize": {"width": 32, "height": 32, "fit": "cover", "position": "centre", "kernel": "lanczos3"},
            "scale": 1 / 255,
            "mean": mean,
            "std": std,
            "formula": "x = (pixel / 255 - mean[c]) / std[c], laid out NCHW",
        },
        "architecture": {
            "family": "PyramidNet (Han, Kim and Kim, CVPR 2017)",
            "block": "basic: BN-conv3x3-BN-ReLU-conv3x3-BN, zero-padded identity shortcut",
            "depth": cfg["depth"],
            "alpha": int(cfg["alpha"]) if float(cfg["alpha"]).is_integer() else cfg["alpha"],  # 64, not 64.0
            "parameters": int(sum(p.numel() for p in network.parameters())),
            "macs": int(forward_passes * count_macs(network)),
            "flops": int(2 * forward_passes * count_macs(network)),
        },
        "training": {
            "data": "CIFAR-10 train.tar.gz: 50,000 JPEGs",
            "epochs": sum(stage["epochs"] for stage in stages),
            "batchSize": cfg["batch_size"],
            "optimizer": "SGD, momentum 0.9, Nesterov",
            "weightDecay": cfg["weight_decay"],
            "labelSmoothing": cfg["label_smoothing"],
            "augmentation": augmentation(cfg),
            "seed": cfg["seed"],
            "wallTimeSeconds": sum(stage["wallTimeSeconds"] for stage in stages),
            "threads": 2,
            "precision": precision(cfg),
            "framework": f"PyTorch {torch.__version__}",
            "stages": stages,
            "exportedAt": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "evaluation": {
            "dataset": "CIFAR-10 test.tar.gz: 5,000 JPEGs, 500 per class",
            "protocol": protocol(len(stages), recipe.chosen_after),
            "framework": "PyTorch, on the recipe's preprocessing",
            **evaluation,
        },
        "onnx": {"opset": 17, "dynamicBatch": True},
    }
    if flip_tta:
        card["testTimeAugmentation"] = {
            "method": "each image and its horizontal mirror as one batch inside the ONNX graph, logits averaged",
            "forwardPassesPerImage": forward_passes,
            "macsPerForwardPass": int(count_macs(network)),
        }
    with open(os.path.join(out_dir, f"{MODEL_NAME}.json"), "w") as f:
        json.dump(card, f, indent=2)
        f.write("\n")
    print(f"exported {onnx_path} sha256 {card['sha256']}: top-1 {evaluation['top1']:.4f}, top-5 {evaluation['top5']:.4f}")
    return card


def write_fixtures(data_dir: str, model, mean, std, version: str) -> None:
    """Ten test images per class, with the recipe's preprocessing and logits, for tests without ../shared. The
    images are the first ten of each class in the test archive, the same for every version; the tensors go to
    this version's own golden folder, and the manifest's image paths are relative to the fixtures folder."""
    from data import decode_rgb

    fixtures = FIXTURES_DIR
    images_dir = os.path.join(fixtures, "cifar10")
    shutil.rmtree(images_dir, ignore_errors=True)
    taken = {c: 0 for c in CLASSES}
    entries, pixels = [], []
    for cls, name, data in read_archive(os.path.join(data_dir, "test.tar.gz")):
        if taken[cls] >= FIXTURES_PER_CLASS:
            continue
        taken[cls] += 1
        rel = f"cifar10/{cls}/{os.path.basename(name)}"
        os.makedirs(os.path.join(images_dir, cls), exist_ok=True)
        with open(os.path.join(fixtures, rel), "wb") as f:
            f.write(data)
        entries.append({"file": rel, "label": cls, "index": CLASSES.index(cls)})
        pixels.append(decode_rgb(data))
    x = preprocess(np.stack(pixels), mean, std)
    with torch.no_grad():
        logits = model(x)
    golden = golden_dir(version)
    write_f32(os.path.join(golden, "inputs.f32"), x)
    write_f32(os.path.join(golden, "logits.f32"), logits)
    with open(os.path.join(golden, "manifest.json"), "w") as f:
        json.dump(
            {
                "description": "Recipe preprocessing (PIL decode) and PyTorch logits of the fixture images",
                "version": version,
                "inputs": {"file": "inputs.f32", "dtype": "float32", "endianness": "little", "shape": list(x.shape)},
                "logits": {"file": "logits.f32", "dtype": "float32", "endianness": "little", "shape": list(logits.shape)},
                "images": entries,
            },
            f,
            indent=2,
        )
        f.write("\n")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", choices=sorted(RECIPES), default=SHIPPED, help="the recipe that made the checkpoint")
    p.add_argument("--checkpoint", help="the last stage's (default: the recipe's)")
    p.add_argument("--data-dir", default=DATA_DIR)
    p.add_argument("--flip-tta", action="store_true", help="average each image's and its mirror's logits in the graph")
    args = p.parse_args()
    recipe = RECIPES[args.recipe]
    checkpoint = args.checkpoint or checkpoint_path(recipe_work_dir(recipe), len(recipe.stages))
    torch.set_num_threads(2)
    export_all(checkpoint, args.data_dir, os.path.join(WORK_ROOT, "cache"), recipe, flip_tta=args.flip_tta)
