"""What a user task trains and is judged by: its loss, and its metric with a direction.

A `module:function` task may return `loss_fn(outputs, targets)` (default: cross-entropy on class indices), and
name a `metric` computed by `metric_fn(outputs, targets)` (a batch mean) with its `direction`; without a metric,
a task with its own loss is judged by its validation loss (`val_loss`, min).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lrrec.errors import LrrecError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_MAX_WORDS = ("acc", "auc", "f1", "iou", "bleu", "r2", "precision", "recall", "score")
_MIN_WORDS = ("loss", "err", "perplexity", "mse", "mae", "rmse", "nll")


@dataclass(frozen=True)
class Objective:
    """The loss a task trains on and the validation metric (name, direction) it is judged by."""

    loss_fn: LossFn
    metric: str
    direction: str
    metric_fn: LossFn | None = None  # None: the metric is the validation loss

    @property
    def is_default(self) -> bool:
        """Cross-entropy on class indices, judged by accuracy: what built-in tasks train."""
        return self.loss_fn is F.cross_entropy and self.metric == "val_accuracy"


CLASSIFICATION = Objective(F.cross_entropy, "val_accuracy", "max")


def objective_of(spec: str, loss_fn: Any, metric: Any, metric_fn: Any, direction: Any) -> Objective:
    """The objective a user task's function returned (`spec` names it in errors)."""
    if loss_fn is None and metric is None and metric_fn is None and direction is None:
        return CLASSIFICATION
    for name, fn in (("loss_fn", loss_fn), ("metric_fn", metric_fn)):
        if fn is not None and not callable(fn):
            raise LrrecError(f"--task {spec}: {name} must be a function (outputs, targets) -> tensor, got "
                             f"{type(fn).__name__}")
    name = _metric_name(spec, loss_fn, metric, metric_fn)
    chosen = direction or ("min" if name == "val_loss" else "max" if name == "val_accuracy" else _direction(name))
    if chosen not in ("max", "min"):
        raise LrrecError(f"--task {spec}: direction must be \"max\" or \"min\" (is a higher {name} better?), got "
                         f"{chosen!r}")
    return Objective(loss_fn or F.cross_entropy, name, chosen, metric_fn)


def _metric_name(spec: str, loss_fn: Any, metric: Any, metric_fn: Any) -> str:
    """The metric a user task is judged by: the one it names (with its metric_fn), else accuracy for
    classification or the validation loss for a task with its own loss."""
    named = isinstance(metric, str) and bool(metric)
    if metric_fn is not None and not named:
        raise LrrecError(f"--task {spec}: a metric_fn needs a metric name (e.g. \"metric\": \"val_r2\")")
    name = metric if named else ("val_accuracy" if loss_fn is None else "val_loss")
    if metric_fn is None and name not in ("val_loss", "val_accuracy"):
        raise LrrecError(f"--task {spec}: metric {name!r} needs a metric_fn(outputs, targets) that computes it")
    if name == "val_accuracy" and metric_fn is None and loss_fn is not None:
        raise LrrecError(f"--task {spec}: with a loss_fn, name the metric and give its metric_fn, or leave the "
                         f"metric out to be judged by the validation loss")
    return name


def _direction(metric: str) -> str | None:
    lowered = metric.lower()
    if any(word in lowered for word in _MIN_WORDS):
        return "min"
    return "max" if any(word in lowered for word in _MAX_WORDS) else None


def check_batch(spec: str, name: str, objective: Objective, model: nn.Module, x: torch.Tensor,
                y: torch.Tensor) -> None:
    """The user's loss (and metric) on a first batch give finite numbers (the model is on the batch's device)."""
    try:
        with torch.no_grad():
            outputs = model(x)
            values = [("loss_fn", objective.loss_fn(outputs, y))]
            if objective.metric_fn is not None:
                values.append(("metric_fn", objective.metric_fn(outputs, y)))
    except Exception as exc:  # noqa: BLE001 - the user's model or functions: report it in one line
        raise LrrecError(f"--task {spec}: the model, loss_fn or metric_fn fails on the first batch of {name} "
                         f"({type(exc).__name__}: {exc})") from None
    for what, value in values:
        number = float(value) if isinstance(value, (int, float)) or (torch.is_tensor(value) and value.numel() == 1) \
            else None
        if number is None or not math.isfinite(number):
            raise LrrecError(f"--task {spec}: {what} must return one finite number on the first batch of {name}, "
                             f"got {value!r:.80}")


@torch.no_grad()
def evaluate_objective(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                       objective: Objective, autocast: Callable[[], Any] = nullcontext) -> tuple[float, float]:
    """Validation loss and metric, batch means weighted by batch size."""
    model.eval()
    loss_sum = metric_sum = 0.0
    count = 0
    for x, y in batches:
        with autocast():
            outputs = model(x)
        outputs = outputs.float() if torch.is_tensor(outputs) else outputs
        loss_sum += float(objective.loss_fn(outputs, y)) * len(y)
        if objective.metric_fn is not None:
            metric_sum += float(objective.metric_fn(outputs, y)) * len(y)
        count += len(y)
    val_loss = loss_sum / max(count, 1)
    return val_loss, (metric_sum / max(count, 1) if objective.metric_fn is not None else val_loss)
