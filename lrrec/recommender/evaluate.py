"""`evaluate`: out-of-sample checks of the model against baselines, in one run.

- **Leave-one-task-out** on own experience (runs lrrec or a user trained): hide one task, predict each of its
  comparison groups (one optimizer and budget) from the rest.
- **Leave-one-source-out** on the literature: hide every result of one paper, predict each of its comparisons
  from the rest (own experience and the other papers).
In each group every method picks among the configs the group actually ran (so every pick has a measured outcome),
scored by normalised regret (0 = the group's best, 1 = its worst). Baselines: the fixed expert order of shapes,
the best global default config, each shape as a fixed choice, random. Metrics: top-1 regret, the Spearman
correlation of the predicted and actual shape ranking (groups with 3+ shapes), and the coverage of the 80 %
intervals of every held-out config's normalised score.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lrrec.optimizers import DEFAULT_LR, optimizer_class
from lrrec.recommender.experience import Cell, Experience, load_experience
from lrrec.recommender.ranking import (
    Estimate,
    ModelSettings,
    estimate,
    predict,
    score_of,
)
from lrrec.recommender.shapes import EXPERT_RANK, SHAPE_DEFAULTS
from lrrec.recommender.stats import spearman

if TYPE_CHECKING:
    from lrrec.store.store import Store

MIN_CANDIDATES = 2
BASELINES = ("expert_order", "global_default", "random")


@dataclass
class GroupResult:
    """One held-out comparison: each method's top-1 regret, the shape-ranking correlations, interval hits."""

    task: str
    origin: str  # "own" or the literature source key
    optimizer: str
    epochs: int | None
    candidates: int
    regret: dict[str, float] = field(default_factory=dict)
    spearman: dict[str, float] = field(default_factory=dict)  # lrrec and expert_order, with 3+ shapes
    covered: int = 0  # held-out configs whose outcome fell in its 80 % interval
    cells: int = 0


@dataclass
class Summary:
    """Figures over a set of groups: per method, the median and mean top-1 regret and the mean Spearman."""

    groups: int
    median_regret: dict[str, float]
    mean_regret: dict[str, float]
    mean_spearman: dict[str, float]
    spearman_quartiles: dict[str, list[float]]
    coverage: float | None

    @classmethod
    def of(cls, results: list[GroupResult]) -> Summary:
        regrets, rhos = _per_method(results, "regret"), _per_method(results, "spearman")
        cells = sum(r.cells for r in results)
        return cls(len(results), _each(regrets, statistics.median), _each(regrets, statistics.fmean),
                   _each(rhos, statistics.fmean), _each({m: v for m, v in rhos.items() if len(v) > 1}, _quartiles),
                   sum(r.covered for r in results) / cells if cells else None)


def _per_method(results: list[GroupResult], figure: str) -> dict[str, list[float]]:
    """Each method's values of one figure ("regret" or "spearman") over the groups that have it, lrrec first."""
    values: defaultdict[str, list[float]] = defaultdict(list)
    for r in results:
        for method, value in getattr(r, figure).items():
            values[method].append(value)
    return dict(sorted(values.items(), key=lambda item: (item[0] != "lrrec", item[0])))


def _each(values: dict[str, list[float]], stat: Callable[[list[float]], Any]) -> dict[str, Any]:
    return {method: stat(v) for method, v in values.items()}


def _quartiles(values: list[float]) -> list[float]:
    return [round(q, 3) for q in statistics.quantiles(values, n=4)]


@dataclass
class EvaluationReport:
    """`lrrec evaluate`: leave-one-task-out on own experience, leave-one-source-out on the literature."""

    own: list[GroupResult]
    literature: list[GroupResult]
    settings: ModelSettings

    def to_dict(self) -> dict[str, Any]:
        by_source: defaultdict[str, list[GroupResult]] = defaultdict(list)
        for r in self.literature:
            by_source[r.origin].append(r)
        return {"own": asdict(Summary.of(self.own)) if self.own else None,
                "literature": asdict(Summary.of(self.literature)) if self.literature else None,
                "by_source": {s: asdict(Summary.of(rs)) for s, rs in sorted(by_source.items())},
                "groups": [asdict(r) for r in self.own + self.literature],
                "settings": {**asdict(self.settings), "length_scales": dict(self.settings.length_scales)}}


def _groups(cells: Iterable[Cell]) -> list[list[Cell]]:
    by: defaultdict[tuple, list[Cell]] = defaultdict(list)
    for cell in cells:
        by[cell.group].append(cell)
    return [g for g in by.values() if len(g) >= MIN_CANDIDATES]


def _mean_regret(cells: list[Cell]) -> float:
    return statistics.fmean(1.0 - score_of(c) for c in cells)


