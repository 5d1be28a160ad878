"""The schedule config a command trains: a schedule's defaults with `--set` settings, a warmup given in steps or
epochs stored as the fraction of the task's budget it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrrec.runners.tasks import Budget, Task, load_data
from lrrec.runners.train import steps_per_epoch
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.units import WARMUP_UNITS, warmup_as_fraction


def config_for(task: Task, budget: Budget, schedule: str, settings: Mapping[str, Any],
               data_root: str | None = None) -> ScheduleConfig:
    """`schedule` at its defaults with `settings` (lr, parameters, warmup, `warmup_steps` or `warmup_epochs`)."""
    if any(key in settings for key in WARMUP_UNITS):
        per_epoch = 1 if task.kind == "surface" else steps_per_epoch(load_data(task, data_root), budget.batch_size)
        settings = warmup_as_fraction(settings, budget.epochs, per_epoch)
    return ScheduleConfig.create(schedule).with_settings(settings)
