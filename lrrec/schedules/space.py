"""Search spaces: a schedule's declared parameters as something a tuner (or a test) can draw configs from."""

from __future__ import annotations

from typing import Any

from lrrec.schedules.config import LR_PARAM, ScheduleConfig
from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import Param, TrialLike, draw_all
from lrrec.schedules.registry import get_spec
from lrrec.schedules.warmup import WARMUP_PARAMS


def search_space(name: str, include_warmup: bool = True,
                 lr_range: tuple[float, float] | None = None) -> dict[str, Param]:
    """The flat search space of a schedule: `lr` (over `lr_range` if given), its parameters, and the generic
    warmup (if it has none)."""
    spec = get_spec(name)
    lr = LR_PARAM if lr_range is None else Param("lr", "float", LR_PARAM.default, LR_PARAM.doc,
                                                 valid=LR_PARAM.valid, search=lr_range, log=True, open_low=True)
    space: dict[str, Param] = {"lr": lr, **spec.params}
    if include_warmup and not spec.includes_warmup:
        space.update(WARMUP_PARAMS)
    return space


def suggest_config(trial: TrialLike, name: str, prefix: str = "", include_warmup: bool = True,
                   lr_range: tuple[float, float] | None = None) -> ScheduleConfig:
    """Draw a config of schedule `name` through an Optuna trial; parameter names are `prefix + name`."""
    space = search_space(name, include_warmup, lr_range)
    values = draw_all(space, trial, prefix)
    return ScheduleConfig.from_flat(name, values)


class RandomTrial:
    """A `TrialLike` backed by a numpy generator: draws configs without optuna (tests, random search)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.params: dict[str, Any] = {}

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        value = (float(np.exp(self.rng.uniform(np.log(low), np.log(high)))) if log
                 else float(self.rng.uniform(low, high)))
        self.params[name] = min(max(value, low), high)
        return self.params[name]

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int:
        self.params[name] = int(self.rng.integers(low, high + 1))
        return self.params[name]

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.params[name] = choices[int(self.rng.integers(len(choices)))]
        return self.params[name]


def sample_config(name: str, rng: np.random.Generator, include_warmup: bool = True) -> ScheduleConfig:
    """A random config of schedule `name` from its search space."""
    return suggest_config(RandomTrial(rng), name, include_warmup=include_warmup)
