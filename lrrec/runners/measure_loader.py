"""`fingerprint_of`: a task's fingerprint measured from what a user has, a model and its train loader.

One forward pass of one sample (FLOPs counted) and the loader's dataset: no training, no pass over the data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.runners.measure import forward_flops, structure_features

# submodule class names that mark normalisation or residual connections in models lrrec did not build
_NORM_NAME = re.compile(r"norm", re.IGNORECASE)
_RESIDUAL_NAME = re.compile(r"residual|resblock|bottleneck|basicblock|transformer|block$|layer$", re.IGNORECASE)
_LABEL_KEYS = ("labels", "label", "targets", "target", "y")


def fingerprint_of(model: nn.Module, train_loader: Iterable[Any], *, name: str | None = None,
                   task_kind: str | None = None, n_train: int | None = None,
                   has_residual: bool | None = None, extra: Mapping[str, Any] | None = None) -> TaskFingerprint:
    """Measure the task of `model` trained on `train_loader` (batches `(inputs, targets)` or dicts of tensors).

    `name` is "dataset/model" (default: the dataset's and the model's class names). Integer targets make a
    classification task (`n_classes`: the model's output size), float targets a regression one (`n_classes`: the
    output size per sample); `task_kind` overrides. `n_train` is needed only when the loader's dataset has no
    length. Residual connections are read off submodule names (ResNet blocks, transformer layers) unless the
    model sets `has_residual` or it is given.
    """
    features = loader_features(model, train_loader, task_kind, n_train, has_residual)
    dataset = getattr(train_loader, "dataset", None)
    source = train_loader if dataset is None else dataset
    named = TaskFingerprint.from_name(name or f"{_label(source)}/{_label(model)}")
    return TaskFingerprint(name=named.name, dataset=named.dataset, model=named.model, extra=dict(extra or {}),
                           **features)


def loader_features(model: nn.Module, train_loader: Iterable[Any], task_kind: str | None = None,
                    n_train: int | None = None, has_residual: bool | None = None) -> dict[str, Any]:
    """The fingerprint's features (and `task_kind`) measured from a model and its train loader."""
    if not isinstance(model, nn.Module) or not any(True for _ in model.parameters()):
        raise InvalidValueError(f"fingerprint_of needs a torch nn.Module with parameters, got {type(model).__name__}")
    inputs, targets = split_batch(_first_batch(train_loader))
    sample = _one_sample(inputs, next(model.parameters()).device)
    outputs: list[Any] = []
    try:
        flops = forward_flops(model, lambda: outputs.append(call_model(model, sample)))
    except (RuntimeError, TypeError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InvalidValueError(f"the model fails on the train loader's first sample: {first_line}") from None
    output = _logits(outputs[0])
    kind = task_kind or ("regression" if targets is not None and targets.is_floating_point() else "classification")
    shape = [int(n) for n in _main_tensor(sample).shape[1:]]
    structure = _structure(model, has_residual)
    dataset = getattr(train_loader, "dataset", None)
    outputs_per_sample = int(output.shape[-1]) if kind == "classification" else int(output[0].numel())
    return {"task_kind": kind, "n_train": _n_train(train_loader, dataset, n_train), "n_classes": outputs_per_sample,
            "input_shape": shape or None, "input_numel": math.prod(shape) if shape else 1,
            "class_balance": _class_balance(dataset, outputs_per_sample) if kind == "classification" else None,
            "forward_flops": flops, **structure}


def _structure(model: nn.Module, has_residual: bool | None) -> dict[str, Any]:
    """Depth, parameters, normalisation and residual connections (also told by module names; `has_residual`
    overrides)."""
    structure = structure_features(model)
    if not structure["has_norm"]:
        structure["has_norm"] = any(_NORM_NAME.search(type(m).__name__) for m in model.modules())
    structure["has_residual"] = has_residual if has_residual is not None else (
        structure["has_residual"] or any(_RESIDUAL_NAME.search(type(m).__name__) for m in model.modules()))
    return structure


def _first_batch(loader: Iterable[Any]) -> Any:
    try:
        return next(iter(loader))
    except StopIteration:
        raise InvalidValueError("the train loader yields no batch; give fingerprint_of a loader with data") from None


def split_batch(batch: Any) -> tuple[Any, torch.Tensor | None]:
    """(inputs, targets) of a batch: a tuple/list `(x, y, ...)`, a dict with a label key, or inputs alone."""
    if isinstance(batch, Mapping):
        label = next((k for k in _LABEL_KEYS if k in batch), None)
        inputs = {k: v for k, v in batch.items() if k != label}
        return inputs, batch[label] if label else None
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise InvalidValueError("the train loader yields empty batches")
        target = batch[1] if len(batch) > 1 and isinstance(batch[1], torch.Tensor) else None
        return batch[0], target
    return batch, None


def _one_sample(inputs: Any, device: torch.device) -> Any:
    if isinstance(inputs, Mapping):
        return {k: v[:1].to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
    if not isinstance(inputs, torch.Tensor):
        raise InvalidValueError(f"the train loader's inputs must be a tensor or a dict of tensors, got "
                                f"{type(inputs).__name__}")
    return inputs[:1].to(device)


def call_model(model: nn.Module, sample: Any) -> Any:
    return model(**sample) if isinstance(sample, Mapping) else model(sample)


def _main_tensor(sample: Any) -> torch.Tensor:
    """The tensor whose shape is the input's: the sample itself, or a dict's `input_ids` (else its first tensor)."""
    if isinstance(sample, Mapping):
        tensors = [v for v in sample.values() if isinstance(v, torch.Tensor)]
        if not tensors:
            raise InvalidValueError("the train loader's batches hold no tensor inputs")
        return sample.get("input_ids", tensors[0])
    return sample


def _logits(output: Any) -> torch.Tensor:
    """The prediction tensor of a forward pass: the output, its first element, or its `logits`."""
    for candidate in (getattr(output, "logits", None), output,
                      output[0] if isinstance(output, (tuple, list)) and output else None):
        if isinstance(candidate, torch.Tensor):
            return candidate
    raise InvalidValueError(f"the model's output is a {type(output).__name__}; fingerprint_of reads a tensor, a "
                            f"tuple starting with one, or an output with .logits")


def _n_train(loader: Any, dataset: Any, given: int | None) -> int:
    if given is not None:
        return int(given)
    for sized in (dataset, loader):
        try:
            count = len(sized) if sized is not None else None
        except TypeError:  # an iterable dataset has no length
            continue
        if count is not None:
            return count if sized is dataset else count * int(getattr(loader, "batch_size", None) or 1)
    raise InvalidValueError("cannot count the training samples (the loader's dataset has no length); pass n_train=")


def _class_balance(dataset: Any, n_classes: int) -> float | None:
    """Normalised label entropy, from labels the dataset holds in memory (a TensorDataset, or `.targets`)."""
    tensors = getattr(dataset, "tensors", None)
    labels = tensors[-1] if tensors else getattr(dataset, "targets", None)
    if labels is None or n_classes < 2:
        return None
    labels = torch.as_tensor(labels)
    if labels.dim() != 1 or labels.is_floating_point() or not len(labels) or int(labels.min()) < 0:
        return None
    counts = torch.bincount(labels.cpu().long(), minlength=n_classes).double()
    p = counts[counts > 0] / counts.sum()
    return round(min(float(-(p * p.log()).sum()) / math.log(max(n_classes, len(counts))), 1.0), 6)


def _label(obj: Any) -> str:
    return type(obj).__name__.lower() or "unnamed"
