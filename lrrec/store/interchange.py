"""The interchange row: one run per row, the shape every input format is parsed into, validated once here.

A row is a mapping of the fields in `FIELDS` (README: "Experience store and ingest"). `RowParser.parse` turns it into
a `RunRecord` with a validated `TaskFingerprint` and `ScheduleConfig`, or raises a one-line `LrrecError`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from lrrec.errors import InvalidValueError, LrrecError, unknown_name
from lrrec.fields import JsonList, JsonObject, Kind, NameOrObject, Number, Text, Time, check_nested, strict_json
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig

STATUSES = ("finished", "failed", "diverged", "interrupted", "running")
DIRECTIONS = ("max", "min")

_TEXT, _OBJECT, _NAMED = Text(), JsonObject(), NameOrObject()
_REAL, _INT, _COUNT = Number(), Number(whole=True), Number(whole=True, at_least=1)
FIELDS: dict[str, Kind] = {
    "run_id": _TEXT, "task": _NAMED, "schedule": _NAMED, "lr": _REAL, "schedule_params": _OBJECT, "seed": _INT,
    "optimizer": _TEXT, "optimizer_params": _OBJECT, "batch_size": _COUNT, "epochs": _COUNT, "steps": _COUNT,
    "status": _TEXT, "metric_name": _TEXT, "direction": _TEXT, "final_metric": _REAL, "best_metric": _REAL,
    "target_value": _REAL, "time_to_target_s": _REAL, "step_to_target": _INT, "wall_time_s": _REAL, "device": _TEXT,
    "lrrec_version": _TEXT, "library_versions": _OBJECT, "source": _TEXT, "source_ref": _TEXT, "created_at": Time(),
    "notes": _TEXT, "extra": _OBJECT, "curves": JsonList(),
}
CURVE_FIELDS: dict[str, Kind] = {"step": _INT, "epoch": _REAL, "lr": _REAL, "train_loss": _REAL, "val_loss": _REAL,
                                 "val_metric": _REAL, "extra": _OBJECT}
_REQUIRED = ("task", "schedule", "metric_name")
_MAX_WORDS = ("acc", "auc", "f1", "iou", "bleu")
_FRACTION_WORDS = ("acc",)  # metrics that are fractions in 0..1
_MIN_WORDS = ("loss", "err", "perplexity", "mse", "mae", "nll")
_NOT_HASHED = ("run_id", "source", "source_ref")


@dataclass
class RunRecord:
    """One validated run, ready to write: its task, schedule config, run columns and curve points."""

    run_id: str
    task: TaskFingerprint
    schedule: ScheduleConfig
    values: dict[str, Any]  # every run column other than run_id/task_id/config_id
    curves: list[dict[str, Any]] = field(default_factory=list)
    config_id: str = ""  # schedule.content_hash(), computed once

    def __post_init__(self) -> None:
        self.config_id = self.config_id or self.schedule.content_hash()


def utc_now() -> datetime:
    """The store's clock: naive UTC, as its TIMESTAMP columns hold it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def infer_direction(metric_name: str) -> str | None:
    """"max" for accuracy-like names, "min" for loss/error-like names, None when the name says neither."""
    name = metric_name.lower()
    if any(word in name for word in _MIN_WORDS):
        return "min"
    if any(word in name for word in _MAX_WORDS):
        return "max"
    return None


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, no NaN: equal data gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


TABLE_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


