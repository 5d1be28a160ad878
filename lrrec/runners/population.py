"""Population mode: many schedule configs of one small task trained at once (torch.func.vmap).

Every member starts from the weights and sees the batches a one-by-one run with the same seed would, and is
updated by the same optimizer rule (torch's SGD, Adam or AdamW) with its own LR at each step, so outcomes match
one-by-one up to float rounding. Only for models without normalisation layers (their running statistics do not
vmap). The population
trains in fp32 on every device; one by one trains in bf16 autocast on CUDA, so there the two agree to bf16
rounding rather than fp32 rounding.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call, grad_and_value, stack_module_state, vmap

from lrrec.errors import LrrecError
from lrrec.runners.data import TensorData
from lrrec.runners.tasks import Budget, Task, is_user_task, load_data
from lrrec.runners.train import (
    EpochRecord,
    Outcome,
    batch_generator,
    batches,
    is_diverged,
    pick_device,
    record_epoch,
    steps_per_epoch,
    to_device,
)
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.torch_adapter import make_scheduler


def supports_population(task: Task, budget: Budget) -> str | None:
    """None when the task can train as a population, else the reason it cannot."""
    if task.kind != "classification" or task.needs_data_root or is_user_task(task.name):
        return f"{task.name} is not a small built-in classification task"
    data = load_data(task, None)
    if getattr(task.build(data), "has_norm", True):
        return f"{task.model} has normalisation layers"
    return None


class _LrTable:
    """Each member's LR per step: closed form for most, a live adapter for the metric-driven ones."""

    def __init__(self, configs: Sequence[ScheduleConfig], total: int, dev: torch.device) -> None:
        self.table = np.stack([c.lrs(np.arange(total + 1), total) for c in configs])
        self.on_device = torch.as_tensor(self.table, dtype=torch.float32, device=dev)  # one copy, not one per step
        self._last: tuple[np.ndarray, torch.Tensor] | None = None
        self.live = {}
        for i, config in enumerate(configs):
            if config.spec.metric_driven:
                dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
                self.live[i] = (dummy, make_scheduler(dummy, config, total))

    def at(self, step: int) -> np.ndarray:
        lrs = self.table[:, step].copy()
        for i, (dummy, _) in self.live.items():
            lrs[i] = dummy.param_groups[0]["lr"]
        return lrs

    def tensor(self, step: int, lrs: np.ndarray) -> torch.Tensor:
        """The step's LRs (`lrs`, from `at`) as a tensor on the device; copied only when some are live."""
        if not self.live:
            return self.on_device[:, step]
        if self._last is None or not np.array_equal(lrs, self._last[0]):  # live LRs change seldom: copy on change
            self._last = (lrs, torch.as_tensor(lrs, dtype=torch.float32, device=self.on_device.device))
        return self._last[1]

    def advance(self) -> None:
        for dummy, sched in self.live.values():
            dummy.step()  # no gradients: a no-op that keeps torch's step-order check quiet
            sched.step()

    def report(self, val_losses: np.ndarray) -> None:
        for i, (_, sched) in self.live.items():
            sched.report_metric(float(val_losses[i]))


