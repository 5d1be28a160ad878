"""`lrrec.track`: record a plain PyTorch training loop in the store, with its fingerprint and LR schedule.

    with lrrec.track(model, train_loader, optimizer, epochs=20, name="mydigits/mlp") as run:
        for epoch in range(20):
            for x, y in train_loader:
                ...; optimizer.step(); run.scheduler.step()
            run.log_epoch(train_loss=..., val_loss=..., val_accuracy=...)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.hooks.recording import begin_run, optimizer_name, schedule_for
from lrrec.schedules.config import ScheduleConfig
from lrrec.suggestions import ScheduleSuggestion, resolve_store

if TYPE_CHECKING:
    from torch import nn
    from torch.optim import Optimizer

    from lrrec.schedules.torch_adapter import ScheduleLR
    from lrrec.store.run import Run
    from lrrec.store.store import Store


class TrackedRun:
    """A recorded run of a plain loop: step `scheduler` once per optimizer update, call `log_epoch` after each
    epoch. Leaving the `with` block ends it finished (diverged on a non-finite value), failed on an exception,
    interrupted on Ctrl-C."""

    def __init__(self, run: Run, fingerprint: TaskFingerprint, config: ScheduleConfig, optimizer: Optimizer,
                 scheduler: ScheduleLR) -> None:
        self.run = run
        self.fingerprint = fingerprint
        self.config = config
        self.scheduler = scheduler
        self.epoch = 0
        self.updates = 0
        self.last_lr = optimizer.param_groups[0]["lr"]
        self._hook = optimizer.register_step_post_hook(self._count)

    def _count(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.updates += 1
        self.last_lr = optimizer.param_groups[0]["lr"]  # the LR this update used (the scheduler steps after it)

    @property
    def run_id(self) -> str:
        return self.run.run_id

    @property
    def status(self) -> str | None:
        """None while running; then finished, diverged, failed or interrupted."""
        return self.run.status

    def log_epoch(self, **metrics: float) -> None:
        """Record one epoch: `train_loss`, `val_loss`, the run's metric, any other numbers (the LR of the epoch's
        last update is added). The loss-based schedule (plateau) takes `val_loss` here."""
        self.epoch += 1
        if self.config.spec.metric_driven and "val_loss" in metrics:
            self.scheduler.report_metric(metrics["val_loss"])
        self.run.log_metrics({"lr": self.last_lr, **metrics}, step=self.updates, epoch=self.epoch)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._hook.remove()
        self.run.__exit__(exc_type, exc, tb)


def track(model: nn.Module, train_loader: Iterable[Any], optimizer: Optimizer, *, epochs: int,
          schedule: ScheduleConfig | ScheduleSuggestion | str | None = None, name: str | None = None,
          fingerprint: TaskFingerprint | None = None, metric: str = "val_accuracy", direction: str | None = None,
          steps_per_epoch: int | None = None, seed: int | None = None,
          store: Store | str | os.PathLike[str] | None = None) -> TrackedRun:
    """Start recording a plain loop's run of `epochs` epochs; use as `with lrrec.track(...) as run:`.

    The task is `fingerprint`, else measured from `model` and `train_loader` (named `name`, "dataset/model"). The
    schedule is `schedule` (a config, a suggestion or a schedule name), else the top suggestion for the task;
    `run.scheduler` sets the optimizer's LR to it. `metric` is the number a run is judged by (its
    `direction`, max or min, is read off its name when not given: accuracy is max, a loss min).
    `steps_per_epoch` is needed when the loader has no length.
    """
    from lrrec.runners.measure_loader import fingerprint_of
    from lrrec.schedules.torch_adapter import make_scheduler

    steps = steps_per_epoch or _length(train_loader)
    if epochs < 1:
        raise InvalidValueError(f"epochs must be at least 1, got {epochs}")
    batch_size = getattr(train_loader, "batch_size", None)
    fingerprint = fingerprint or fingerprint_of(model, train_loader, name=name)
    opened = resolve_store(store)
    config = schedule_for(schedule, fingerprint, opened, optimizer_name(optimizer), batch_size, epochs)
    scheduler = make_scheduler(optimizer, config, epochs * steps)
    run = begin_run(opened, fingerprint, config, optimizer, metric=metric, direction=direction,
                    batch_size=batch_size, epochs=epochs, seed=seed)
    return TrackedRun(run, fingerprint, config, optimizer, scheduler)


def _length(loader: Iterable[Any]) -> int:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        raise InvalidValueError("the train loader has no length; pass steps_per_epoch= (updates per epoch)") from None
