"""DeepOBS-style result files ("Descending through a Crowded Valley" results): one JSON file per run.

The task comes from the problem name (`fmnist_2c2d` -> dataset fmnist, model 2c2d), the schedule from the
epoch/factor lists: constant, cosine, cosine with warm restarts (sgdr) or trapezoid, with durations converted to
fractions of `num_epochs`. Diverged runs (losses reset to their epoch-0 values, or non-finite) become `diverged`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lrrec.errors import IngestError, InvalidValueError, LrrecError
from lrrec.fields import JsonObject, Kind, Number, Text
from lrrec.schedules import ScheduleConfig

# Known DeepOBS datasets: name prefix -> task facts. Other problems split at the first underscore.
_DATASETS: dict[str, dict[str, Any]] = {
    "mnist": {"n_classes": 10, "input_shape": [1, 28, 28]},
    "fmnist": {"n_classes": 10, "input_shape": [1, 28, 28]},
    "cifar10": {"n_classes": 10, "input_shape": [3, 32, 32]},
    "cifar100": {"n_classes": 100, "input_shape": [3, 32, 32]},
    "svhn": {"n_classes": 10, "input_shape": [3, 32, 32]},
    "imagenet": {"n_classes": 1000, "input_shape": [3, 224, 224]},
    "tolstoi": {},
    "quadratic": {},
    "two_d": {},
}
_SURFACES = ("quadratic", "two_d")
_OPTIMIZERS = {"GradientDescentOptimizer": "sgd", "MomentumOptimizer": "sgd", "AdamOptimizer": "adam"}
_RENAMED = {"use_nesterov": "nesterov"}
_REQUIRED = ("testproblem", "num_epochs", "optimizer_name", "optimizer_hyperparams", "train_losses",
             "valid_losses")
_NAME = Text(non_blank=True, nullable=False, must="a non-empty name")
# field -> kind, checked in this order once the required fields are known present; values are used as given
_CHECKED: dict[str, Kind] = {
    "num_epochs": Number(whole=True, at_least=1, nullable=False, must="a positive integer"),
    "testproblem": _NAME, "optimizer_name": _NAME, "l2_reg": Number(must="a finite number or null"),
    "training_params": JsonObject(must="an object"),
}
_SERIES = ("train_losses", "valid_losses", "test_losses", "train_accuracies", "valid_accuracies", "test_accuracies")
# has accuracies -> (metric series, test series, metric_name, direction)
_METRICS = {True: ("valid_accuracies", "test_accuracies", "val_accuracy", "max"),
            False: ("valid_losses", "test_losses", "val_loss", "min")}
_EXTRA_SERIES = {"test_losses": "test_loss", "test_accuracies": "test_accuracy", "train_accuracies": "train_accuracy"}
FACTOR_TOLERANCE = 0.1  # largest per-epoch gap between the file's factors and the recognised schedule


def read_deepobs(path: Path) -> Iterator[tuple[str, Any]]:
    """Yield `(path, interchange row)` for one result file, or `(path, error)` if it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror}); nothing was ingested") from None
    except UnicodeDecodeError:
        yield str(path), InvalidValueError("not UTF-8 text")
        return
    try:
        yield str(path), deepobs_row(json.loads(text))
    except json.JSONDecodeError as exc:
        yield str(path), InvalidValueError(f"invalid JSON ({exc.msg} at line {exc.lineno})")
    except RecursionError:
        yield str(path), InvalidValueError("JSON nested too deeply")
    except LrrecError as exc:
        yield str(path), exc
    except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:  # a shape no check foresaw
        yield str(path), InvalidValueError(f"not a DeepOBS result ({type(exc).__name__}: {str(exc)[:200]})")


