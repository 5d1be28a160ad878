"""The survey's experiments (section 4) as library functions that return plain data.

* `surface_study`: section 4.1. The five family representatives (constant, step, cosine, SGDR, linear-warmup
  cosine) from one shared initial LR per case, on Rosenbrock, Peaks (with and without momentum, several start
  points), the two saddles (with small perturbations of the start) and the cliff/plateau surface. These runs
  are not recorded in the store: non-default start points would be stored under the surface's task name.
* `protocol`: sections 4.2-4.3. Per family, random search over the initial LR (log-uniform, one seed, the
  schedule's other parameters at their defaults, as in the survey), then the best LR rerun with seeds
  0..N-1 (the search run is seed 0 with the identical config, so it is reused); every run is recorded in the
  store through `run_one`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from lrrec.errors import InvalidValueError, LrrecError, unknown_name
from lrrec.schedules import FAMILY_DEFAULTS, ScheduleConfig

if TYPE_CHECKING:
    from lrrec.store.store import Store

LR_RANGES: dict[str, tuple[float, float]] = {"classification": (1e-3, 1.0), "surface": (1e-4, 0.3)}
"""Log-uniform range of the initial-LR random search, by task kind."""
TARGET_FRACTION = 0.95
"""Default accuracy target: this fraction of the best family's mean final accuracy."""
SEARCH_SEED = 0


@dataclass(frozen=True)
class SurfaceCase:
    """One panel of section 4.1: a surface, a start point, the momentum, and the LR every schedule starts from."""

    key: str
    surface: str
    title: str
    start: tuple[float, float]
    momentum: float
    lr: float
    steps: int


def _cases() -> tuple[SurfaceCase, ...]:
    peaks_starts = {"a": (-0.3, 0.0), "b": (0.5, -0.5), "c": (-1.0, 0.5)}
    cases = [SurfaceCase("rosenbrock", "rosenbrock", "Rosenbrock valley, SGD", (-1.5, 2.0), 0.0, 1e-3, 3000)]
    for momentum in (0.0, 0.9):
        cases += [SurfaceCase(f"peaks-m{momentum:g}-{k}", "peaks", f"Peaks from {s}, momentum {momentum:g}", s,
                              momentum, 0.1, 300) for k, s in peaks_starts.items()]
    for surface, x, lr in (("saddle", -1.0, 0.03), ("monkey_saddle", 0.5, 0.03)):
        cases += [SurfaceCase(f"{surface}-y{y:g}", surface, f"{surface} from ({x:g}, {y:g}), SGD", (x, y), 0.0, lr,
                              300) for y in (0.0, 0.1, 0.01, 0.001)]
    cases.append(SurfaceCase("cliff", "cliff", "cliff/plateau from (-1, 1), SGD", (-1.0, 1.0), 0.0, 0.1, 300))
    return tuple(cases)


SURFACE_CASES: tuple[SurfaceCase, ...] = _cases()


@dataclass
class SurfaceRun:
    """One schedule on one surface case: LR and loss at every step, the trajectory, and the summary numbers."""

    family: str
    schedule: str
    status: str
    lrs: list[float]
    losses: list[float]
    trajectory: list[tuple[float, float]]
    final_loss: float
    steps_to_threshold: int | None


@dataclass
class SurfaceResult:
    """Every family's run on one case."""

    case: SurfaceCase
    threshold: float
    window: tuple[float, float, float, float]
    runs: list[SurfaceRun]


def _case_task(case: SurfaceCase) -> tuple[Any, Any]:
    """The surface task started at the case's point (the summary differs, so the data cache keys differ too)."""
    from lrrec.runners.tasks import get_task

    base = get_task(f"surface/{case.surface}")
    surface = replace(base.load(None), start=case.start)
    task = replace(base, load=lambda root: surface, summary=f"{base.summary}; start {case.start}")
    return task, surface


