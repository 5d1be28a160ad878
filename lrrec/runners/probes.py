"""Cheap probes of a task before training it: the LR range test (Smith, WACV 2017; fastai's `lr_find`).

The LR grows exponentially from `low` to `high` over `steps` optimizer updates of the task's own model,
optimizer and batch size; the training loss, smoothed by an exponential moving average, is recorded at each
LR, and the test stops once it is far above its minimum. Two LRs are read off the curve: the one with the
lowest smoothed loss, and the one where the loss falls fastest (per unit of log LR).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from itertools import count
from typing import Any

import numpy as np
import torch

from lrrec.errors import InvalidValueError
from lrrec.runners.tasks import Budget, Task, load_data
from lrrec.runners.train import (
    batches,
    build_optimizer,
    for_device,
    pick_device,
    to_device,
    train_step,
)
from lrrec.schedules.config import ScheduleConfig

SMOOTHING = 0.9  # EMA factor of the recorded loss (fastai uses 0.98 over its 100 steps; this reacts faster)
STOP_FACTOR = 4.0  # stop once the smoothed loss exceeds 4x its minimum (fastai's rule)
STEPS = 100  # updates in one test (fastai's default)


@dataclass
class RangeTest:
    """The LR range test's curve and the LRs read off it."""

    task: str
    lrs: list[float]
    losses: list[float]  # smoothed training loss at each LR
    min_loss_lr: float
    steepest_lr: float
    stopped_early: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lr_range_test(task: Task, budget: Budget, *, seed: int = 0, steps: int = STEPS, low: float = 1e-5,
                  high: float = 10.0, data_root: str | None = None, device: str | None = None) -> RangeTest:
    """Run the LR range test on `task` with `budget`'s optimizer and batch size."""
    if task.kind == "surface":
        raise InvalidValueError(f"{task.name}: the LR range test needs a task with training data, not a 2-D surface")
    if not 0 < low < high or steps < 5:
        raise InvalidValueError(f"need 0 < --low < --high and at least 5 --steps; got {low:g}, {high:g}, {steps}")
    dev = pick_device(device)
    data = to_device(load_data(task, data_root), dev)
    torch.manual_seed(seed)
    model, autocast = for_device(task.build(data).to(dev), dev)
    model.train()
    optimizer = build_optimizer(model.parameters(), ScheduleConfig.create("constant", lr=low), budget)
    generator = torch.Generator().manual_seed(seed)
    stream = (batch for _ in count() for batch in batches(data, budget.batch_size, dev, generator, train=True))
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, math.inf
    for i, (x, y) in zip(range(steps), stream):
        lr = low * (high / low) ** (i / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = float(train_step(model, optimizer, x, y, autocast))
        average = SMOOTHING * average + (1 - SMOOTHING) * loss
        smoothed = average / (1 - SMOOTHING ** (i + 1))
        if not math.isfinite(smoothed) or (lrs and smoothed > STOP_FACTOR * best):
            break
        lrs.append(lr)
        losses.append(smoothed)
        best = min(best, smoothed)
    stopped = len(lrs) < steps
    lowest = int(np.argmin(losses))
    slope = np.gradient(np.asarray(losses), np.log(lrs)) if len(lrs) > 1 else np.zeros(1)
    steepest = int(np.argmin(slope[: lowest + 1]))
    return RangeTest(task.name, lrs, losses, lrs[lowest], lrs[steepest], stopped)
