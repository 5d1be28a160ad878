"""The ranking model: a regime-conditioned prior per schedule shape, refined by the evidence of similar tasks.

1. **Prior** (no similarity needed): for each shape (`lrrec.recommender.shapes`), the mean and spread of its best
   normalised score per comparison group over every task in the experience, each group weighted by how well its
   regime matches the target's (same optimizer class: 1, the other: `cross_optimizer`; budget: exp(-|ln epochs
   ratio| / budget_scale)), each task counting once, and a result whose source proposed the schedule weighted by
   `proposed_weight` (publication bias is discounted, not trusted), shrunk towards 0.5 +- a uniform spread. With
   nothing similar this prior is the ranking.
2. **Evidence**: every past task j gets a weight w_j (its similarity to the target) and each shape, arm (a config
   without its LR) and config its normalised score s_j there. Estimates pool s_j with weights w_j and shrink
   towards the level above (strength `shrink`, in units of weight): config -> arm (less `lr_penalty` per decade
   between the config's LR and the arm's transferred LR) -> shape -> prior.
3. **Uncertainty**: each estimate's predictive sd pools the evidence's spread with the prior's (shrunk the same
   way) and adds the uncertainty of the mean; `sd_scale` calibrates it (80 % intervals are score +- 1.28 sd x
   sd_scale, their coverage measured by `lrrec evaluate`).
An arm's transferred LR is the weighted geometric mean of the neighbours' best LRs for it (same optimizer class),
rescaled to the target's batch size.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from lrrec.fingerprint import TaskFingerprint
from lrrec.optimizers import DEFAULT_LR, optimizer_class
from lrrec.recommender.experience import Cell, Experience, Near, ShapeResult
from lrrec.recommender.similarity import BANDWIDTH, LENGTH_SCALES, MISSING, similarity

REFERENCE_BATCH = 128
Z80 = 1.2816  # the standard normal's 90th percentile: an 80 % interval is score +- Z80 sd
UNIFORM_VAR = 1 / 12  # the variance of a score known only to lie in 0..1
MIN_WEIGHT = 1e-3  # a task less similar than this adds nothing measurable to an estimate: its cells are skipped
NEAREST = 5  # the most similar tasks a recommendation lists (read whole, however dissimilar)


@dataclass(frozen=True)
class ModelSettings:
    """The model's knobs; defaults selected by `scripts/fit_model.py` (leave-one-task-out on own experience)."""

    bandwidth: float = BANDWIDTH
    length_scales: Mapping[str, float] = field(default_factory=lambda: dict(LENGTH_SCALES))
    missing: float = MISSING
    shrink: float = 2.0
    spread_strength: float = 2.0  # tasks' worth of the parent's spread in each estimate's spread
    lr_penalty: float = 0.05  # score lost per decade between a candidate's LR and the transferred LR
    budget_scale: float = 0.5  # evidence at another epoch budget weighs exp(-|ln(epochs ratio)| / this)
    cross_optimizer: float = 0.3  # the prior's weight of a result from the other optimizer class
    proposed_weight: float = 0.5  # the weight of a result whose source proposed the schedule
    sd_scale: float = 0.9  # calibrates the predictive sd


def batch_rescale(lr: float, from_batch: int | None, to_batch: int | None, optimizer: str) -> float:
    """Linear scaling rule for SGD, square-root rule for Adam (Goyal et al. 2017; Malladi et al. 2022)."""
    if not from_batch or not to_batch or from_batch == to_batch:
        return lr
    power = 1.0 if optimizer_class(optimizer) == "sgd" else 0.5
    return lr * (to_batch / from_batch) ** power


def budget_weight(epochs: int | None, target_epochs: int | None, scale: float) -> float:
    """How much a run at `epochs` speaks for a target trained `target_epochs` (1 when either is unknown)."""
    if not epochs or not target_epochs or math.isinf(scale):
        return 1.0
    return math.exp(-abs(math.log(epochs / target_epochs)) / scale)


def score_of(cell: Cell) -> float:
    """A cell's score (every cell of `Experience.by_task` has one)."""
    assert cell.score is not None
    return cell.score


