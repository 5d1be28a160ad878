"""Runs logged as named scalar series and settings (TensorBoard, MLflow) as interchange rows.

The settings name the schedule (`schedule`) and the task (`task` as DATASET/MODEL, or `dataset` and `model`);
the others map as a foreign Optuna study's parameters do (LR, the schedule's parameters, optimizer settings,
batch size), with `optimizer`, `epochs` and `seed` read by name and the rest kept in `extra.unmapped_params`.
Series map by name: `lr`/`learning_rate`, losses (`val`/`valid`/`eval`/`test` in the name: validation, else
training), validation accuracy; the run is judged by its validation accuracy, else its validation loss; other
series go to each point's extra.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.store.optuna_study import LR_ALIASES, foreign_params

_LR_TAG = re.compile(r"(^|[/_ .-])(lr|learning[_ -]?rate)($|[/_ .-])")
_VAL_TAG = re.compile(r"val|valid|eval|test")
WHOLE_SETTINGS = ("epochs", "seed", "batch_size")  # counts, whole numbers however they were logged
Scalars = dict[str, list[tuple[int, float]]]


def scalar_run_row(scalars: Scalars, given: Mapping[str, Any], default_task: str,
                   missing_schedule: str = "log it, e.g. SummaryWriter.add_hparams({'schedule': 'cosine', 'lr': 0.1, "
                                           "'task': 'mydata/mymodel'}, {...})") -> dict[str, Any]:
    """One run's scalar series and settings as an interchange row; `missing_schedule` says how to name it."""
    settings = dict(given)
    schedule = settings.pop("schedule", None)
    if not isinstance(schedule, str) or not schedule:
        raise InvalidValueError(f"no schedule in its settings; {missing_schedule}")
    task = _task_name(settings)
    row: dict[str, Any] = {key: settings.pop(key) for key in ("optimizer", "epochs", "seed") if key in settings}
    flat, rest = foreign_params(settings, schedule, row)
    roles = _roles(scalars)
    if "lr" not in flat and "lr" in roles:
        flat["lr"] = max(v for _, v in scalars[roles["lr"]])  # the peak: a config's LR
    extra = {"series": roles, **({"unmapped_params": rest} if rest else {})}
    return {**row, "task": task or default_task, "schedule": schedule, "schedule_params": flat,
            **_outcome(scalars, roles), "extra": extra}


def _outcome(scalars: Scalars, roles: Mapping[str, str]) -> dict[str, Any]:
    """The run's metric (validation accuracy, else loss), its final value, status and curve."""
    metric_role = "val_accuracy" if "val_accuracy" in roles else "val_loss" if "val_loss" in roles else None
    if metric_role is None:
        raise InvalidValueError(f"no validation accuracy or loss among its scalars ({', '.join(sorted(scalars))}) "
                                f"to judge the run by")
    losses = [v for tag in ("train_loss", "val_loss") if tag in roles for _, v in scalars[roles[tag]]]
    final = scalars[roles[metric_role]][-1][1]
    return {"metric_name": metric_role, "direction": "max" if metric_role == "val_accuracy" else "min",
            "status": "finished" if all(math.isfinite(v) for v in [*losses, final]) else "diverged",
            "final_metric": final if math.isfinite(final) else None,
            "curves": _curve(scalars, roles, metric_role)}


def _task_name(settings: dict[str, Any]) -> Any:
    """The run's task from its settings (taken out of them): `task`, or `dataset` and `model`; None if neither."""
    task = settings.pop("task", None)
    if task is None and "dataset" in settings and "model" in settings:
        task = f"{settings.pop('dataset')}/{settings.pop('model')}"
    return task


def _roles(scalars: Scalars) -> dict[str, str]:
    """The tag playing each part (`lr`, `train_loss`, `val_loss`, `val_accuracy`), the first in name order."""
    roles: dict[str, str] = {}
    for tag in sorted(scalars):
        lowered = tag.lower()
        if _LR_TAG.search(lowered) or lowered in LR_ALIASES:
            role = "lr"
        elif "loss" in lowered:
            role = "val_loss" if _VAL_TAG.search(lowered) else "train_loss"
        elif "acc" in lowered and _VAL_TAG.search(lowered):
            role = "val_accuracy"
        else:
            continue
        roles.setdefault(role, tag)
    return roles


def _curve(scalars: Scalars, roles: Mapping[str, str], metric_role: str) -> list[dict[str, Any]]:
    """A point per logged step: its LR, losses and metric, and the other tags in its extra."""
    columns = {"lr": "lr", "train_loss": "train_loss", "val_loss": "val_loss", metric_role: "val_metric"}
    by_tag = {tag: dict(series) for tag, series in scalars.items()}
    named = {roles[role]: column for role, column in columns.items() if role in roles}
    points = []
    for step in sorted({step for series in scalars.values() for step, _ in series}):
        point: dict[str, Any] = {"step": step}
        extra = {}
        for tag, values in by_tag.items():
            if step not in values:
                continue
            value = values[step] if math.isfinite(values[step]) else None
            if tag in named:
                point[named[tag]] = value
            else:
                extra[tag] = value
        if metric_role == "val_loss" and "val_loss" in roles:
            point["val_loss"] = point.get("val_metric")
        points.append({**point, "extra": extra or None})
    return points
