"""The interchange row: one run per row, the shape every input format is parsed into, validated once here.

A row is a mapping of the fields in `FIELDS` (README: "Experience store and ingest"). `parse_row` turns it into
a `RunRecord` with a validated `TaskFingerprint` and `ScheduleConfig`, or raises a one-line `LrrecError`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from lrrec.errors import InvalidValueError, LrrecError, unknown_name
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig

STATUSES = ("finished", "failed", "diverged", "interrupted", "running")
DIRECTIONS = ("max", "min")

# field -> kind. "task"/"schedule" are name-or-object; "object" fields may be given as JSON text.
FIELDS: dict[str, str] = {
    "run_id": "str", "task": "task", "schedule": "schedule", "lr": "float", "schedule_params": "object",
    "seed": "int", "optimizer": "str", "optimizer_params": "object", "batch_size": "count", "epochs": "count",
    "steps": "count", "status": "str", "metric_name": "str", "direction": "str", "final_metric": "float",
    "best_metric": "float", "target_value": "float", "time_to_target_s": "float", "step_to_target": "int",
    "wall_time_s": "float", "device": "str", "lrrec_version": "str", "library_versions": "object",
    "source": "str", "source_ref": "str", "created_at": "time", "notes": "str", "extra": "object",
    "curves": "list",
}
CURVE_FIELDS: dict[str, str] = {"step": "int", "epoch": "float", "lr": "float", "train_loss": "float",
                                "val_loss": "float", "val_metric": "float", "extra": "object"}
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


def infer_direction(metric_name: str) -> str | None:
    """"max" for accuracy-like names, "min" for loss/error-like names, None when the name says neither."""
    name = metric_name.lower()
    if any(word in name for word in _MIN_WORDS):
        return "min"
    if any(word in name for word in _MAX_WORDS):
        return "max"
    return None


def strict_json(text: str) -> Any:
    """`json.loads` that rejects NaN, Infinity, integers beyond float range and deep nesting (a number like
    1e999 reads as inf, which each field's check refuses by name)."""
    def reject(token: str) -> Any:
        raise InvalidValueError(f"{token} is not allowed; write null for a missing value")

    def whole(token: str) -> int:
        if len(token.lstrip("-")) > _MAX_DIGITS:
            raise InvalidValueError(f"a number with {len(token.lstrip('-'))} digits is beyond the range of a float")
        return int(token)
    try:
        value = json.loads(text, parse_constant=reject, parse_int=whole)
    except json.JSONDecodeError as exc:
        raise InvalidValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InvalidValueError(f"JSON nested too deeply (lrrec reads up to {MAX_DEPTH} levels)") from None
    return value


MAX_DEPTH = 32  # nesting of JSON objects and lists in a row
_MAX_DIGITS = 308  # whole numbers longer than this overflow a float


def check_nested(key: str, value: Any, depth: int = 0) -> None:
    """Refuse, anywhere inside a field, nesting deeper than `MAX_DEPTH`, text that is not valid Unicode (a lone
    surrogate) and non-finite numbers (inside objects and lists; top-level numbers get their own message)."""
    if depth > MAX_DEPTH:
        raise InvalidValueError(f"{key} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValueError(f"{key} holds text that is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, float) and depth and not math.isfinite(value):
        raise InvalidValueError(f"{key} holds {value!r}; write null for a missing value")
    elif isinstance(value, dict):
        for item_key, item in value.items():
            check_nested(key, item_key, depth + 1)
            check_nested(key, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_nested(key, item, depth + 1)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, no NaN: equal data gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


INT64_MAX = 2**63 - 1  # the store's whole numbers are 64-bit
TABLE_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def _coerce(key: str, kind: str, value: Any, text: bool) -> Any:
    """Normalise one value of `kind`; `text=True` accepts numbers written as strings (CSV cells)."""
    if isinstance(value, str) and text and value.strip() == "":
        return None
    if value is None:
        return None
    if kind in ("float", "int", "count"):
        if isinstance(value, str) and text:
            value = _number_text(key, value, kind)
        if isinstance(value, Decimal):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValueError(f"{key} must be a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            raise InvalidValueError(f"{key} must be a finite number, got {value!r}; write null for a missing value")
        if kind == "float":
            return float(value)
        if value != int(value):
            raise InvalidValueError(f"{key} must be a whole number, got {value!r}")
        if kind == "count" and value < 1:
            raise InvalidValueError(f"{key} must be at least 1, got {value!r}")
        if not -INT64_MAX <= value <= INT64_MAX:
            raise InvalidValueError(f"{key} must lie within +-{INT64_MAX} (the store keeps 64-bit integers), "
                                    f"got {value!r}")
        return int(value)
    if kind == "str":
        if not isinstance(value, str):
            raise InvalidValueError(f"{key} must be text, got {type(value).__name__} {value!r}")
        return value
    if kind in ("object", "list"):
        if isinstance(value, str):
            try:
                value = strict_json(value)
            except InvalidValueError as exc:
                raise InvalidValueError(f"{key}: {exc}; give a JSON {kind} (e.g. {'{}' if kind == 'object' else '[]'})"
                                        ) from None
        check_nested(key, value)
        want = dict if kind == "object" else list
        if not isinstance(value, want):
            raise InvalidValueError(f"{key} must be a JSON {'object' if want is dict else 'list'}, got {value!r}")
        return value
    if kind == "time":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidValueError(f"{key} must be an ISO-8601 time, got {value!r}") from None
        if not isinstance(value, datetime):
            raise InvalidValueError(f"{key} must be an ISO-8601 time, got {value!r}")
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:
                raise InvalidValueError(f"{key} {value.isoformat()} is out of range in UTC") from None
        return value
    return value  # task / schedule: validated by their own classes


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)


def _number_text(key: str, text: str, kind: str) -> float | int:
    """A number written in a CSV cell: plain decimal or scientific notation (no `1_0`, no hex)."""
    cell = text.strip()
    if len(cell) > _MAX_DIGITS or not _NUMBER.fullmatch(cell):  # length first: the match is quadratic in it
        raise InvalidValueError(f"{key} must be a number, got {text[:40]!r}")
    if kind == "float" or any(c in cell for c in ".eEnN"):
        return float(cell)
    return int(cell)


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
        if not isinstance(row, Mapping):
            raise InvalidValueError(f"a row must be a JSON object, got {type(row).__name__}")
        for key in row:
            if key not in FIELDS:
                raise unknown_name("interchange field", str(key), FIELDS)
            check_nested(str(key), row[key])
        v = dict.fromkeys(FIELDS)
        v.update((key, _coerce(key, FIELDS[key], value, self.text)) for key, value in row.items())
        if v["task"] is None or v["schedule"] is None or v["metric_name"] is None:
            missing = [k for k in ("task", "schedule", "metric_name") if v[k] is None]
            raise InvalidValueError(f"missing required field(s): {', '.join(missing)}")
        task = self._task(v.pop("task"))
        schedule, config_id = self._schedule(v.pop("schedule"), v.pop("lr"), v.pop("schedule_params"))
        v["status"] = "finished" if v["status"] is None else v["status"]
        if v["status"] not in STATUSES:
            raise unknown_name("status", v["status"], STATUSES)
        v["direction"] = v["direction"] or infer_direction(v["metric_name"])
        if v["direction"] not in DIRECTIONS:
            given = v["direction"]
            raise InvalidValueError(f"direction {given!r} is not max or min" if given else
                                    f"cannot tell whether {v['metric_name']!r} is better high or low; "
                                    f"add \"direction\": \"max\" or \"min\"")
        curves = [self._curve_point(i, p) for i, p in enumerate(v.pop("curves") or [])]
        if v["status"] == "finished" and v["final_metric"] is None:
            raise InvalidValueError("a finished run needs final_metric (or give another status)")
        if v["best_metric"] is None:
            v["best_metric"] = best_of([v["final_metric"], *(p["val_metric"] for p in curves)], v["direction"])
        check_plausible(v, curves)
        run_id = v.pop("run_id")
        hashed = {k: v[k] for k in v if k not in _NOT_HASHED}
        hashed.update(task=task.task_id, schedule=config_id, curves=curves)
        if v["created_at"] is None:
            del hashed["created_at"]
            v["created_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
        else:
            hashed["created_at"] = v["created_at"].isoformat()
        if self.source_override or v["source"] is None:
            v["source"] = self.source
        if "source_ref" not in row:  # an explicit null (as in an export) stays null
            v["source_ref"] = source_ref
        run_id = run_id or hashlib.sha256(canonical_json(hashed).encode()).hexdigest()
        return RunRecord(run_id, task, schedule, v, curves, config_id)

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
        out.update((key, _coerce(f"{where}.{key}", CURVE_FIELDS[key], value, False)) for key, value in point.items())
        if out["step"] is None and out["epoch"] is None:
            raise InvalidValueError(f"{where} needs a step or an epoch")
        return out


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
    """Run a constructor on imported data; a type error from odd input becomes a one-line row error, and so does a
    message that quotes the data raw (a schedule family with a line break in it would break the report's lines)."""
    try:
        return build()
    except LrrecError as exc:
        if str(exc).isprintable():
            raise
        raise type(exc)(_printable(str(exc))) from None
    except (TypeError, ValueError, KeyError) as exc:
        raise InvalidValueError(_printable(f"{what}: {exc}")) from None


def _printable(text: str) -> str:
    """`text` with line breaks and other unprintable characters escaped as in Python (\\n, \\x00, \\u2028)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def best_of(values: list[float | None], direction: str) -> float | None:
    """The best non-null value for `direction` ("max"/"min"), None if there is none."""
    present = [x for x in values if x is not None]
    if not present:
        return None
    return max(present) if direction == "max" else min(present)