@dataclass
class Estimate:
    """The model's view of one config, arm or shape for the target task."""

    key: str  # config_id, arm key or shape
    schedule: str
    shape: str
    score: float
    sd: float  # predictive: the spread of the outcome on the target task
    weight: float  # summed similarity of the tasks that ran it
    evidence: list[tuple[str, float, Cell]] = field(default_factory=list)  # (task_id, weight, cell), best first
    lr: float = 0.0  # arms: the transferred LR; configs: the config's own LR
    lr_basis: str = ""

    def interval(self, sd_scale: float = 1.0) -> tuple[float, float]:
        """The 80 % interval of the outcome's normalised score (which lies in 0..1), the sd scaled by `sd_scale`."""
        half = Z80 * self.sd * sd_scale
        return max(0.0, self.score - half), min(1.0, self.score + half)


@dataclass
class Estimates:
    """Scores of every config, arm and shape for one target, and the prior they shrink to."""

    weights: dict[str, float]
    configs: dict[str, Estimate]
    arms: dict[str, Estimate]
    shapes: dict[str, Estimate]
    prior: dict[str, Estimate]
    shape_lrs: dict[str, float] = field(default_factory=dict)  # per shape, the LR transferred from similar tasks
    warmup_gain: float = 0.0  # what adding a warmup did to a schedule's score, in this optimizer class


def _spread(values: list[tuple[float, float]], mean: float, parent_var: float, strength: float) -> float:
    """The between-task variance of weighted scores, shrunk towards `parent_var` with `strength` tasks' worth; one
    task (or identical ones) tells nothing about it, so the parent's stands until several tasks disagree or agree."""
    total = math.fsum(w for w, _ in values)
    if total <= 0:
        return parent_var
    ess = total**2 / math.fsum(w * w for w, _ in values)
    return (math.fsum(w * (s - mean) ** 2 for w, s in values) + strength * parent_var) \
        / (strength + total * (1 - 1 / ess))


def _pooled(key: str, seen: list[tuple[str, float, Cell]], prior: Estimate, settings: ModelSettings) -> Estimate:
    """Pool the scores `seen` (weighted), shrunk towards `prior` in mean and spread; the predictive sd adds the
    uncertainty of the mean to the between-task spread."""
    k = settings.shrink
    values = [(w, score_of(c)) for _, w, c in seen]
    total = sum(w for w, _ in values)
    mean = (sum(w * s for w, s in values) + k * prior.score) / (total + k)
    if total <= 0:
        return Estimate(key, prior.schedule, prior.shape, mean, prior.sd, 0.0)
    var = _spread(values, mean, prior.sd**2, settings.spread_strength)
    ess = total**2 / sum(w * w for w, _ in values)
    first = seen[0][2]
    return Estimate(key, first.schedule, prior.shape, mean, math.sqrt(var * (1 + 1 / (ess + k))), total,
                    sorted(seen, key=lambda e: -e[1]))


def near_tasks(target: TaskFingerprint, settings: ModelSettings) -> Near:
    """For `load_experience`: of the tasks with scored cells, those whose cells can change an estimate for `target`
    (at least `MIN_WEIGHT` similar) and the `NEAREST` most similar."""
    def near(tasks: dict[str, TaskFingerprint], scored: set[str]) -> set[str]:
        weights = sorted(((similarity(target, tasks[t], settings.bandwidth, settings.length_scales, settings.missing),
                           t) for t in scored), reverse=True)
        return {t for w, t in weights if w >= MIN_WEIGHT} | {t for _, t in weights[:NEAREST]}
    return near