def _fixed_choice(group: list[Cell], shape: str) -> list[Cell]:
    """What "always use this shape" picks: its default schedule if the group ran it, at the LR closest to lrrec's
    default for the optimizer (all such configs, as ties)."""
    cells = [c for c in group if c.shape == shape]
    preferred = [c for c in cells if c.schedule == SHAPE_DEFAULTS.get(shape, ("",))[0]] or cells
    default = DEFAULT_LR[optimizer_class(group[0].optimizer)]
    distance = {c.config_id: abs(math.log(c.lr / default)) for c in preferred}
    closest = min(distance.values())
    return [c for c in preferred if distance[c.config_id] <= closest + 1e-9]


def _best_shapes(cells: list[Cell]) -> dict[str, float]:
    best: dict[str, float] = {}
    for c in cells:
        best[c.shape] = max(best.get(c.shape, 0.0), score_of(c))
    return best


def global_default(training: Experience) -> dict[str, float]:
    """Each config's mean score over the training groups that ran it (the best is the global default)."""
    scores: defaultdict[str, list[float]] = defaultdict(list)
    for cells in training.by_task.values():
        for cell in cells:
            scores[cell.config_id].append(score_of(cell))
    return {k: statistics.fmean(v) for k, v in scores.items()}


def evaluate_group(training: Experience, defaults: dict[str, float], task_id: str, origin: str, group: list[Cell],
                   target_experience: Experience, settings: ModelSettings) -> GroupResult:
    """Score every method on one held-out comparison group."""
    first = group[0]
    target = target_experience.tasks[task_id]
    estimates = estimate(training, target, first.optimizer, first.batch_size, settings, first.epochs)
    views = {c.config_id: predict(estimates, c, settings) for c in group}
    result = GroupResult(target.name, origin, first.optimizer, first.epochs, len(group), cells=len(group))
    ranked = sorted(group, key=lambda c: (-views[c.config_id].score, c.config_id))
    result.regret = {"lrrec": 1.0 - score_of(ranked[0]), **_baseline_regrets(group, defaults)}
    result.spearman = _shape_spearman(group, views)
    for c in group:
        low, high = views[c.config_id].interval(settings.sd_scale)
        result.covered += int(low <= score_of(c) <= high)
    return result


def _baseline_regrets(group: list[Cell], defaults: dict[str, float]) -> dict[str, float]:
    """The top-1 regret of the expert order, the global default, each shape as a fixed choice, and random."""
    top_rank = min(EXPERT_RANK.get(c.shape, 9) for c in group)
    out = {"expert_order": _mean_regret([c for c in group if EXPERT_RANK.get(c.shape, 9) == top_rank])}
    rated = [c for c in group if c.config_id in defaults]
    out["global_default"] = 1.0 - score_of(max(rated, key=lambda c: defaults[c.config_id])) if rated \
        else _mean_regret(group)
    out |= {f"always_{shape}": _mean_regret(_fixed_choice(group, shape)) for shape in {c.shape for c in group}}
    out["random"] = _mean_regret(group)
    return out


def _shape_spearman(group: list[Cell], views: dict[str, Estimate]) -> dict[str, float]:
    """Spearman's rho of lrrec's and the expert's shape order against the group's (with 3+ shapes)."""
    actual = _best_shapes(group)
    if len(actual) < 3:
        return {}
    shapes = sorted(actual)
    predicted = {s: max(views[c.config_id].score for c in group if c.shape == s) for s in shapes}
    guesses = {"lrrec": [predicted[s] for s in shapes],
               "expert_order": [-float(EXPERT_RANK.get(s, 9)) for s in shapes]}
    out = {}
    for method, guess in guesses.items():
        rho = spearman(guess, [actual[s] for s in shapes])
        if rho is not None:
            out[method] = rho
    return out


def evaluate(store: Store | None = None, settings: ModelSettings = ModelSettings(),
             experience: Experience | None = None, literature: bool = True) -> EvaluationReport:
    """Leave-one-task-out over own tasks and (with `literature`) leave-one-source-out over the literature."""
    if experience is None:
        if store is None:
            raise TypeError("evaluate() needs a store or an experience")
        experience = load_experience(store)
    folds: defaultdict[str, list[str]] = defaultdict(list)  # held out together
    for tid in experience.by_task:
        origin = experience.origin(tid)
        folds[tid if origin == "own" else origin].append(tid)
    own: list[GroupResult] = []
    published: list[GroupResult] = []
    for _fold, task_ids in sorted(folds.items()):
        origin = experience.origin(task_ids[0])
        if origin != "own" and not literature:
            continue
        training = experience.without(set(task_ids))
        defaults = global_default(training)
        for tid in sorted(task_ids, key=lambda t: experience.tasks[t].name):
            for group in _groups(experience.by_task[tid]):
                result = evaluate_group(training, defaults, tid, origin, group, experience, settings)
                (own if origin == "own" else published).append(result)
    return EvaluationReport(own, published, settings)
