"""Cheap probes of a task before training it: the LR range test (Smith, WACV 2017; fastai's `lr_find`).

The LR grows exponentially from `low` to `high` over `steps` optimizer updates of the task's own model,
optimizer and batch size; the training loss, smoothed by an exponential moving average, is recorded at each
LR, and the test stops once it is far above its minimum. Two LRs are read off the curve: the one with the
lowest smoothed loss, and the one where the loss falls fastest (per unit of log LR). A curve that rises from
its first LRs (a pre-trained model, or `low` too high) has no descent to read: the test says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from lrrec.errors import InvalidValueError, LrrecError
from lrrec.runners.objectives import CLASSIFICATION
from lrrec.runners.tasks import Budget, Task, load_data
from lrrec.runners.train import (
    Progress,
    batch_generator,
    build_optimizer,
    endless_batches,
    for_device,
    oom_as_error,
    pick_device,
    to_device,
    train_step,
)
from lrrec.schedules.config import ScheduleConfig

SMOOTHING = 0.9  # EMA factor of the recorded loss (fastai uses 0.98 over its 100 steps; this reacts faster)
STOP_FACTOR = 4.0  # stop once the smoothed loss exceeds 4x its minimum (fastai's rule)
STEPS = 100  # updates in one test (fastai's default)
MIN_DESCENT = 4  # the lowest loss must come at least this many LRs in, or the test is inconclusive


@dataclass
class RangeTest:
    """The LR range test's curve and the LRs read off it (None where the curve shows no descent)."""

    task: str
    lrs: list[float]
    losses: list[float]  # smoothed training loss at each LR
    min_loss_lr: float | None
    steepest_lr: float | None
    stopped_early: bool
    note: str = ""  # why the test is inconclusive, if it is

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SmoothedCurve:
    """The range test's curve as it grows: each loss is smoothed by an exponential moving average (bias
    corrected), and the test stops once the smoothed loss is not finite or exceeds `STOP_FACTOR` x its minimum."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.losses: list[float] = []  # smoothed
        self._average = 0.0
        self._best = math.inf
        self._seen = 0

    def add(self, lr: float, loss: float) -> bool:
        """Take the training `loss` at `lr`; False, recording nothing, where the test stops."""
        self._seen += 1
        self._average = SMOOTHING * self._average + (1 - SMOOTHING) * loss
        smoothed = self._average / (1 - SMOOTHING ** self._seen)
        if not math.isfinite(smoothed) or (self.lrs and smoothed > STOP_FACTOR * self._best):
            return False
        self.lrs.append(lr)
        self.losses.append(smoothed)
        self._best = min(self._best, smoothed)
        return True


def lr_range_test(task: Task, budget: Budget, *, seed: int = 0, steps: int = STEPS, low: float = 1e-5,
                  high: float = 10.0, data_root: str | None = None, device: str | None = None,
                  progress: bool = False) -> RangeTest:
    """Run the LR range test on `task` with `budget`'s optimizer and batch size; `progress` shows its steps on
    stderr (a line per tenth of them in a pipe)."""
    if task.kind == "surface":
        raise InvalidValueError(f"{task.name}: the LR range test needs a task with training data, not a 2-D surface")
    if not 0 < low < high or steps < MIN_DESCENT + 1:
        raise InvalidValueError(f"need 0 < --low < --high and at least {MIN_DESCENT + 1} --steps; got {low:g}, "
                                f"{high:g}, {steps}")
    dev = pick_device(device)
    data = to_device(load_data(task, data_root), dev)
    torch.manual_seed(seed)
    bar = Progress(f"LR range test {task.name}", steps, "step", progress)
    try:
        with oom_as_error(task, budget):
            lrs, losses = _sweep(task, budget, data, dev, seed=seed, steps=steps, low=low, high=high, bar=bar)
    finally:
        bar.close()
    return read_curve(task.name, lrs, losses, steps, low)


def read_curve(name: str, lrs: list[float], losses: list[float], steps: int, low: float) -> RangeTest:
    """The range test of `name` from its LRs and smoothed losses (`steps` planned, from `low`)."""
    if not lrs:
        raise LrrecError(f"{name}: the loss is not finite at lr {low:g}, the first of the test; check the "
                         f"model and data, or lower --low")
    lowest = int(np.argmin(losses))
    if lowest < MIN_DESCENT:  # the loss rose almost from the start: no descent to read an LR off
        return RangeTest(name, lrs, losses, None, None, len(lrs) < steps,
                         f"the loss did not fall over the first {MIN_DESCENT} LRs (from {low:g}); lower --low "
                         f"(a pre-trained model may need far smaller LRs)")
    slope = np.gradient(np.asarray(losses), np.log(lrs))
    steepest = int(np.argmin(slope[: lowest + 1]))
    return RangeTest(name, lrs, losses, lrs[lowest], lrs[steepest], len(lrs) < steps)


def _sweep(task: Task, budget: Budget, data: Any, dev: torch.device, *, seed: int, steps: int, low: float,
           high: float, bar: Progress) -> tuple[list[float], list[float]]:
    """Train with exponentially rising LRs; the LRs and smoothed losses until the loss blows up."""
    model, autocast = for_device(task.build(data).to(dev), dev)
    model.train()
    loss_fn = getattr(data, "objective", CLASSIFICATION).loss_fn  # a user task's own loss
    optimizer = build_optimizer(model.parameters(), ScheduleConfig.create("constant", lr=low), budget)
    generator = batch_generator(data, dev, seed)
    curve = SmoothedCurve()
    every = max(1, steps // 10)
    for i, (x, y) in zip(range(steps), endless_batches(task, data, budget.batch_size, dev, generator)):
        lr = low * (high / low) ** (i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        if not curve.add(lr, float(train_step(model, optimizer, x, y, autocast, loss_fn))):
            break
        bar.update(f"lr {lr:.3g}, loss {curve.losses[-1]:.4g}", line=(i + 1) % every == 0)
    return curve.lrs, curve.losses
