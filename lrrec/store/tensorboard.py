"""TensorBoard logs: each run folder (a `SummaryWriter` log dir) becomes a run; its scalars become its curve, the
hparams it logged (`SummaryWriter.add_hparams`, written to a subfolder) its settings.

The hparams name the schedule (`schedule`) and the task (`task` as DATASET/MODEL, or `dataset` and `model`;
default: the log folder and run folder names); the other hparams map as a foreign Optuna study's parameters do
(LR, the schedule's parameters, optimizer settings, batch size), with `optimizer`, `epochs` and `seed` read by
name and the rest kept in `extra.unmapped_hparams`. Scalar tags map by name: `lr`/`learning_rate`, losses
(`val`/`valid`/`eval`/`test` in the name: validation, else training), validation accuracy; the run is judged
by its validation accuracy, else its validation loss; other tags go to each point's extra. Event files are
protobuf records read by the `tensorboard` package: no code runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lrrec.errors import IngestError, InvalidValueError, LrrecError
from lrrec.store.optuna_study import LR_ALIASES, foreign_params

_LR_TAG = re.compile(r"(^|[/_ .-])(lr|learning[_ -]?rate)($|[/_ .-])")
_VAL_TAG = re.compile(r"val|valid|eval|test")
_WHOLE = ("epochs", "seed", "batch_size")
Scalars = dict[str, list[tuple[int, float]]]


def read_tensorboard(target: Path) -> Iterator[tuple[str, Any]]:
    """Yield `(target#run, interchange row)` for every run folder under `target` (or the one event file)."""
    folders = _event_folders(target)
    if not folders:
        raise IngestError(f"{target}: no TensorBoard event files (events.out.tfevents.*) in it; nothing was ingested")
    loaded = {folder: _load(target, folder) for folder in folders}
    for folder, (scalars, hparams) in loaded.items():
        if hparams and folder.parent in loaded:
            continue  # add_hparams' subfolder: the settings of the run in its parent folder
        settings = hparams or next((h for f, (_, h) in loaded.items() if f.parent == folder and h), {})
        name = _run_name(target, folder)
        try:
            yield f"{target}#{name}", tensorboard_row(scalars, settings, _default_task(target, name))
        except LrrecError as exc:
            yield f"{target}#{name}", exc


def _event_folders(target: Path) -> list[Path]:
    """The folders holding event files (or the one file given)."""
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise IngestError(f"{target}: no such file or folder")
    return sorted({path.parent for path in target.rglob("*.tfevents.*") if path.is_file()})


def _load(target: Path, folder: Path) -> tuple[Scalars, dict[str, Any]]:
    """Every scalar series and the hparams of one folder's event files (or of one event file)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
        from tensorboard.plugins.hparams import plugin_data_pb2
    except ImportError:
        raise IngestError("reading TensorBoard logs needs the tensorboard package: pip install "
                          "'lrrec[tensorboard]'") from None
    for path in [folder] if folder.is_file() else sorted(folder.glob("*.tfevents.*")):
        if not any(True for _ in EventFileLoader(str(path)).Load()):  # a real one opens with its version record
            raise IngestError(f"{path}: not a TensorBoard event file (no readable record); nothing was ingested")
    try:
        events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
        events.Reload()
        scalars = {tag: [(int(e.step), float(e.value)) for e in events.Scalars(tag)]
                   for tag in events.Tags()["scalars"]}
        hparams: dict[str, Any] = {}
        for content in _plugin_content(events, "hparams").values():
            info = plugin_data_pb2.HParamsPluginData.FromString(content)
            if info.WhichOneof("data") == "session_start_info":
                hparams.update({k: _value(k, v) for k, v in info.session_start_info.hparams.items()})
    except Exception as exc:  # noqa: BLE001 - a foreign library reading a foreign file: report, never crash
        raise IngestError(f"{folder}: not a readable TensorBoard event file ({type(exc).__name__}: "
                          f"{str(exc).strip()[:200]}); nothing was ingested") from None
    return scalars, hparams


def _plugin_content(events: Any, plugin: str) -> dict[str, bytes]:
    """The plugin's data by tag; none when the files hold none."""
    try:
        return dict(events.PluginTagToContent(plugin))
    except KeyError:
        return {}


def _value(key: str, value: Any) -> Any:
    """An hparam's value: its number (whole numbers for counts), text or flag."""
    kind = value.WhichOneof("kind")
    raw = getattr(value, kind) if kind else None
    if isinstance(raw, float) and key in _WHOLE and raw.is_integer():
        return int(raw)
    return raw


def _run_name(target: Path, folder: Path) -> str:
    return folder.name if folder == target else folder.relative_to(target).as_posix()


def _default_task(target: Path, name: str) -> str:
    base = target.parent if target.is_file() else target
    return f"{base.resolve().name or 'tensorboard'}/{name.replace('/', '-')}"


def tensorboard_row(scalars: Scalars, hparams: Mapping[str, Any], default_task: str) -> dict[str, Any]:
    """One run's scalars and hparams as an interchange row."""
    settings = dict(hparams)
    schedule = settings.pop("schedule", None)
    if not isinstance(schedule, str) or not schedule:
        raise InvalidValueError("no schedule in its hparams; log it, e.g. SummaryWriter.add_hparams({'schedule': "
                                "'cosine', 'lr': 0.1, 'task': 'mydata/mymodel'}, {...})")
    task = settings.pop("task", None)
    if task is None and "dataset" in settings and "model" in settings:
        task = f"{settings.pop('dataset')}/{settings.pop('model')}"
    row: dict[str, Any] = {key: settings.pop(key) for key in ("optimizer", "epochs", "seed") if key in settings}
    flat, rest = foreign_params(settings, schedule, row)
    roles = _roles(scalars)
    if "lr" not in flat and "lr" in roles:
        flat["lr"] = max(v for _, v in scalars[roles["lr"]])  # the peak: a config's LR
    metric_role = "val_accuracy" if "val_accuracy" in roles else "val_loss" if "val_loss" in roles else None
    if metric_role is None:
        raise InvalidValueError(f"no validation accuracy or loss among its scalars ({', '.join(sorted(scalars))}) "
                                f"to judge the run by")
    curve = _curve(scalars, roles, metric_role)
    losses = [v for tag in ("train_loss", "val_loss") if tag in roles for _, v in scalars[roles[tag]]]
    final = scalars[roles[metric_role]][-1][1]
    extra = {"tensorboard_tags": roles, **({"unmapped_hparams": rest} if rest else {})}
    return {**row, "task": task or default_task, "schedule": schedule, "schedule_params": flat,
            "metric_name": metric_role, "direction": "max" if metric_role == "val_accuracy" else "min",
            "status": "finished" if all(math.isfinite(v) for v in [*losses, final]) else "diverged",
            "final_metric": final if math.isfinite(final) else None, "curves": curve, "extra": extra}


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
