"""The peer: the same PyramidNet served the way the seeds do it, for the throughput benchmark.

FastAPI + uvicorn (2 worker processes) + PyTorch eager, Pillow + torchvision transforms for preprocessing.
It is written as a typical FastAPI model server is written, not tuned for this benchmark: the model is loaded
at import, the handler is `async def` and runs the forward pass on the worker's event loop, one image per
forward pass, PyTorch with its default thread count. Only the weights and the preprocessing figures are shared
with our service (read from models/pyramidnet/<version>/pyramidnet.json), so both answer the same question on the same images.

    /usr/bin/python3 -m uvicorn app:app --app-dir bench/peer --host 127.0.0.1 --port 8100 --workers 2

Environment: PEER_REPO (repository root; default: two levels up), PEER_TORCH_THREADS (torch.set_num_threads;
unset keeps PyTorch's default, as the seeds do).
"""
from __future__ import annotations

import io
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from fastapi import FastAPI, File, HTTPException, Query, UploadFile
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision import transforms

REPO = os.environ.get("PEER_REPO") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "models", "train"))

from pyramidnet import PyramidNet  # noqa: E402

# The default version of the model repository (models/<model>/<version>/), the one the service serves by default.
MODEL_DIR = os.path.join(REPO, "models", "pyramidnet", os.environ["PEER_MODEL_VERSION"])  # set by bench/systems.ts
with open(os.path.join(MODEL_DIR, "pyramidnet.json")) as f:
    CARD = json.load(f)

if os.environ.get("PEER_TORCH_THREADS"):
    torch.set_num_threads(int(os.environ["PEER_TORCH_THREADS"]))

LABELS = CARD["labels"]
PRE = CARD["preprocessing"]
SIZE = (PRE["resize"]["height"], PRE["resize"]["width"])

model = PyramidNet(CARD["architecture"]["depth"], CARD["architecture"]["alpha"], num_classes=len(LABELS))
model.load_state_dict(torch.load(os.path.join(MODEL_DIR, CARD["stateDict"]), map_location="cpu"))
model.eval()

# The card's recipe: fit "cover" at the centre with Lanczos, i.e. shorter side to 32 then a centre crop.
transform = transforms.Compose(
    [
        transforms.Resize(min(SIZE), interpolation=transforms.InterpolationMode.LANCZOS),
        transforms.CenterCrop(SIZE),
        transforms.ToTensor(),
        transforms.Normalize(PRE["mean"], PRE["std"]),
    ]
)

app = FastAPI(title="PyramidNet (FastAPI + PyTorch peer)")


@app.get("/health")
async def health():
    return {"status": "ok", "pid": os.getpid()}


@app.post("/predict")
async def predict(file: UploadFile = File(...), top_k: int = Query(5, ge=1, le=10)):
    start = time.perf_counter()
    contents = await file.read()
    try:
        image = Image.open(io.BytesIO(contents))
        image = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError):
        raise HTTPException(status_code=415, detail="not a decodable image")
    tensor = transform(image).unsqueeze(0)
    with torch.no_grad():
        probabilities = F.softmax(model(tensor), dim=1)[0]
    values, indices = probabilities.topk(top_k)
    top = [
        {"label": LABELS[i], "index": int(i), "probability": float(p)}
        for p, i in zip(values.tolist(), indices.tolist())
    ]
    return {
        "prediction": {"label": top[0]["label"], "index": top[0]["index"], "confidence": top[0]["probability"]},
        "top_k": top,
        "model": {"name": CARD["name"], "version": CARD["version"]},
        "latency_ms": round((time.perf_counter() - start) * 1000, 3),
    }
