"""`evaluate`: leave-one-task-out over the store, for the model and its baselines.

For each task with enough runs: hide it, let each method pick among the configs that task actually ran (so
every pick has a measured outcome), and score the pick by normalised regret (0 = the task's best config,
1 = its worst). Baselines: one global best default config, each family's default schedule, random choice.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrrec.recommender.experience import Cell, Experience, arm_key, load_experience
from lrrec.recommender.ranking import ModelSettings, candidate_score, estimate, score_of
from lrrec.schedules import FAMILY_DEFAULTS, ScheduleConfig

if TYPE_CHECKING:
    from lrrec.store.store import Store

MIN_CELLS = 12
MIN_FAMILIES = 3


@dataclass
class TaskResult:
    """One held-out task's regrets (top-1, best of top-3) per method, and the family rank correlation."""

    task: str
    candidates: int
    regret: dict[str, float] = field(default_factory=dict)
    regret_top3: dict[str, float] = field(default_factory=dict)
    family_spearman: float | None = None


def _regret(cell: Cell) -> float:
    return 1.0 - score_of(cell)


def _spearman(a: list[float], b: list[float]) -> float | None:
    if len(a) < 3:
        return None

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=lambda i: values[i])
        out = [0.0] * len(values)
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for k in range(i, j + 1):
                out[order[k]] = (i + j) / 2
            i = j + 1
        return out

    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
    return cov / var if var else None


def _global_default(training: Experience, candidates: list[Cell]) -> Cell:
    """The candidate whose config has the best mean score over the training tasks that ran it."""
    scores: dict[str, list[float]] = defaultdict(list)
    for cells in training.by_task.values():  # scored cells only (a lone outcome compares nothing)
        for cell in cells:
            scores[cell.config_id].append(score_of(cell))
    rated = [c for c in candidates if c.config_id in scores]
    if not rated:
        return candidates[0]
    return max(rated, key=lambda c: (statistics.fmean(scores[c.config_id]), len(scores[c.config_id])))


def _family_default(family: str, candidates: list[Cell]) -> Cell | None:
    """The family's representative schedule at default parameters, at the candidate LR closest to 0.1."""
    default = ScheduleConfig.create(FAMILY_DEFAULTS[family])
    arm = arm_key(default.name, dict(default.params), None)
    same = [c for c in candidates if c.arm == arm]
    if not same:
        return None
    return min(same, key=lambda c: abs(math.log10(c.lr) - math.log10(default.lr)))


def evaluate_task(experience: Experience, task_id: str, settings: ModelSettings) -> TaskResult:
    """Hold out `task_id` and score every method on it."""
    training = experience.without(task_id)
    target = experience.tasks[task_id]
    candidates = experience.by_task[task_id]
    optimizer = candidates[0].optimizer
    estimates = estimate(training, target, optimizer, candidates[0].batch_size, settings, candidates[0].epochs)
    ranked = sorted(candidates, key=lambda c: (-candidate_score(estimates, c, settings), c.config_id))
    result = TaskResult(target.name, len(candidates))
    result.regret["lrrec"] = _regret(ranked[0])
    result.regret_top3["lrrec"] = min(_regret(c) for c in ranked[:3])
    result.regret["global_default"] = _regret(_global_default(training, candidates))
    for family in FAMILY_DEFAULTS:
        pick = _family_default(family, candidates)
        if pick is not None:
            result.regret[f"default_{family}"] = _regret(pick)
    result.regret["random"] = statistics.fmean(_regret(c) for c in candidates)
    actual: dict[str, float] = defaultdict(float)
    for cell in candidates:
        actual[cell.family] = max(actual[cell.family], score_of(cell))
    families = [f for f in actual if f in estimates.families]
    result.family_spearman = _spearman([estimates.families[f] for f in families], [actual[f] for f in families])
    return result


def evaluable_tasks(experience: Experience) -> list[str]:
    """Tasks with enough cells and families to be scored."""
    return sorted((tid for tid, cells in experience.by_task.items()
                   if len(cells) >= MIN_CELLS and len({c.family for c in cells}) >= MIN_FAMILIES),
                  key=lambda tid: experience.tasks[tid].name)


def evaluate(store: Store | None = None, settings: ModelSettings = ModelSettings(),
             experience: Experience | None = None) -> dict[str, Any]:
    """Leave-one-task-out over every evaluable task (of `experience`, or else of `store`); per-task results and
    medians per method."""
    if experience is None:
        if store is None:
            raise TypeError("evaluate() needs a store or an experience")
        experience = load_experience(store)
    results = [evaluate_task(experience, tid, settings) for tid in evaluable_tasks(experience)]
    methods = sorted({m for r in results for m in r.regret}, key=lambda m: (m != "lrrec", m))
    median = {m: statistics.median([r.regret[m] for r in results if m in r.regret]) for m in methods}
    spearman = [r.family_spearman for r in results if r.family_spearman is not None]
    return {
        "tasks": [r.__dict__ for r in results],
        "median_regret": median,
        "median_regret_top3": {"lrrec": statistics.median([r.regret_top3["lrrec"] for r in results])}
        if results else {},
        "median_family_spearman": statistics.median(spearman) if spearman else None,
        "settings": settings.__dict__,
    }
