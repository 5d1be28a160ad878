"""The search space of a study and the configs it is seeded with.

Trial parameters are the flat keys of `ScheduleConfig.from_flat` for one schedule, or, for several, a
categorical `schedule` with conditional parameters named `<schedule>.<key>`. A transferred space searches the
schedules of the top suggestions, with the LR within a factor `LR_BAND` of theirs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.suggest import suggest_for_task
from lrrec.schedules import ScheduleConfig, search_space, suggest_config
from lrrec.schedules.params import Param, is_active
from lrrec.tuning.job import TuneJob

LR_BAND = 3.0  # a transferred space searches LRs from (smallest suggested LR / 3) to (largest x 3)
SPACES = ("transferred", "library")


def transferred_space(suggestions: list[ScheduleConfig],
                      lrs: list[float] | None = None) -> tuple[tuple[str, ...], tuple[float, float]]:
    """The schedules of the suggested configs and an LR range spanning `lrs` (default: theirs), widened by
    `LR_BAND`."""
    lrs = lrs or [c.lr for c in suggestions]
    return tuple(dict.fromkeys(c.name for c in suggestions)), (min(lrs) / LR_BAND, max(lrs) * LR_BAND)


def draw_config(trial: Any, schedules: tuple[str, ...], lr_range: tuple[float, float] | None = None) -> ScheduleConfig:
    """The trial's schedule config (parameter naming as in the module docstring)."""
    if len(schedules) == 1:
        return suggest_config(trial, schedules[0], lr_range=lr_range)
    name = trial.suggest_categorical("schedule", list(schedules))
    return suggest_config(trial, name, prefix=f"{name}.", lr_range=lr_range)


def config_of(params: dict[str, Any], schedules: tuple[str, ...]) -> ScheduleConfig:
    """The config a trial with `params` trained (the inverse of `draw_config`)."""
    if len(schedules) == 1:
        return ScheduleConfig.from_flat(schedules[0], params)
    name = params["schedule"]
    prefix = f"{name}."
    return ScheduleConfig.from_flat(name, {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)})


def trial_params(config: ScheduleConfig, schedules: tuple[str, ...],
                 lr_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """The trial parameters that reproduce `config` (clipped to the search space), or None if it lies outside."""
    if config.name not in schedules:
        return None
    flat = config.flat()
    params: dict[str, Any] = {}
    for key, param in search_space(config.name, lr_range=lr_range).items():
        if param.searchable and is_active(param, flat):
            value = _search_value(param, flat[key])
            if not _in_search(param, value):
                return None
            params[key] = value
    if len(schedules) == 1:
        return params
    return {**{f"{config.name}.{k}": v for k, v in params.items()}, "schedule": config.name}


def _search_value(param: Param, value: Any) -> Any:
    """`value` as a trial parameter of `param`: fractions by their label, numbers clipped to the search range."""
    if param.kind == "fractions":
        return _fractions_label(value)
    if param.kind in ("bool", "choice"):
        return value
    assert param.search is not None  # a searchable number has a search range
    low, high = param.search
    value = min(max(value, low), high)
    return round(value) if param.kind == "int" else float(value)


def _in_search(param: Param, value: Any) -> bool:
    """Whether the search space of `param` holds `value` (from `_search_value`: a clipped number always lies in it)."""
    if param.kind == "fractions":
        return value in [_fractions_label(option) for option in param.search_choices]
    if param.kind in ("bool", "choice"):
        return value in (param.search_choices or param.choices or (False, True))
    return True


def _fractions_label(fractions: Iterable[float]) -> str:
    """The categorical label of a list of fractions, as `Param.draw` names it: `0.5,0.75`."""
    return ",".join(f"{x:g}" for x in fractions)


def plan_study(job: TuneJob, store: Any, target: TaskFingerprint, budget: Any, seed_top: int, space: str,
               probe: Callable[[], float | None] | None = None) -> tuple[TuneJob, list[ScheduleConfig]]:
    """The job with the search space of a new study, and the suggested configs to enqueue.

    `probe` returns an LR measured on the task itself (see `suggest_for_task`): the suggestions are enqueued at
    that LR, and a transferred LR range spans it too.
    """
    if space not in SPACES:
        raise InvalidValueError(f"--space {space}: choose one of {', '.join(SPACES)}")
    if not seed_top:
        return job, []
    rec = suggest_for_task(store, target, optimizer=budget.optimizer, batch_size=budget.batch_size,
                           epochs=budget.epochs, top=seed_top, only=job.schedules, probe=probe)
    configs = [s.config for s in rec.suggestions]
    lrs = [*rec.replaced_lrs, *(c.lr for c in configs)]
    if rec.replaced_lrs:
        configs = list({c.content_hash(): c for c in configs}.values())  # suggestions that differed only in LR
    if space == "transferred" and rec.fallback is None:  # a fallback default is no evidence to narrow on
        schedules, lr_range = transferred_space(configs, lrs)
        job = replace(job, schedules=schedules, lr_range=lr_range)
    return job, [c for c in configs if trial_params(c, job.schedules, job.lr_range) is not None]


def space_of(job: TuneJob) -> dict[str, Any]:
    """The `lrrec.space` study attribute: the schedules searched and the LR range (None: the library's)."""
    return {"kind": "library" if job.lr_range is None else "transferred", "schedules": list(job.schedules),
            "lr_range": list(job.lr_range) if job.lr_range else None}


def seed_study(study: Any, suggestions: list[ScheduleConfig], schedules: tuple[str, ...],
               lr_range: tuple[float, float] | None = None) -> int:
    """Enqueue the suggested configs (in the search space) so they are evaluated first; returns how many."""
    count = 0
    for config in suggestions:
        params = trial_params(config, schedules, lr_range)
        if params is not None:
            study.enqueue_trial(params, skip_if_exists=True)
            count += 1
    return count