def regime_prior(experience: Experience, optimizer: str, epochs: int | None,
                 settings: ModelSettings) -> dict[str, Estimate]:
    """Per shape: the regime-weighted mean and spread of its score among the shapes of each group, each task
    counting once; shrunk towards 0.5 with the spread of a uniform score (sums exactly rounded, so the order the
    tasks come in does not matter)."""
    wanted = optimizer_class(optimizer)
    per_shape: defaultdict[str, list[tuple[float, float]]] = defaultdict(list)
    for results in experience.shapes.values():
        groups = len({r.group for r in results})
        for r in results:
            w = (1.0 if optimizer_class(r.cell.optimizer) == wanted else settings.cross_optimizer) \
                * budget_weight(r.cell.epochs, epochs, settings.budget_scale) \
                * (settings.proposed_weight if r.cell.proposed else 1.0) / groups
            per_shape[r.shape].append((w, r.score))
    prior = {}
    for shape, values in per_shape.items():
        k, total = settings.shrink, math.fsum(w for w, _ in values)
        mean = (math.fsum(w * s for w, s in values) + k * 0.5) / (total + k)
        prior[shape] = Estimate(shape, "", shape, mean, math.sqrt(_spread(values, mean, UNIFORM_VAR,
                                                                          settings.spread_strength)), total)
    return prior


def estimate(experience: Experience, target: TaskFingerprint, optimizer: str = "sgd",
             batch_size: int | None = None, settings: ModelSettings = ModelSettings(),
             epochs: int | None = None) -> Estimates:
    """Score every config, arm and shape of `experience` for `target` (trained `epochs`, if known)."""
    weights = {tid: similarity(target, experience.tasks[tid], settings.bandwidth, settings.length_scales,
                               settings.missing) for tid in experience.by_task}
    prior = regime_prior(experience, optimizer, epochs, settings)
    seen = _evidence(experience, weights, optimizer, settings, epochs)
    shapes = {s: _pooled(s, seen.shapes.get(s, []), p, settings) for s, p in prior.items()}
    arms = {}
    for arm, cells in seen.arms.items():
        est = _pooled(arm, cells, shapes[cells[0][2].shape], settings)
        est.lr, est.lr_basis = _transfer_lr(cells, seen.shapes[est.shape], optimizer, batch_size)
        arms[arm] = est
    configs = {}
    for config_id, cells in seen.configs.items():
        cell = cells[0][2]
        at_target_batch = batch_rescale(cell.lr, cell.batch_size, batch_size, cell.optimizer)  # as arm.lr is
        est = _pooled(config_id, cells, _arm_prior(arms[cell.arm], at_target_batch, settings), settings)
        est.lr = cell.lr
        configs[config_id] = est
    shape_lrs = {shape: _transfer_lr(cells, cells, optimizer, batch_size)[0] for shape, cells in seen.shapes.items()}
    return Estimates(weights, configs, arms, shapes, prior, shape_lrs, warmup_gain(experience, optimizer, settings))


def warmup_gain(experience: Experience, optimizer: str, settings: ModelSettings) -> float:
    """The mean score difference between a schedule's best config with a warmup and its best without, over the
    groups that ran both (each task counting once; the other optimizer class at `cross_optimizer`)."""
    wanted = optimizer_class(optimizer)
    weighted = [((1.0 if optimizer_class(name) == wanted else settings.cross_optimizer) / len(gains), gain)
                for gains in experience.warmups.values() for name, gain in gains]
    return math.fsum(w * gain for w, gain in weighted) / (math.fsum(w for w, _ in weighted) + settings.shrink)


@dataclass
class _Evidence:
    """Per shape, arm and config: each task's best cell for it, with its weight."""

    shapes: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))
    arms: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))
    configs: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))


def _best_by(cells: list[Cell], key: Callable[[Cell], str], weight: Callable[[Cell], float]) -> dict[str, Cell]:
    """Per key, the cell at the budget closest to the target's, and of those the best scored."""
    best: dict[str, tuple[tuple, Cell]] = {}
    for cell in cells:
        k = key(cell)
        rank = (weight(cell), cell.score, cell.n_finished, cell.config_id)
        if k not in best or rank > best[k][0]:
            best[k] = rank, cell
    return {k: cell for k, (_, cell) in best.items()}