class RowParser:
    """Validates interchange rows into `RunRecord`s, caching repeated tasks and schedule configs."""

    def __init__(self, source: str, text: bool = False, source_override: bool = False) -> None:
        self.source = source
        self.text = text
        self.source_override = source_override
        self._tasks: dict[str, TaskFingerprint] = {}
        self._schedules: dict[str, tuple[ScheduleConfig, str]] = {}

    def parse(self, row: Mapping[str, Any], source_ref: str) -> RunRecord:
        """Validate one row (`source_ref` is used when the row names none) or raise `LrrecError`."""
        v = self._values(row)
        task = self._task(v.pop("task"))
        schedule, config_id = self._schedule(v.pop("schedule"), v.pop("lr"), v.pop("schedule_params"))
        _check_outcome(v)
        curves = [self._curve_point(i, p) for i, p in enumerate(v.pop("curves") or [])]
        _check_metrics(v, curves)
        run_id = v.pop("run_id") or _content_id(v, task.task_id, config_id, curves)
        if v["created_at"] is None:
            v["created_at"] = utc_now()
        if self.source_override or v["source"] is None:
            v["source"] = self.source
        if "source_ref" not in row:  # an explicit null (as in an export) stays null
            v["source_ref"] = source_ref
        return RunRecord(run_id, task, schedule, v, curves, config_id)

    def _values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Every field of `FIELDS` (None where not given), each checked by its kind; the required ones present."""
        if not isinstance(row, Mapping):
            raise InvalidValueError(f"a row must be a JSON object, got {type(row).__name__}")
        for key in row:
            if key not in FIELDS:
                raise unknown_name("interchange field", str(key), FIELDS)
            check_nested(str(key), row[key])
        v = dict.fromkeys(FIELDS)
        v.update((key, FIELDS[key].check(key, value, self.text)) for key, value in row.items())
        missing = [key for key in _REQUIRED if v[key] is None]
        if missing:
            raise InvalidValueError(f"missing required field(s): {', '.join(missing)}")
        return v

    def _task(self, value: Any) -> TaskFingerprint:
        key = value if isinstance(value, str) else canonical_json(value) if isinstance(value, dict) else None
        if key is None:
            raise InvalidValueError(f"task must be a name like cifar10/resnet18 or an object, got {value!r}")
        if key not in self._tasks:
            if isinstance(value, str) and value.lstrip().startswith("{"):
                value = strict_json(value)
                check_nested("task", value)
            self._tasks[key] = _validated("task", lambda: TaskFingerprint.from_name(value)
                                          if isinstance(value, str) else TaskFingerprint.from_dict(value))
        return self._tasks[key]

    def _schedule(self, value: Any, lr: float | None, params: dict | None) -> tuple[ScheduleConfig, str]:
        if isinstance(value, str) and value.lstrip().startswith("{"):
            value = strict_json(value)
            check_nested("schedule", value)
        if isinstance(value, dict) and (lr is not None or params is not None):
            raise InvalidValueError("give lr and schedule_params only with a schedule name, not a schedule object")
        if not isinstance(value, (str, dict)):
            raise InvalidValueError(f"schedule must be a name like cosine or an object, got {value!r}")
        key = canonical_json([value, lr, params])
        if key not in self._schedules:
            flat = dict(params or {})
            if lr is not None:
                flat["lr"] = lr
            config = _validated("schedule", lambda: ScheduleConfig.from_dict(value)
                                if isinstance(value, dict) else ScheduleConfig.from_flat(value, flat))
            self._schedules[key] = config, config.content_hash()
        return self._schedules[key]

    def _curve_point(self, index: int, point: Any) -> dict[str, Any]:
        where = f"curves[{index}]"
        if not isinstance(point, dict):
            raise InvalidValueError(f"{where} must be an object with step/epoch and metrics, got {point!r}")
        for key in point:
            if key not in CURVE_FIELDS:
                raise unknown_name(f"field in {where}", str(key), CURVE_FIELDS)
        out = dict.fromkeys(CURVE_FIELDS)
        out.update((key, CURVE_FIELDS[key].check(f"{where}.{key}", value)) for key, value in point.items())
        if out["step"] is None and out["epoch"] is None:
            raise InvalidValueError(f"{where} needs a step or an epoch")
        return out


def _check_outcome(values: dict[str, Any]) -> None:
    """Default the status to finished and the direction to the metric name's; refuse unknown ones."""
    values["status"] = "finished" if values["status"] is None else values["status"]
    if values["status"] not in STATUSES:
        raise unknown_name("status", values["status"], STATUSES)
    values["direction"] = given = values["direction"] or infer_direction(values["metric_name"])
    if given not in DIRECTIONS:
        raise InvalidValueError(f"direction {given!r} is not max or min" if given else
                                f"cannot tell whether {values['metric_name']!r} is better high or low; "
                                f"add \"direction\": \"max\" or \"min\"")


def _check_metrics(values: dict[str, Any], curves: list[dict[str, Any]]) -> None:
    """Refuse a finished run without final_metric; default best_metric to the best value given; check plausibility."""
    if values["status"] == "finished" and values["final_metric"] is None:
        raise InvalidValueError("a finished run needs final_metric (or give another status)")
    if values["best_metric"] is None:
        values["best_metric"] = best_of([values["final_metric"], *(p["val_metric"] for p in curves)],
                                        values["direction"])
    check_plausible(values, curves)


def _content_id(values: Mapping[str, Any], task_id: str, config_id: str, curves: list[dict[str, Any]]) -> str:
    """The run id of a row that names none: SHA-256 of its content (a defaulted created_at left out)."""
    hashed = {k: values[k] for k in values if k not in _NOT_HASHED}
    hashed.update(task=task_id, schedule=config_id, curves=curves)
    if values["created_at"] is None:
        del hashed["created_at"]
    else:
        hashed["created_at"] = values["created_at"].isoformat()
    return hashlib.sha256(canonical_json(hashed).encode()).hexdigest()


def check_plausible(values: Mapping[str, Any], curves: list[dict[str, Any]]) -> None:
    """Refuse values no real run produces: an accuracy outside 0..1, a best worse than the final value."""
    name, final, best = values["metric_name"], values["final_metric"], values["best_metric"]
    if any(word in name.lower() for word in _FRACTION_WORDS):
        for field_name, value in (("final_metric", final), ("best_metric", best),
                                  ("target_value", values["target_value"]),
                                  *((f"curves[{i}].val_metric", p["val_metric"]) for i, p in enumerate(curves))):
            if value is not None and not 0 <= value <= 1:
                raise InvalidValueError(f"{field_name} {value:g} is not a fraction, but {name} is one; give "
                                        f"accuracies in 0..1 (divide percentages by 100)")
    if final is not None and best is not None and best_of([final, best], values["direction"]) != best:
        raise InvalidValueError(f"best_metric {best:g} is worse than final_metric {final:g} for a "
                                f"{values['direction']} metric; the best is at least as good as the final value")


def _validated(what: str, build: Callable[[], Any]) -> Any:
    """Run a constructor on imported data; a type error from odd input becomes a one-line row error."""
    try:
        return build()
    except LrrecError:
        raise
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidValueError(f"{what}: {exc}") from None


def best_of(values: list[float | None], direction: str) -> float | None:
    """The best non-null value for `direction` ("max"/"min"), None if there is none."""
    present = [x for x in values if x is not None]
    if not present:
        return None
    return max(present) if direction == "max" else min(present)