def deepobs_row(data: Any) -> dict[str, Any]:
    """Map one parsed DeepOBS result to an interchange row."""
    _check_result(data)
    n, hyper = data["num_epochs"], data["optimizer_hyperparams"]
    series = {key: _series(data, key, n, key in _REQUIRED) for key in _SERIES}
    training = data.get("training_params") or {}
    per_epoch = epoch_factors(training.get("lr_sched_epochs") or [], training.get("lr_sched_factors") or [], n)
    schedule, deviation = recognise_schedule(per_epoch, n, float(hyper["learning_rate"]))
    has_acc = series["valid_accuracies"] is not None
    metric, test_key, metric_name, direction = _METRICS[has_acc]
    diverged_at = _divergence(series, n)
    finals = {} if diverged_at is not None else {key: _value(series, key, n) for key in (metric, test_key)}
    optimizer = str(data["optimizer_name"])
    return {
        "task": _task(str(data["testproblem"]), has_acc),
        "schedule": schedule.to_dict(),
        "seed": data.get("random_seed"),
        "optimizer": _OPTIMIZERS.get(optimizer, optimizer.removesuffix("Optimizer").lower()),
        "optimizer_params": _optimizer_params(hyper, data.get("l2_reg")),
        "batch_size": data.get("batch_size"), "epochs": n,
        "status": "finished" if diverged_at is None else "diverged",
        "metric_name": metric_name, "direction": direction,
        "final_metric": finals.get(metric),
        "curves": _curves(series, schedule.lr, per_epoch, metric, n if diverged_at is None else diverged_at - 1),
        "notes": _notes(data["testproblem"], schedule.name, deviation, diverged_at),
        "extra": {"final_test": finals.get(test_key), "test_metric": test_key},
    }


def _notes(problem: str, schedule: str, deviation: float, diverged_at: int | None) -> str:
    """How the schedule was recognised, and where the run diverged."""
    notes = [(f"DeepOBS problem {problem}; lr_sched recognised as {schedule} "
              f"(largest per-epoch factor gap {deviation:.3g}); steps per epoch not in the file")]
    if diverged_at is not None:
        notes.append(f"diverged at epoch {diverged_at}: losses non-finite or reset to their epoch-0 values")
    return "; ".join(notes)


def _check_result(data: Any) -> None:
    """Refuse what is not a DeepOBS result: not an object, a required field missing, a field of the wrong kind."""
    if not isinstance(data, Mapping):
        raise InvalidValueError("not a DeepOBS result: the file must hold a JSON object")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise InvalidValueError(f"not a DeepOBS result: missing {', '.join(missing)}")
    given = {**data, "training_params": data.get("training_params") or None}  # a falsy value: none given
    for key, kind in _CHECKED.items():
        kind.check(key, given.get(key))
    hyper = data["optimizer_hyperparams"]
    if not isinstance(hyper, Mapping) or not _is_number(hyper.get("learning_rate")):
        raise InvalidValueError("optimizer_hyperparams needs a numeric learning_rate")


def _curves(series: Mapping[str, list[float | None] | None], lr: float, per_epoch: list[float], metric: str,
            last: int) -> list[dict[str, Any]]:
    """One curve point per epoch 0..`last`."""
    return [{"epoch": e, "lr": lr * per_epoch[e], "train_loss": _value(series, "train_losses", e),
             "val_loss": _value(series, "valid_losses", e), "val_metric": _value(series, metric, e),
             "extra": {name: _value(series, k, e) for k, name in _EXTRA_SERIES.items()
                       if series[k] is not None} or None}
            for e in range(last + 1)]


def epoch_factors(epochs: Any, factors: Any, n: int) -> list[float]:
    """The LR factor in effect from each epoch 0..n (a listed factor applies from its epoch on)."""
    if not isinstance(epochs, list) or not isinstance(factors, list) or len(epochs) != len(factors):
        raise InvalidValueError("lr_sched_epochs and lr_sched_factors must be lists of equal length")
    if any(isinstance(e, bool) or not isinstance(e, int) for e in epochs) or epochs != sorted(set(epochs)):
        raise InvalidValueError("lr_sched_epochs must be increasing whole numbers")
    if not all(_is_number(f) and f >= 0 for f in factors):
        raise InvalidValueError("lr_sched_factors must be finite non-negative numbers")
    changes = dict(zip(epochs, factors))
    out, current = [], 1.0
    for epoch in range(n + 1):
        current = float(changes.get(epoch, current))
        out.append(current)
    return out


