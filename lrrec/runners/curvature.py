"""Curvature and gradient-noise probes at initialisation (McCandlish et al. 2018, "An Empirical Model of
Large-Batch Training", with its appendix A estimators), in fp32 on the task's own model and batch size B.

From K minibatch gradients g_i and their mean (a batch of K*B):
- |G|^2 and tr(Sigma), the squared true gradient and the per-sample gradient variance, unbiased from the
  small- and big-batch squared norms; the gradient noise scale B_simple = tr(Sigma) / |G|^2;
- eps_max = |G|^2 / (G^T H G), the best plain-SGD step along the gradient, with H G a Hessian-vector product;
- eps_opt(B) = eps_max / (1 + B_simple / B), the best step at batch B; SGD with momentum beta takes the same
  effective step at LR eps_opt * (1 - beta);
- lambda_max, the top Hessian eigenvalue by power iteration (to about 1%); heavy-ball SGD is stable on the
  quadratic model only below LR 2 (1 + beta) / lambda_max.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lrrec.errors import InvalidValueError, LrrecError
from lrrec.runners.tasks import Budget, Task, load_data
from lrrec.runners.train import (
    Progress,
    batch_generator,
    endless_batches,
    oom_as_error,
    pick_device,
    to_device,
)

BATCHES = 32  # minibatch gradients per estimate
POWER_STEPS = 20  # power-iteration steps for the top eigenvalue (stops early once it settles to 1e-3)
POWER_BATCHES = 8  # the first batches define the Hessian whose top eigenvalue is taken


@dataclass
class CurvatureProbe:
    """Gradient-noise and curvature figures of a task at initialisation, and the SGD LR they imply."""

    task: str
    batch_size: int
    batches: int
    grad_norm_sq: float  # |G|^2
    noise_trace: float  # tr(Sigma), per sample
    noise_scale: float | None  # B_simple; None when |G|^2 is not positive (noise swamps the gradient)
    max_step: float | None  # eps_max; None when the curvature along the gradient is not positive
    top_eigenvalue: float
    lr: float | None  # eps_opt(B) * (1 - momentum); None for Adam/AdamW or when undefined
    stable_lr: float | None  # 2 (1 + momentum) / lambda_max (SGD only)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def curvature_probe(task: Task, budget: Budget, *, seed: int = 0, n_batches: int = BATCHES,
                    data_root: str | None = None, device: str | None = None, progress: bool = False) -> CurvatureProbe:
    """Estimate the noise scale, eps_max and lambda_max of `task` at initialisation with `budget`'s batch size.

    `progress` shows its steps on stderr: the minibatch gradients, the curvature along the gradient, and each
    power-iteration step (in a pipe, a line for the gradients together and one for each other step).
    """
    if task.kind == "surface":
        raise InvalidValueError(f"{task.name}: the curvature probe needs a task with training data, not a 2-D surface")
    if n_batches < 2:
        raise InvalidValueError(f"the curvature probe needs at least 2 --batches, got {n_batches}")
    dev = pick_device(device)
    data = to_device(load_data(task, data_root), dev)
    if task.metric != "val_accuracy" or getattr(data, "loss_fn", None) is not None:
        raise InvalidValueError(f"{task.name}: the curvature probe measures cross-entropy classifiers; use the range "
                                f"test (--method range), which trains on the task's own loss")
    torch.manual_seed(seed)
    model = task.build(data).to(dev).train()
    params = [p for p in model.parameters() if p.requires_grad]
    stream = endless_batches(task, data, budget.batch_size, dev, batch_generator(data, dev, seed))
    bar = Progress(f"curvature probe {task.name}", n_batches + 1 + POWER_STEPS, "step", progress)
    with oom_as_error(task, budget), closing(bar):
        sample = [next(stream) for _ in range(n_batches)]
        if len(sample[0][1]) < budget.batch_size:  # the set is smaller than one batch: every batch is all of it
            raise InvalidValueError(f"--batch-size {budget.batch_size} exceeds the {len(sample[0][1])} training "
                                    f"samples, so every batch is the whole set and has no gradient noise to "
                                    f"measure; lower the batch size")
        grads = []
        for x, y in sample:
            grads.append(_flat(torch.autograd.grad(_loss(model, x, y), params)))
            bar.update(f"gradient of batch {len(grads)}/{n_batches}", line=len(grads) == n_batches)
        small_sq = torch.stack([g.square().sum() for g in grads]).mean().item()
        mean = torch.stack(grads).mean(0)
        big_sq = mean.square().sum().item()
        curvature = _dot(mean, _hvp(model, params, sample, mean)) / big_sq if big_sq > 0 else math.nan
        bar.update(f"curvature along the gradient {curvature:.4g}")
        eigenvalue = _top_eigenvalue(model, params, sample[:POWER_BATCHES], seed,
                                     lambda k, value: bar.update(f"power iteration {k}: top eigenvalue {value:.4g}"))
    return _summarise(task, budget, n_batches, small_sq, big_sq, curvature=curvature, eigenvalue=eigenvalue)


def _summarise(task: Task, budget: Budget, n_batches: int, small_sq: float, big_sq: float, *, curvature: float,
               eigenvalue: float) -> CurvatureProbe:
    """The appendix A estimators from the small- and big-batch squared norms, and the LRs they imply
    (`curvature` is G^T H G / |G|^2 along the big-batch gradient)."""
    if not all(math.isfinite(v) for v in (small_sq, big_sq, eigenvalue)):
        raise LrrecError(f"{task.name}: the gradient is not finite at initialisation; check the model and data")
    small, big = budget.batch_size, budget.batch_size * n_batches
    grad_sq = (big * big_sq - small * small_sq) / (big - small)
    trace = (small_sq - big_sq) / (1 / small - 1 / big)
    scale = trace / grad_sq if grad_sq > 0 else None
    max_step = 1 / curvature if math.isfinite(curvature) and curvature > 0 else None
    sgd = budget.optimizer == "sgd"
    notes = []
    if scale is None:
        notes.append(f"the gradient is lost in its noise over {n_batches} batches; raise --batches")
    if max_step is None:
        notes.append("the loss curves down along the gradient (no best step)")
    if not sgd:
        notes.append(f"the LRs are for SGD; {budget.optimizer} rescales its steps")
    lr = max_step / (1 + scale / small) * (1 - budget.momentum) if sgd and scale is not None and max_step else None
    stable = 2 * (1 + budget.momentum) / eigenvalue if sgd and eigenvalue > 0 else None
    return CurvatureProbe(task.name, small, n_batches, grad_sq, trace, scale, max_step, eigenvalue, lr, stable,
                          "; ".join(notes))


def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(x).float(), y)


def _flat(tensors: tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _dot(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.dot(a, b))


def _hvp(model: nn.Module, params: Sequence[torch.Tensor], sample: list[tuple[torch.Tensor, torch.Tensor]],
         vector: torch.Tensor) -> torch.Tensor:
    """The Hessian of the mean loss over `sample`'s batches times `vector` (double backprop, batch by batch)."""
    total = torch.zeros_like(vector)
    for x, y in sample:
        grads = _flat(torch.autograd.grad(_loss(model, x, y), params, create_graph=True))
        total += _flat(torch.autograd.grad(torch.dot(grads, vector), params))
    return total / len(sample)


def _top_eigenvalue(model: nn.Module, params: Sequence[torch.Tensor], sample: list[tuple[torch.Tensor, torch.Tensor]],
                    seed: int, on_step: Callable[[int, float], None] | None = None) -> float:
    """The largest-magnitude Hessian eigenvalue by power iteration from a seeded random start; `on_step` hears
    each step's number and estimate."""
    n = sum(p.numel() for p in params)
    g = torch.Generator().manual_seed(seed)
    vector = torch.randn(n, generator=g).to(params[0].device)
    vector /= vector.norm()
    value = 0.0
    for step in range(1, POWER_STEPS + 1):
        product = _hvp(model, params, sample, vector)
        new = _dot(vector, product)
        if on_step is not None:
            on_step(step, new)
        norm = float(product.norm())
        if norm == 0 or not math.isfinite(norm):
            return new
        vector = product / norm
        if abs(new - value) <= 1e-3 * abs(new):
            return new
        value = new
    return value