def run_surface_case(case: SurfaceCase) -> SurfaceResult:
    """Run the five family representatives on `case` from its shared initial LR."""
    import torch

    from lrrec.runners.train import train

    task, surface = _case_task(case)
    budget = replace(task.budget, epochs=case.steps, momentum=case.momentum)
    runs = []
    for family, name in FAMILY_DEFAULTS.items():
        config = ScheduleConfig.create(name, lr=case.lr)
        outcome = train(task, config, budget, seed=0)
        points = torch.tensor(outcome.trajectory, dtype=torch.float64)
        losses = surface.fn(points).tolist()
        hit = next((step for step, loss in enumerate(losses) if loss <= surface.threshold), None)
        runs.append(SurfaceRun(family, name, outcome.status, config.lrs(range(case.steps), case.steps).tolist(),
                               losses, list(outcome.trajectory), losses[-1], hit))
    return SurfaceResult(case, surface.threshold, surface.window, runs)


def surface_study(surfaces: Sequence[str] | None = None) -> list[SurfaceResult]:
    """Section 4.1 on the named surfaces (default: all of them)."""
    from lrrec.runners.surfaces import SURFACES

    for name in surfaces or ():
        if name not in SURFACES:
            raise unknown_name("surface", name, SURFACES)
    return [run_surface_case(c) for c in SURFACE_CASES if not surfaces or c.surface in surfaces]


# --- sections 4.2-4.3: the random-search-then-seeds protocol -----------------------------------------------
@dataclass
class ProtocolRun:
    """One recorded run of the protocol."""

    run_id: str
    lr: float
    seed: int
    status: str
    final_metric: float | None
    best_metric: float | None
    curve: list[tuple[int, float | None]]  # (epoch, validation metric)
    epochs_to_target: int | None = None


@dataclass
class Stat:
    """Mean and sample standard deviation (None with fewer than two values) over the runs that have a value."""

    mean: float | None
    std: float | None
    n: int

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        """The statistic of the non-missing `values`."""
        got = [v for v in values if v is not None and math.isfinite(v)]
        return cls(statistics.fmean(got) if got else None, statistics.stdev(got) if len(got) > 1 else None,
                   len(got))


@dataclass
class FamilyResult:
    """A family's search trials, its chosen LR and the seeded reruns with their statistics."""

    family: str
    schedule: str
    search: list[ProtocolRun]
    best_lr: float
    seeds: list[ProtocolRun]
    final: Stat = field(init=False)
    best: Stat = field(init=False)
    epochs_to_target: Stat | None = None

    def __post_init__(self) -> None:
        self.final = Stat.of([r.final_metric for r in self.seeds])
        self.best = Stat.of([r.best_metric for r in self.seeds])


@dataclass
class ProtocolResult:
    """The protocol on one task."""

    task: str
    metric: str
    direction: str
    epochs: int
    trials: int
    n_seeds: int
    lr_range: tuple[float, float]
    target: float | None
    target_rule: str
    families: list[FamilyResult]


RunCallback = Callable[[str, str, ProtocolRun], None]


def check_settings(trials: int, seeds: int, epochs: int | None, target_fraction: float) -> None:
    """Reject settings the protocol cannot use, naming the option to change."""
    for option, value in (("--trials", trials), ("--seeds", seeds), ("--epochs", epochs)):
        if value is not None and value < 1:
            raise InvalidValueError(f"{option} must be at least 1, got {value}")
    if not 0 < target_fraction <= 1:
        raise InvalidValueError(f"the target fraction must be in (0, 1], got {target_fraction}")


def resolve_tasks(names: Sequence[str], data_root: str | None) -> list[Any]:
    """The tasks by name, checked before anything runs (unknown names, a missing --data-root)."""
    from lrrec.runners.tasks import get_task

    if not names:
        raise InvalidValueError("--tasks names no task; give e.g. --tasks digits/mlp,mnist1d/mlp")
    tasks = [get_task(name) for name in names]
    for task in tasks:
        if task.needs_data_root and not data_root:
            raise LrrecError(f"task {task.name} needs --data-root DIR holding its dataset; pass --data-root or "
                             f"choose a CPU task (digits/mlp, mnist1d/mlp)")
    return tasks


def _better(a: float | None, b: float | None, direction: str) -> bool:
    if a is None or not math.isfinite(a):
        return False
    return b is None or (a > b if direction == "max" else a < b)


