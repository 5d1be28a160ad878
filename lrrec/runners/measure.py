"""Measure a task's fingerprint from its data and model (the catalog holds the same facts for named tasks)."""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from lrrec.fingerprint import TaskFingerprint
from lrrec.runners.data import FolderData, TensorData
from lrrec.runners.surfaces import Surface
from lrrec.runners.tasks import Task


def model_features(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """Parameters, forward FLOPs for one sample, depth (weight layers), normalisation and residual flags."""
    device = next(model.parameters()).device
    return {**structure_features(model),
            "forward_flops": forward_flops(model, lambda: model(torch.zeros((1, *input_shape), device=device)))}


def structure_features(model: nn.Module) -> dict[str, Any]:
    """Parameters, depth (weight layers), normalisation, and the residual flag the model declares."""
    n_params = sum(p.numel() for p in model.parameters())
    depth = sum(1 for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d)))
    has_norm = any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm)) for m in model.modules())
    return {"n_params": int(n_params), "depth": depth, "has_norm": has_norm,
            "has_residual": bool(getattr(model, "has_residual", False))}


def forward_flops(model: nn.Module, forward: Callable[[], Any]) -> float:
    """The FLOPs torch counts in `forward()`, run in eval mode without gradients (the mode is restored)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            forward()
    finally:
        model.train(was_training)
    return float(counter.get_total_flops())


def data_features(data: TensorData) -> dict[str, Any]:
    """Samples, classes, input shape, class balance (normalised label entropy) and a content hash."""
    counts = torch.bincount(data.y_train.cpu(), minlength=data.n_classes).double()
    p = counts / counts.sum()
    entropy = float(-(p[p > 0] * p[p > 0].log()).sum())
    balance = entropy / math.log(data.n_classes) if data.n_classes > 1 else 1.0
    digest = hashlib.sha256()
    for tensor in (data.x_train, data.y_train, data.x_val, data.y_val):
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    shape = [int(n) for n in data.input_shape]
    return {"n_train": len(data.x_train), "n_classes": int(data.n_classes), "input_shape": shape,
            "input_numel": int(math.prod(shape)), "class_balance": round(min(balance, 1.0), 6),
            "data_hash": digest.hexdigest()[:16]}


def measure(task: Task, data: Any) -> TaskFingerprint:
    """The fingerprint of a built-in or user task from its loaded data and a freshly built model."""
    base: dict[str, Any] = {"name": task.name, "dataset": task.dataset, "model": task.model}
    if isinstance(data, Surface):
        return TaskFingerprint(**base, task_kind="surface", input_shape=[2], input_numel=2, n_params=2, depth=0,
                               has_norm=False, has_residual=False)
    model = task.build(data)
    if isinstance(data, TensorData):
        features = {**data_features(data), **model_features(model, data.input_shape)}
    elif isinstance(data, FolderData):
        shape = (3, data.image_size, data.image_size)
        n_train = sum(len(files) for _, _, files in os.walk(data.train_dir))
        features = {"n_train": n_train, "n_classes": data.n_classes, "input_shape": list(shape),
                    "input_numel": int(math.prod(shape)), **model_features(model, shape)}
    else:  # a user task: measured from its model and train loader, as `lrrec.fingerprint_of` does
        from lrrec.runners.measure_loader import loader_features

        features = loader_features(model, data.train_loader, task.kind)
    return TaskFingerprint(**{**base, "task_kind": task.kind, **features})
