"""What every hook shares: the schedule to train with, and the run it records (settings read off the optimizer)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules.config import ScheduleConfig
from lrrec.suggestions import ScheduleSuggestion, resolve_store, suggest

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from lrrec.store.run import Run
    from lrrec.store.store import Store

_RECORDED = ("momentum", "weight_decay", "nesterov", "betas", "eps")


@dataclass(kw_only=True, eq=False, repr=False)
class RecordingSettings:
    """A hook callback's keyword-only settings, declared once: its constructor takes them (a callback, itself such
    a dataclass, gives `metric` its own default and sets up its state in `__post_init__`)."""

    name: str | None = None
    schedule: ScheduleConfig | ScheduleSuggestion | str | None = None
    metric: str
    direction: str | None = None
    fingerprint: TaskFingerprint | None = None
    install_schedule: bool = True
    seed: int | None = None
    store: Store | str | os.PathLike[str] | None = None


def schedule_for(schedule: ScheduleConfig | ScheduleSuggestion | str | None, fingerprint: TaskFingerprint,
                 store: Store, optimizer: str, batch_size: int | None, epochs: int | None) -> ScheduleConfig:
    """The config to train with: the one given (a config, a suggestion, or a schedule's name at its defaults),
    else the top suggestion for `fingerprint`."""
    if isinstance(schedule, ScheduleSuggestion):
        return schedule.config
    if isinstance(schedule, str):
        return ScheduleConfig.create(schedule)
    if schedule is not None:
        return schedule
    return suggest(fingerprint, optimizer=optimizer, batch_size=batch_size, epochs=epochs, top=1,
                   store=store).best.config


def optimizer_name(optimizer: Optimizer) -> str:
    """The optimizer as the store names it: `sgd`, `adam`, `adamw`, ... (its class name, lower case; a wrapper's,
    as accelerate's, is the optimizer it wraps)."""
    return type(_unwrapped(optimizer)).__name__.lower()


def optimizer_settings(optimizer: Optimizer) -> dict[str, Any]:
    """The optimizer's recorded settings (momentum, weight decay, ...) from its defaults."""
    defaults = _unwrapped(optimizer).defaults
    return {k: defaults[k] for k in _RECORDED if k in defaults}


def _unwrapped(optimizer: Any) -> Any:
    inner = getattr(optimizer, "optimizer", None)
    return optimizer if inner is None or inner is optimizer else _unwrapped(inner)


def begin_run(store: Store | str | os.PathLike[str] | None, fingerprint: TaskFingerprint, config: ScheduleConfig,
              optimizer: Optimizer, *, metric: str, direction: str | None, batch_size: int | None,
              epochs: int | None, seed: int | None = None, source_ref: str | None = None,
              extra: Mapping[str, Any] | None = None) -> Run:
    """Start recording a run of `config` on `fingerprint` (status `running` until it ends)."""
    return resolve_store(store).start_run(
        fingerprint, config, metric_name=metric, direction=direction, optimizer=optimizer_name(optimizer),
        optimizer_params=optimizer_settings(optimizer), batch_size=batch_size, epochs=epochs, seed=seed,
        source="user", source_ref=source_ref, extra=extra)
