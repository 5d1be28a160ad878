"""Train one (task, schedule config, seed): the runner every other part of lrrec uses.

CUDA when present (bf16 autocast, channels_last, small datasets kept on the GPU), else CPU. The schedule is
stepped once per optimizer update through the torch adapter; the loss-based one gets the validation loss once
per epoch. Divergence (a non-finite loss, or a loss far above its start) stops the run early.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lrrec.errors import LrrecError
from lrrec.runners.data import FolderData, TensorData, generator_device, prepare_batch
from lrrec.runners.objectives import CLASSIFICATION, LossFn, evaluate_objective
from lrrec.runners.surfaces import Surface
from lrrec.runners.tasks import Budget, Task, UserData, load_data
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.torch_adapter import make_scheduler

DIVERGE_FACTOR = 10.0  # a loss above start + 10 * max(|start|, 1) counts as diverged
CHECK_EVERY = 25  # steps between divergence checks (each check syncs the GPU)


@dataclass
class EpochRecord:
    """One row of a run's curve."""

    epoch: int
    step: int
    lr: float
    train_loss: float
    val_loss: float | None
    val_metric: float | None


@dataclass
class Outcome:
    """What a run produced: its status, metrics and per-epoch curve."""

    status: str  # finished | diverged
    metric_name: str
    direction: str
    final_metric: float | None
    best_metric: float | None
    epochs_done: int
    steps_done: int
    total_steps: int
    wall_time_s: float
    device: str
    eval_time_s: float = 0.0
    curve: list[EpochRecord] = field(default_factory=list)
    trajectory: list[tuple[float, float]] = field(default_factory=list)


EpochCallback = Callable[[EpochRecord], None]


def pick_device(device: str | None = None) -> torch.device:
    """The requested device, else CUDA when available, else CPU."""
    if not device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise LrrecError(f"--device {device}: not a device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise LrrecError(f"--device {device}: no such CUDA device here ({torch.cuda.device_count()} visible); "
                         f"use cpu or leave --device out")
    if dev.type not in ("cpu", "cuda"):
        raise LrrecError(f"--device {device}: lrrec trains on cpu or cuda")
    return dev


def build_optimizer(model_params: Any, config: ScheduleConfig, budget: Budget) -> torch.optim.Optimizer:
    """The optimizer of `budget`, at the config's initial LR."""
    if budget.optimizer == "sgd":
        return torch.optim.SGD(model_params, lr=config.lr, momentum=budget.momentum, weight_decay=budget.weight_decay,
                               nesterov=budget.nesterov and budget.momentum > 0)
    cls = torch.optim.Adam if budget.optimizer == "adam" else torch.optim.AdamW
    return cls(model_params, lr=config.lr, weight_decay=budget.weight_decay)


class _Divergence(Exception):
    pass


def is_diverged(loss: float, start: float) -> bool:
    return not math.isfinite(loss) or loss > start + DIVERGE_FACTOR * max(abs(start), 1.0)


def train(task: Task, config: ScheduleConfig, budget: Budget, seed: int, *, data_root: str | None = None,
          device: str | None = None, on_epoch: EpochCallback | None = None, progress: bool = False) -> Outcome:
    """Train `task` under `config` for `budget`; call `on_epoch` after each epoch; return the outcome."""
    dev = pick_device(device)
    data = load_data(task, str(data_root) if data_root else None)
    torch.manual_seed(seed)
    if task.kind == "surface":
        return _train_surface(task, data, config, budget, dev, on_epoch)
    model = task.build(data).to(dev)
    with oom_as_error(task, budget):
        return _train_model(task, model, data, config, budget, seed=seed, dev=dev, on_epoch=on_epoch, progress=progress)


@contextmanager
def oom_as_error(task: Task, budget: Budget) -> Iterator[None]:
    """Turn GPU out-of-memory into a one-line error that names the fix."""
    try:
        yield
    except torch.cuda.OutOfMemoryError:
        raise LrrecError(f"GPU out of memory training {task.name} at batch size {budget.batch_size}; "
                         f"lower --batch-size") from None


Data = TensorData | FolderData | UserData


def _loader(data: FolderData | UserData, train: bool, batch_size: int, generator: torch.Generator | None) -> Any:
    if isinstance(data, FolderData):
        return data.loader(train, batch_size, generator)
    return data.train_loader if train else data.val_loader


def batches(data: Data, batch_size: int, dev: torch.device, generator: torch.Generator | None,
             train: bool) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    if not isinstance(data, TensorData):
        for x, y in _loader(data, train, batch_size, generator):
            yield x.to(dev, non_blocking=True), y.to(dev, non_blocking=True)
        return
    x_all, y_all = (data.x_train, data.y_train) if train else (data.x_val, data.y_val)
    n = len(x_all)
    if train:
        order = torch.randperm(n, generator=generator, device=generator_device(generator)).to(x_all.device)
    else:
        order = torch.arange(n, device=x_all.device)
    for start in range(0, n, batch_size):
        idx = order[start:start + batch_size]
        if train and len(idx) < batch_size and start > 0:
            break  # drop the ragged last batch in training (stable step counts)
        yield prepare_batch(x_all[idx], data, train, generator), y_all[idx]


