"""Hyperparameter declarations: default, valid range, search range and (optional) condition.

A `Param` is the one place where a schedule hyperparameter's facts live. Validation, random sampling (for
property tests) and Optuna suggestions are all derived from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from lrrec.errors import InvalidValueError, unknown_name

Kind = str  # "float" | "int" | "bool" | "choice" | "fractions"


class TrialLike(Protocol):
    """The part of `optuna.trial.Trial` that lrrec uses (duck-typed, so optuna is not imported here)."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...
    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...
    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a schedule.

    `valid` is the closed range any value must lie in (`open_low` / `open_high` make an end open); `search` is
    the range the tuner explores (a subset of `valid`). `condition=(other, values)` makes the parameter active
    only when `other` takes one of `values`; an inactive parameter keeps its default.
    """

    name: str
    kind: Kind
    default: Any
    doc: str
    valid: tuple[float, float] | None = None
    search: tuple[float, float] | None = None
    log: bool = False
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] = ()
    search_choices: tuple[Any, ...] = ()
    condition: tuple[str, tuple[Any, ...]] | None = None
    nullable: bool = False

    # -- validation ---------------------------------------------------------------------------------------
    def check(self, value: Any, where: str) -> Any:
        """Return `value` normalised to this parameter's type, or raise `InvalidValueError`."""
        if value is None and self.nullable:
            return None
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise InvalidValueError(f"{where}: {self.name} must be true or false, got {value!r}")
            return value
        if self.kind == "choice":
            if value not in self.choices:
                raise InvalidValueError(
                    f"{where}: {self.name} must be one of {', '.join(map(str, self.choices))}, got {value!r}"
                )
            return value
        if self.kind == "fractions":
            return self._check_fractions(value, where)
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
                raise InvalidValueError(f"{where}: {self.name} must be an integer, got {value!r}")
            value = int(value)
        else:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidValueError(f"{where}: {self.name} must be a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise InvalidValueError(f"{where}: {self.name} must be finite, got {value!r}")
        self._check_range(value, where)
        return value

    def _check_range(self, value: float, where: str) -> None:
        if self.valid is None:
            return
        lo, hi = self.valid
        below = value <= lo if self.open_low else value < lo
        above = value >= hi if self.open_high else value > hi
        if below or above:
            raise InvalidValueError(f"{where}: {self.name}={value!r} is outside {self.range_text()}")

    def _check_fractions(self, value: Any, where: str) -> list[float]:
        if isinstance(value, str):  # "0.5,0.75": the form the tuner's categorical labels take
            try:
                value = [float(part) for part in value.split(",")]
            except ValueError:
                raise InvalidValueError(f"{where}: {self.name} must be fractions like 0.5,0.75, "
                                        f"got {value!r}") from None
        if not isinstance(value, (list, tuple)) or not value:
            raise InvalidValueError(
                f"{where}: {self.name} must be a non-empty list of fractions of the budget, e.g. [0.5, 0.75]"
            )
        out = []
        for item in value:
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not 0.0 < float(item) < 1.0:
                raise InvalidValueError(f"{where}: {self.name} entries must lie in (0, 1), got {item!r}")
            out.append(float(item))
        if out != sorted(out):
            raise InvalidValueError(f"{where}: {self.name} must be in increasing order, got {value!r}")
        return out

    def range_text(self) -> str:
        """The valid range in interval notation, e.g. `(0, 1]`."""
        if self.kind == "choice":
            return "{" + ", ".join(map(str, self.choices)) + "}"
        if self.valid is None:
            return "any"
        lo, hi = self.valid
        return f"{'(' if self.open_low else '['}{lo:g}, {hi:g}{')' if self.open_high else ']'}"

    # -- search space ---------------------------------------------------------------------------------------
    @property
    def searchable(self) -> bool:
        """Whether the tuner explores this parameter (otherwise it stays at its default)."""
        return self.search is not None or bool(self.search_choices) or self.kind in ("bool", "choice")

    def draw(self, key: str, trial: TrialLike) -> Any:
        """Draw a value through an Optuna-like `trial` under the name `key`."""
        if self.kind == "bool":
            return trial.suggest_categorical(key, [False, True])
        if self.kind == "choice":
            return trial.suggest_categorical(key, list(self.search_choices or self.choices))
        if self.kind == "fractions":
            labels = [",".join(f"{x:g}" for x in option) for option in self.search_choices]
            label = trial.suggest_categorical(key, labels)
            return list(self.search_choices[labels.index(label)])
        assert self.search is not None
        lo, hi = self.search
        if self.kind == "int":
            return trial.suggest_int(key, int(lo), int(hi), log=self.log)
        return trial.suggest_float(key, float(lo), float(hi), log=self.log)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (default, valid range, search space, condition)."""
        out: dict[str, Any] = {"type": self.kind, "default": self.default, "doc": self.doc}
        if self.kind in ("float", "int"):
            out["valid"] = self.range_text()
        if self.choices:
            out["choices"] = list(self.choices)
        if self.search is not None:
            out["search"] = {"low": self.search[0], "high": self.search[1], "log": self.log}
        elif self.search_choices:
            out["search"] = {"choices": [list(c) if isinstance(c, tuple) else c for c in self.search_choices]}
        elif self.kind in ("bool", "choice"):
            out["search"] = {"choices": list(self.choices) if self.choices else [False, True]}
        if self.condition:
            out["active_when"] = {self.condition[0]: list(self.condition[1])}
        return out


# -- constructors: short and explicit in the schedule modules -------------------------------------------------
def real(name: str, default: float | None, doc: str, *, valid: tuple[float, float],
         search: tuple[float, float] | None = None, log: bool = False, open_low: bool = False,
         open_high: bool = False, nullable: bool = False,
         condition: tuple[str, tuple[Any, ...]] | None = None) -> Param:
    """A float parameter."""
    return Param(name, "float", default, doc, valid=valid, search=search, log=log, open_low=open_low,
                 open_high=open_high, nullable=nullable, condition=condition)


def integer(name: str, default: int, doc: str, *, valid: tuple[float, float], search: tuple[int, int] | None = None,
            log: bool = False) -> Param:
    """An integer parameter."""
    return Param(name, "int", default, doc, valid=valid, search=search, log=log)


def flag(name: str, default: bool, doc: str) -> Param:
    """A boolean parameter."""
    return Param(name, "bool", default, doc)


def choice(name: str, default: str, doc: str, choices: tuple[str, ...],
           condition: tuple[str, tuple[Any, ...]] | None = None) -> Param:
    """A categorical parameter."""
    return Param(name, "choice", default, doc, choices=choices, condition=condition)


def fractions(name: str, default: list[float], doc: str, options: tuple[tuple[float, ...], ...]) -> Param:
    """An increasing list of fractions of the budget (milestones); `options` are the tuner's choices."""
    return Param(name, "fractions", default, doc, search_choices=options)


# -- shared parameters -------------------------------------------------------------------------------------
def min_lr_ratio(default: float = 0.0) -> Param:
    """The floor of a decaying schedule as a fraction of the initial LR."""
    return real("min_lr_ratio", default, "floor, as a fraction of the initial LR", valid=(0.0, 1.0),
                search=(0.0, 0.1), open_high=True)


def final_factor(default: float, doc: str) -> Param:
    """The multiplier reached at the end of the budget by an exponential-type decay."""
    return real("final_factor", default, doc, valid=(0.0, 1.0), search=(1e-4, 0.5), log=True, open_low=True)


def resolve(params: Mapping[str, Param], given: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Fill defaults, reject unknown names, and validate every value. Returns a new dict in declared order."""
    for key in given:
        if key not in params:
            raise unknown_name(f"parameter for {where}", key, params)
    out: dict[str, Any] = {}
    for name, param in params.items():
        out[name] = param.check(given[name], where) if name in given else _copy(param.default)
    return out


def is_active(param: Param, values: Mapping[str, Any]) -> bool:
    """Whether `param` is active given the other values (see `Param.condition`)."""
    if param.condition is None:
        return True
    other, allowed = param.condition
    return values.get(other) in allowed


def draw_all(params: Mapping[str, Param], trial: TrialLike, prefix: str,
             skip: Callable[[str], bool] = lambda name: False) -> dict[str, Any]:
    """Draw every searchable, active parameter in declared order (parents are declared before children)."""
    values: dict[str, Any] = {}
    for name, param in params.items():
        if skip(name) or not param.searchable or not is_active(param, values):
            values[name] = _copy(param.default)
        else:
            values[name] = param.draw(prefix + name, trial)
    return values


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value