def recognise_schedule(per_epoch: list[float], n: int, lr: float) -> tuple[ScheduleConfig, float]:
    """Name the schedule behind per-epoch factors; returns it and the largest gap over epochs 1..n-1.

    Epoch 0 and n are left out of the comparison: in these files epoch 0 always runs at the base LR, and the
    factor listed for epoch n is never used.
    """
    inner = per_epoch[1:n]
    name, params = _schedule_shape(per_epoch, n)
    try:
        config = ScheduleConfig.create(name, lr, params)
    except LrrecError as exc:
        raise InvalidValueError(f"LR schedule looks like {name} but {exc}") from None
    expected = config.multipliers(list(range(1, n)), n)
    deviation = max((abs(float(a) - b) for a, b in zip(expected, inner)), default=0.0)
    if deviation > FACTOR_TOLERANCE:
        raise InvalidValueError(f"unrecognised LR schedule (closest: {name}, off by {deviation:.3g} at some epoch);"
                                f" lrrec recognises constant, cosine, cosine with warm restarts and trapezoid")
    return config, deviation


def _schedule_shape(per_epoch: list[float], n: int) -> tuple[str, dict[str, Any]]:
    """The schedule family the factors of epochs 1..n-1 take, with its parameters (not yet checked against them)."""
    inner = per_epoch[1:n]
    ups = [e for e in range(2, n) if per_epoch[e] > per_epoch[e - 1] + 0.5]
    if all(abs(f - 1.0) < 1e-12 for f in inner):
        return "constant", {}
    if ups:
        periods = [b - a for a, b in zip([0, *ups], ups)]
        t_mult = periods[1] / periods[0] if len(periods) > 1 else 1.0
        if t_mult != int(t_mult):
            raise InvalidValueError(f"warm-restart periods {periods} do not grow by a whole factor")
        return "sgdr", {"t0_frac": ups[0] / n, "t_mult": int(t_mult)}
    if len(inner) > 1 and inner[0] < inner[1]:
        top = [e for e in range(1, n) if per_epoch[e] >= 1.0 - 1e-9]
        if not top:
            raise InvalidValueError("LR factors rise but never reach 1; not a trapezoid")
        return "trapezoid", {"warmup_frac": top[0] / n, "decay_frac": (n - top[-1]) / n}
    return "cosine", {}


def _task(problem: str, has_accuracy: bool) -> dict[str, Any]:
    dataset = next((d for d in sorted(_DATASETS, key=len, reverse=True) if problem.startswith(d + "_")),
                   problem.partition("_")[0])
    model = problem[len(dataset) + 1:] or problem
    kind = "surface" if dataset in _SURFACES else "classification" if has_accuracy else "regression"
    facts = dict(_DATASETS.get(dataset, {}))
    if "input_shape" in facts:
        facts["input_numel"] = math.prod(facts["input_shape"])
    return {"name": f"{dataset}/{model}", "dataset": dataset, "model": model, "task_kind": kind, **facts,
            "extra": {"deepobs_problem": problem}}


def _optimizer_params(hyper: Mapping[str, Any], l2_reg: Any) -> dict[str, Any] | None:
    out = {_RENAMED.get(k, k): v for k, v in hyper.items() if k != "learning_rate"}
    if l2_reg is not None:
        out["weight_decay"] = l2_reg
    return out or None


def _series(data: Mapping[str, Any], key: str, n: int, required: bool = False) -> list[float | None] | None:
    """The values of one series; the losses are required, and their length is what bounds `num_epochs` (a short
    file claiming 10**12 epochs would otherwise build per-epoch lists until memory runs out)."""
    values = data.get(key)
    if values is None and not required:
        return None
    if not isinstance(values, list) or len(values) != n + 1:
        raise InvalidValueError(f"{key} must list num_epochs + 1 = {n + 1} values, got "
                                f"{len(values) if isinstance(values, list) else _json_type(values)}")
    if not all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in values):
        raise InvalidValueError(f"{key} must hold numbers")
    return [float(v) if _is_number(v) else None for v in values]


def _json_type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _value(series: Mapping[str, list[float | None] | None], key: str, epoch: int) -> float | None:
    values = series[key]
    return None if values is None else values[epoch]


def _divergence(series: Mapping[str, list[float | None] | None], n: int) -> int | None:
    """First epoch from which the losses are non-finite or stay at their epoch-0 values, if any."""
    losses = [s for s in (series["train_losses"], series["valid_losses"]) if s is not None]
    for epoch in range(1, n + 1):
        if any(s[epoch] is None for s in losses):
            return epoch
        if all(all(v == s[0] for v in s[epoch:]) for s in losses):
            return epoch
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
