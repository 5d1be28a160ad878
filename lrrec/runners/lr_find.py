"""`lrrec.lr_find`: the LR range test of `lrrec probe` on any model, optimizer, loader and loss function."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn

from lrrec.errors import InvalidValueError
from lrrec.runners.measure_loader import call_model, split_batch
from lrrec.runners.probes import MIN_DESCENT, STEPS, RangeTest, SmoothedCurve, read_curve


def lr_find(model: nn.Module, optimizer: torch.optim.Optimizer, train_loader: Iterable[Any],
            loss_fn: Callable[[Any, Any], torch.Tensor], *, steps: int = STEPS, low: float = 1e-5,
            high: float = 10.0, restore: bool = True) -> RangeTest:
    """Train with the LR rising exponentially from `low` to `high` over `steps` updates (cycling the loader)
    until the smoothed loss blows up; read off the LR of the lowest loss and of the steepest descent.

    `loss_fn(model_output, targets)` gives the loss of a batch (`(inputs, targets)`, or a dict whose label key
    is the targets). Parameter groups keep their LR ratios. With `restore` the model and optimizer get their
    state back afterwards, so the test leaves no trace on them.
    """
    if not 0 < low < high or steps < MIN_DESCENT + 1:
        raise InvalidValueError(f"lr_find needs 0 < low < high and at least {MIN_DESCENT + 1} steps; got {low:g}, "
                                f"{high:g}, {steps}")
    saved = (copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())) if restore else None
    was_training = model.training
    try:
        lrs, losses = _sweep(model, optimizer, _endless(train_loader), loss_fn, steps, low, high)
    finally:
        model.train(was_training)
        if saved is not None:
            model.load_state_dict(saved[0])
            optimizer.load_state_dict(saved[1])
    return read_curve(type(model).__name__, lrs, losses, steps, low)


def _endless(loader: Iterable[Any]) -> Iterator[Any]:
    """The loader's batches, over and over; an empty loader is an error."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise InvalidValueError("the train loader yields no batch; give lr_find a loader with data")


def _sweep(model: nn.Module, optimizer: torch.optim.Optimizer, batches: Iterator[Any],
           loss_fn: Callable[[Any, Any], torch.Tensor], steps: int, low: float,
           high: float) -> tuple[list[float], list[float]]:
    """The LRs tried and the smoothed losses, until the loss is no longer finite or exceeds 4x its minimum."""
    device = next(model.parameters()).device
    ratios = [group["lr"] / optimizer.param_groups[0]["lr"] if optimizer.param_groups[0]["lr"] else 1.0
              for group in optimizer.param_groups]
    model.train()
    curve = SmoothedCurve()
    for i, batch in enumerate(itertools.islice(batches, steps)):
        lr = low * (high / low) ** (i / (steps - 1))
        for group, ratio in zip(optimizer.param_groups, ratios):
            group["lr"] = lr * ratio
        inputs, targets = split_batch(batch)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(call_model(model, _to(inputs, device)), _to(targets, device))
        loss.backward()
        optimizer.step()
        if not curve.add(lr, float(loss.detach())):
            break
    return curve.lrs, curve.losses


def _to(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: _to(v, device) for k, v in value.items()}
    return value