def train_population(task: Task, configs: Sequence[ScheduleConfig], budget: Budget, seed: int, *,
                     device: str | None = None) -> list[Outcome]:
    """Train every config of `configs` on `task` at once; one Outcome per config, in order."""
    reason = supports_population(task, budget)
    if reason:
        raise LrrecError(f"population mode: {reason}; train these configs one by one (lrrec sweep)")
    dev = pick_device(device)
    data = to_device(load_data(task, None), dev)
    assert isinstance(data, TensorData)  # supports_population admits small built-in tasks only: tensors
    torch.manual_seed(seed)
    base = task.build(data).to(dev)
    members = [copy.deepcopy(base) for _ in configs]
    params, buffers = stack_module_state(members)
    params = {k: v.detach() for k, v in params.items()}
    update = _Update(budget)
    template = copy.deepcopy(base).to("meta")

    def loss_of(p: dict, b: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(template, (p, b), (x,)), y)

    grads_of = vmap(grad_and_value(loss_of), in_dims=(0, 0, None, None))
    logits_of = vmap(lambda p, b, x: functional_call(template, (p, b), (x,)), in_dims=(0, 0, None))
    per_epoch = steps_per_epoch(data, budget.batch_size)
    total = per_epoch * budget.epochs
    lrs = _LrTable(configs, total, dev)
    outcomes = [Outcome("finished", task.metric, task.direction, None, None, 0, 0, total, 0.0, str(dev))
                for _ in configs]
    start_loss: np.ndarray | None = None
    generator = batch_generator(data, dev, seed)
    began = time.perf_counter()
    step = 0
    for epoch in range(1, budget.epochs + 1):
        loss_sum = torch.zeros(len(configs), device=dev)
        for x, y in batches(data, budget.batch_size, dev, generator, train=True):
            last_lrs = lrs.at(step)
            lr = lrs.tensor(step, last_lrs)
            grads, batch_loss = grads_of(params, buffers, x, y)
            params = update(params, grads, lr)
            if start_loss is None:
                start_loss = batch_loss.cpu().numpy()
            loss_sum += batch_loss
            step += 1
            lrs.advance()
        train_loss = (loss_sum / per_epoch).cpu().numpy()
        assert start_loss is not None  # set by the first batch: every epoch has at least one
        with torch.no_grad():
            val_loss, val_acc = _evaluate(logits_of, params, buffers, data)
        lrs.report(val_loss)
        for i, outcome in enumerate(outcomes):
            if outcome.status == "diverged":
                continue
            outcome.steps_done = step
            if is_diverged(float(train_loss[i]), float(start_loss[i])):
                outcome.status = "diverged"
                continue
            record_epoch(outcome, EpochRecord(epoch, step, float(last_lrs[i]), float(train_loss[i]),
                                         float(val_loss[i]), float(val_acc[i])), None)
    elapsed = time.perf_counter() - began
    for outcome in outcomes:
        outcome.wall_time_s = elapsed / len(configs)
    return outcomes


class _Update:
    """torch.optim's SGD, Adam or AdamW update with a per-member LR (`lr` has one entry per member)."""

    BETAS, EPS = (0.9, 0.999), 1e-8  # torch's Adam/AdamW defaults, which lrrec's one-by-one runs use

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.state: dict[str, tuple[torch.Tensor, ...]] = {}
        self.t = 0

    def __call__(self, params: dict, grads: dict, lr: torch.Tensor) -> dict:
        self.t += 1
        rule = self._sgd if self.budget.optimizer == "sgd" else self._adam
        return {key: rule(key, p, grads[key], lr.view((-1,) + (1,) * (p.dim() - 1))) for key, p in params.items()}

    def _sgd(self, key: str, p: torch.Tensor, d_p: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        b = self.budget
        if b.weight_decay:
            d_p = d_p + b.weight_decay * p
        if b.momentum:
            buf = d_p.clone() if key not in self.state else self.state[key][0] * b.momentum + d_p
            self.state[key] = (buf,)
            d_p = d_p + b.momentum * buf if b.nesterov else buf
        return p - lr * d_p

    def _adam(self, key: str, p: torch.Tensor, g: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        (beta1, beta2), wd = self.BETAS, self.budget.weight_decay
        if wd and self.budget.optimizer == "adamw":
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        m, v = self.state.get(key, (torch.zeros_like(p), torch.zeros_like(p)))
        m = m * beta1 + (1 - beta1) * g
        v = v * beta2 + (1 - beta2) * g * g
        self.state[key] = (m, v)
        denom = (v.sqrt() / math.sqrt(1 - beta2 ** self.t)) + self.EPS
        return p - (lr / (1 - beta1 ** self.t)) * m / denom


def _evaluate(logits_of, params: dict, buffers: dict, data: TensorData) -> tuple[np.ndarray, np.ndarray]:
    logits = logits_of(params, buffers, data.x_val)  # members x samples x classes
    members = logits.shape[0]
    targets = data.y_val.expand(members, -1)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    acc = (logits.argmax(-1) == targets).float().mean(1)
    return loss.view(members, -1).mean(1).cpu().numpy(), acc.cpu().numpy()