def _evidence(experience: Experience, weights: dict[str, float], optimizer: str, settings: ModelSettings,
              epochs: int | None) -> _Evidence:
    """Each task's best cells, weighted by the task's similarity times the cell's budget fit, `proposed_weight`
    where the source proposed the schedule, and `cross_optimizer` for the other optimizer class (configs: only
    `optimizer`'s class, since an LR means something only for its optimizer)."""
    wanted = optimizer_class(optimizer)

    def fit(cell: Cell) -> float:
        return budget_weight(cell.epochs, epochs, settings.budget_scale) \
            * (settings.proposed_weight if cell.proposed else 1.0) \
            * (1.0 if optimizer_class(cell.optimizer) == wanted else settings.cross_optimizer)

    seen = _Evidence()
    for tid, cells in experience.by_task.items():
        w = weights[tid]
        if w < MIN_WEIGHT:
            continue
        same = [c for c in cells if optimizer_class(c.optimizer) == wanted]
        for level, key, pool in ((seen.arms, lambda c: c.arm, cells), (seen.configs, lambda c: c.config_id, same)):
            for k, cell in _best_by(pool, key, fit).items():
                level[k].append((tid, w * fit(cell), cell))
        best_shapes: dict[str, ShapeResult] = {}
        for r in experience.shapes[tid]:  # the group closest to the target's regime speaks for each shape
            known = best_shapes.get(r.shape)
            if known is None or (fit(r.cell), r.score) > (fit(known.cell), known.score):
                best_shapes[r.shape] = r
        for shape, r in best_shapes.items():
            seen.shapes[shape].append((tid, w * fit(r.cell), r.scored))
    return seen


def _arm_prior(arm: Estimate, lr: float, settings: ModelSettings) -> Estimate:
    """A config's prior: its arm, less a penalty per decade from the arm's transferred LR."""
    penalty = settings.lr_penalty * abs(math.log10(lr) - math.log10(arm.lr))
    return Estimate(arm.key, arm.schedule, arm.shape, arm.score - penalty, arm.sd, arm.weight)


def _transfer_lr(seen: list[tuple[str, float, Cell]], shape_best: list[tuple[str, float, Cell]],
                 optimizer: str, batch_size: int | None) -> tuple[float, str]:
    """Weighted geometric mean of the neighbours' best LRs (same optimizer class), batch-rescaled."""
    wanted = optimizer_class(optimizer)
    for level, pairs in (("this config", [(w, c) for _, w, c in seen]),
                         ("this schedule shape", [(w, c) for _, w, c in shape_best])):
        usable = [(w, c) for w, c in pairs if optimizer_class(c.optimizer) == wanted and w > 0 and c.lr > 0]
        total = sum(w for w, _ in usable)
        if total > 1e-12:
            log_lr = sum(w * math.log(batch_rescale(c.lr, c.batch_size, batch_size, c.optimizer))
                         for w, c in usable) / total
            return math.exp(log_lr), f"similar tasks' best LR for {level}"
    return default_lr(optimizer, batch_size)


def default_lr(optimizer: str, batch_size: int | None) -> tuple[float, str]:
    """lrrec's stated default LR for the optimizer class, batch-rescaled, and why it is used."""
    wanted = optimizer_class(optimizer)
    lr = batch_rescale(DEFAULT_LR[wanted], REFERENCE_BATCH, batch_size, wanted)
    return lr, f"no similar {wanted} run: lrrec's default {DEFAULT_LR[wanted]:g} at batch {REFERENCE_BATCH}"


def predict(estimates: Estimates, cell: Cell, settings: ModelSettings = ModelSettings()) -> Estimate:
    """The model's view of a concrete config: its own estimate, else its arm's (at its LR), shape's or prior's."""
    if cell.config_id in estimates.configs:
        return estimates.configs[cell.config_id]
    if cell.arm in estimates.arms:
        return _arm_prior(estimates.arms[cell.arm], cell.lr, settings)
    if cell.shape in estimates.shapes:  # nothing similar ran this config or its arm: the shape, at its LR
        shape = estimates.shapes[cell.shape]
        lr = estimates.shape_lrs.get(cell.shape)
        penalty = settings.lr_penalty * abs(math.log10(cell.lr / lr)) if lr else 0.0
        gain = estimates.warmup_gain if cell.has_warmup else 0.0
        return Estimate(shape.key, cell.schedule, shape.shape, shape.score - penalty + gain, shape.sd, shape.weight)
    return Estimate(cell.shape, cell.schedule, cell.shape, 0.5, math.sqrt(UNIFORM_VAR), 0.0)