def protocol(store: Store, task_name: str, *, trials: int, seeds: int = 3, epochs: int | None = None,
             target: float | None = None, target_fraction: float = TARGET_FRACTION, data_root: str | None = None,
             device: str | None = None, on_run: RunCallback | None = None) -> ProtocolResult:
    """Random search over each family's initial LR (seed 0), then the best LR with seeds 0..`seeds`-1."""
    from lrrec.runners.execute import budget_for, run_one

    check_settings(trials, seeds, epochs, target_fraction)
    task = resolve_tasks([task_name], data_root)[0]
    budget = budget_for(task, epochs or None, None, None)  # a user task's batch size is its loader's
    low, high = LR_RANGES["surface" if task.kind == "surface" else "classification"]
    rng = np.random.default_rng(SEARCH_SEED)

    def run(name: str, lr: float, seed: int) -> ProtocolRun:
        result = run_one(store, task, ScheduleConfig.create(name, lr=lr), budget, seed, data_root=data_root,
                         device=device)
        out = result.outcome
        assert out is not None  # only a StopRun from an on_epoch callback leaves none, and there is none here
        done = ProtocolRun(result.run_id, lr, seed, result.status, out.final_metric, out.best_metric,
                           [(r.epoch, r.val_metric) for r in out.curve])
        if on_run:
            on_run(task.name, name, done)
        return done

    families = []
    for family, name in FAMILY_DEFAULTS.items():
        lrs = np.exp(rng.uniform(math.log(low), math.log(high), trials)).tolist()
        search = [run(name, lr, SEARCH_SEED) for lr in lrs]
        chosen = search[0]
        for trial in search[1:]:
            if _better(trial.final_metric, chosen.final_metric, task.direction):
                chosen = trial
        reruns = [chosen if seed == SEARCH_SEED else run(name, chosen.lr, seed) for seed in range(seeds)]
        families.append(FamilyResult(family, name, search, chosen.lr, reruns))
    target, rule = _target(task, families, target, target_fraction, data_root)
    for fam in families:
        for r in fam.seeds:
            r.epochs_to_target = _epochs_to(r.curve, target, task.direction) if target is not None else None
        fam.epochs_to_target = Stat.of([r.epochs_to_target for r in fam.seeds])
    return ProtocolResult(task.name, task.metric, task.direction, budget.epochs, trials, seeds, (low, high), target,
                          rule, families)


def _target(task: Any, families: Sequence[FamilyResult], target: float | None, fraction: float,
            data_root: str | None) -> tuple[float | None, str]:
    if target is not None:
        return target, "given with --target"
    if task.kind == "surface":
        from lrrec.runners.tasks import load_data

        return load_data(task, data_root).threshold, "the surface's success threshold"
    means = [f.final.mean for f in families if f.final.mean is not None]
    if not means:
        return None, "none (every run diverged)"
    return fraction * max(means), f"{fraction:.0%} of the best family's mean final {task.metric}"


def _epochs_to(curve: Sequence[tuple[int, float | None]], target: float, direction: str) -> int | None:
    for epoch, value in curve:
        if value is not None and (value >= target if direction == "max" else value <= target):
            return epoch
    return None


# --- the whole study ------------------------------------------------------------------------------------------
@dataclass
class SurveyResult:
    """Section 4.1 on the chosen surfaces plus the protocol on each task, with the settings that produced them."""

    surfaces: list[SurfaceResult]
    protocols: list[ProtocolResult]
    settings: dict[str, Any]
    wall_time_s: float = 0.0


def run_survey(store: Store, task_names: Sequence[str], *, surfaces: Sequence[str] | None = None, trials: int,
               seeds: int = 3, epochs: int | None = None, target: float | None = None,
               data_root: str | None = None, device: str | None = None,
               on_run: RunCallback | None = None) -> SurveyResult:
    """Both parts of the study; every setting is checked before the first run."""
    import time

    check_settings(trials, seeds, epochs, TARGET_FRACTION)
    resolve_tasks(task_names, data_root)
    began = time.perf_counter()
    surface_results = surface_study(surfaces)
    protocols = [protocol(store, name, trials=trials, seeds=seeds, epochs=epochs, target=target,
                          data_root=data_root, device=device, on_run=on_run) for name in task_names]
    settings = {"tasks": list(task_names), "surfaces": list(surfaces or []), "trials": trials, "seeds": seeds,
                "epochs": epochs, "target": target, "store": str(getattr(store, "path", ""))}
    return SurveyResult(surface_results, protocols, settings, time.perf_counter() - began)