def endless_batches(task: Task, data: Data, batch_size: int, dev: torch.device,
                    generator: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Training batches, epoch after epoch (for probes that take a fixed number of updates)."""
    while True:
        empty = True
        for batch in batches(data, batch_size, dev, generator, train=True):
            empty = False
            yield batch
        if empty:
            raise LrrecError(f"{task.name}: the training data yields no batch (batch size {batch_size}); lower "
                             f"--batch-size")


def batch_generator(data: Data, dev: torch.device, seed: int) -> torch.Generator:
    """The RNG of batch order and augmentation, seeded: on the GPU when the data is kept there, so drawing
    from it never waits on the GPU; on the CPU otherwise (DataLoaders need a CPU generator)."""
    where = dev if isinstance(data, TensorData) and dev.type != "cpu" else torch.device("cpu")
    return torch.Generator(device=where).manual_seed(seed)


def steps_per_epoch(data: Data, batch_size: int) -> int:
    if not isinstance(data, TensorData):
        return len(_loader(data, True, batch_size, torch.Generator()))
    return max(1, len(data.x_train) // batch_size)


def to_device(data: Data, dev: torch.device) -> Data:
    if isinstance(data, TensorData) and dev.type != "cpu":
        return TensorData(data.x_train.to(dev), data.y_train.to(dev), data.x_val.to(dev), data.y_val.to(dev),
                          data.n_classes, data.augment, data.normalize)
    return data


def for_device(model: nn.Module, dev: torch.device) -> tuple[nn.Module, Callable[[], Any]]:
    """The model in the device's memory format, and the autocast context to train it in (bf16 on CUDA).

    On CUDA this also turns on cuDNN autotuning for the process (`torch.backends.cudnn.benchmark`).
    """
    if dev.type != "cuda":
        return model, nullcontext
    torch.backends.cudnn.benchmark = True  # batch shapes are fixed in training: let cuDNN pick the fastest kernels
    return model.to(memory_format=torch.channels_last), lambda: torch.autocast("cuda", dtype=torch.bfloat16)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
               autocast: Callable[[], Any], loss_fn: LossFn = F.cross_entropy) -> torch.Tensor:
    """One optimizer update on a batch; returns the (detached) training loss."""
    if x.is_cuda and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    with autocast():
        loss = loss_fn(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


def _train_model(task: Task, model: nn.Module, data: Data, config: ScheduleConfig, budget: Budget, *,
                 seed: int, dev: torch.device, on_epoch: EpochCallback | None, progress: bool) -> Outcome:
    data = to_device(data, dev)
    model, autocast = for_device(model, dev)
    optimizer = build_optimizer(model.parameters(), config, budget)
    objective = getattr(data, "objective", CLASSIFICATION)
    per_epoch = steps_per_epoch(data, budget.batch_size)
    total = per_epoch * budget.epochs
    scheduler = make_scheduler(optimizer, config, total)
    generator = batch_generator(data, dev, seed)
    outcome = Outcome("finished", task.metric, task.direction, None, None, 0, 0, total, 0.0, str(dev))
    start_loss: float | None = None
    began = time.perf_counter()
    bar = Progress(task.name, budget.epochs, "epoch", progress)
    try:
        for epoch in range(1, budget.epochs + 1):
            model.train()
            loss_sum = torch.zeros((), device=dev)
            seen = 0
            for x, y in batches(data, budget.batch_size, dev, generator, train=True):
                last_lr = optimizer.param_groups[0]["lr"]
                loss = train_step(model, optimizer, x, y, autocast, objective.loss_fn)
                scheduler.step()
                loss_sum += loss
                seen += 1
                outcome.steps_done += 1
                if start_loss is None:
                    start_loss = float(loss)
                elif outcome.steps_done % CHECK_EVERY == 0 and is_diverged(float(loss), start_loss):
                    raise _Divergence
            train_loss = float(loss_sum) / max(seen, 1)
            if start_loss is not None and is_diverged(train_loss, start_loss):
                raise _Divergence
            eval_began = time.perf_counter()
            val_loss, val_acc = evaluate(model, data, budget.batch_size, dev, autocast) if objective.is_default \
                else evaluate_objective(model, batches(data, budget.batch_size, dev, None, False), objective, autocast)
            outcome.eval_time_s += time.perf_counter() - eval_began
            if config.spec.metric_driven:
                scheduler.report_metric(val_loss)
            record = EpochRecord(epoch, outcome.steps_done, last_lr, train_loss,
                                 val_loss, val_acc)
            record_epoch(outcome, record, on_epoch)
            bar.update(f"loss {train_loss:.4g}, {task.metric} {val_acc:.4g}, lr {record.lr:.3g}")
    except _Divergence:
        outcome.status = "diverged"
    finally:
        bar.close()
        outcome.wall_time_s = time.perf_counter() - began
    return outcome


@torch.no_grad()
def evaluate(model: nn.Module, data: Data, batch_size: int, dev: torch.device,
             autocast: Callable[[], Any] = nullcontext) -> tuple[float, float]:
    """Validation loss and accuracy."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
    correct = torch.zeros((), dtype=torch.long, device=dev)
    count = 0
    for x, y in batches(data, max(batch_size, 256), dev, torch.Generator(), train=False):
        channels_last = dev.type == "cuda" and x.dim() == 4
        with autocast():
            logits = model(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
        loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
        count += len(y)
    return float(loss_sum) / count, int(correct) / count


def record_epoch(outcome: Outcome, record: EpochRecord, on_epoch: EpochCallback | None) -> None:
    outcome.curve.append(record)
    outcome.epochs_done = record.epoch
    metric = record.val_metric
    if metric is not None and math.isfinite(metric):
        outcome.final_metric = metric
        if outcome.best_metric is None or (metric > outcome.best_metric if outcome.direction == "max"
                                           else metric < outcome.best_metric):
            outcome.best_metric = metric
    if on_epoch is not None:
        on_epoch(record)


def _train_surface(task: Task, surface: Surface, config: ScheduleConfig, budget: Budget, dev: torch.device,
                   on_epoch: EpochCallback | None) -> Outcome:
    """SGD (with the budget's momentum) on a 2-D surface; one 'epoch' is one step, about 100 of them logged."""
    point = torch.tensor(surface.start, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([point], lr=config.lr, momentum=budget.momentum)
    total = budget.epochs
    scheduler = make_scheduler(optimizer, config, total)
    outcome = Outcome("finished", task.metric, task.direction, None, None, 0, 0, total, 0.0, "cpu")
    outcome.trajectory.append(tuple(point.tolist()))
    began = time.perf_counter()
    start = float(surface.fn(point.detach()))
    stride = max(1, total // 100)
    for step in range(1, total + 1):
        loss = surface.fn(point)
        optimizer.zero_grad()
        loss.backward()
        lr = optimizer.param_groups[0]["lr"]
        optimizer.step()
        value = float(surface.fn(point.detach()))
        if config.spec.metric_driven:
            scheduler.step(value)
        else:
            scheduler.step()
        outcome.steps_done = step
        outcome.trajectory.append(tuple(point.detach().tolist()))
        if is_diverged(value, start):
            outcome.status = "diverged"
            break
        if step % stride == 0 or step == total:
            record_epoch(outcome, EpochRecord(step, step, lr, float(loss.detach()), value, value), on_epoch)
    outcome.wall_time_s = time.perf_counter() - began
    return outcome


class Progress:
    """Progress of long work on stderr: a tqdm bar in a terminal; in a pipe or log, a line per unit of work
    (`desc: unit n/total: note`, no carriage returns). Disabled, it writes nothing."""

    def __init__(self, desc: str, total: int | None, unit: str, enabled: bool = True, initial: int = 0) -> None:
        self.desc, self.total, self.unit, self.done = desc, total, unit, initial
        self.enabled = enabled
        self.terminal = enabled and sys.stderr.isatty()
        self._written = initial  # units counted by the last line written (pipe)
        self._note = ""
        self._bar: Any = None
        if self.terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=False, file=sys.stderr,
                             dynamic_ncols=True)

    def update(self, note: str = "", line: bool = True) -> None:
        """Count one more unit; `note` says how it went. `line=False`: no line for it in a pipe."""
        self.done += 1
        self._note = note
        if self.total is not None and self.done > self.total:  # more work than planned (tune's last round)
            self.total = self.done
            if self._bar is not None:
                self._bar.total = self.total
        if self._bar is not None:
            self._bar.set_postfix_str(note, refresh=False)
            self._bar.update()
        elif self.enabled and line:
            self._line()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Write other output inside this: a terminal's bars are cleared first and redrawn after."""
        if self._bar is None:
            yield
            return
        with self._bar.external_write_mode():
            yield

    def close(self) -> None:
        """Remove the bar; in a pipe, write the line of units not yet written."""
        if self._bar is not None:
            self._bar.close()
        elif self.enabled and self.done != self._written:
            self._line()

    def _line(self) -> None:
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        sys.stderr.write(f"{self.desc}: {self.unit} {count}" + (f": {self._note}" if self._note else "") + "\n")
        sys.stderr.flush()
        self._written = self.done
