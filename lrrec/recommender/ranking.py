"""The ranking model: similarity-weighted, hierarchically shrunk estimates of each schedule config's score.

For a target task, every past task j gets a weight w_j (its similarity) and every config its normalised score
s_j there. Estimates pool s_j with weights w_j and shrink towards the level above (strength `shrink`, in units
of weight): a concrete config (schedule, parameters, LR) towards its arm (the config without its LR, scored by
its best LR on each task, less a penalty per decade between the config's LR and the arm's transferred LR),
the arm towards its schedule, the schedule towards its family, the family towards the global mean. So a config
no similar task ran still gets a score. An arm's transferred LR is the weighted geometric mean of the
neighbours' best LRs for it, rescaled to the target's batch size. When the target's epoch budget is known,
a run at another budget weighs less (exp(-|ln(epochs ratio)|): a third at 3x), since which schedule wins
depends on the budget, and a quick trial run must not outvote full-length ones.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.experience import Cell, Experience
from lrrec.recommender.similarity import BANDWIDTH, similarity

DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}  # the stated fallback LRs, at batch size 128
REFERENCE_BATCH = 128
PRIOR_SD = 0.25  # the spread assumed for a score seen on a single task


@dataclass(frozen=True)
class ModelSettings:
    """The model's knobs (their defaults are the ones `lrrec evaluate` selected on the shipped corpus)."""

    bandwidth: float = BANDWIDTH
    shrink: float = 0.5
    lr_penalty: float = 0.1  # score lost per decade between a candidate's LR and the transferred LR
    budget_scale: float = 1.0  # evidence at another epoch budget weighs exp(-|ln(epochs ratio)| / this)


def optimizer_class(name: str | None) -> str:
    """'adam' for the Adam family, else 'sgd' (LR scales and batch rules differ between the two)."""
    return "adam" if name and name.lower().startswith("adam") else "sgd"


def batch_rescale(lr: float, from_batch: int | None, to_batch: int | None, optimizer: str) -> float:
    """Linear scaling rule for SGD, square-root rule for Adam (Goyal et al. 2017; Malladi et al. 2022)."""
    if not from_batch or not to_batch or from_batch == to_batch:
        return lr
    power = 1.0 if optimizer_class(optimizer) == "sgd" else 0.5
    return lr * (to_batch / from_batch) ** power


@dataclass
class Estimate:
    """The model's view of one config (or arm) for the target task."""

    key: str  # config_id, or the arm key
    schedule: str
    family: str
    score: float
    sd: float
    se: float
    weight: float  # summed similarity of the tasks that ran it
    evidence: list[tuple[str, float, Cell]] = field(default_factory=list)  # (task_id, similarity, cell)
    lr: float = 0.0  # arms: the transferred LR; configs: the config's own LR
    lr_basis: str = ""


@dataclass
class Estimates:
    """Scores of every config, arm, schedule and family for one target."""

    weights: dict[str, float]
    configs: dict[str, Estimate]
    arms: dict[str, Estimate]
    schedules: dict[str, float]
    families: dict[str, float]
    overall: float


def budget_weight(epochs: int | None, target_epochs: int | None, scale: float) -> float:
    """How much a run at `epochs` speaks for a target trained `target_epochs` (1 when either is unknown)."""
    if not epochs or not target_epochs or math.isinf(scale):
        return 1.0
    return math.exp(-abs(math.log(epochs / target_epochs)) / scale)


def score_of(cell: Cell) -> float:
    """A cell's score (every cell of `Experience.by_task` has one)."""
    assert cell.score is not None
    return cell.score


def _best_by(cells: list[Cell], key: Callable[[Cell], str], weight: Callable[[Cell], float]) -> dict[str, Cell]:
    """Per key, the cell at the budget closest to the target's, and of those the best scored."""
    best: dict[str, Cell] = {}
    for cell in cells:
        k = key(cell)
        rank = (weight(cell), cell.score, cell.n_finished, cell.config_id)
        if k not in best or rank > (weight(best[k]), best[k].score, best[k].n_finished, best[k].config_id):
            best[k] = cell
    return best


def _pool(values: list[tuple[float, float]], prior: float, shrink: float) -> float:
    total = sum(w for w, _ in values)
    return (sum(w * s for w, s in values) + shrink * prior) / (total + shrink)


def _estimate(key: str, seen: list[tuple[str, float, Cell]], prior: float, shrink: float) -> Estimate:
    """Pool the scores `seen` on similar tasks, shrunk towards `prior`, with their spread."""
    pooled = [(w, score_of(c)) for _, w, c in seen]
    score = _pool(pooled, prior, shrink)
    total = sum(w for w, _ in pooled)
    sd = math.sqrt(sum(w * (s - score) ** 2 for w, s in pooled) / total) if len(pooled) > 1 and total > 0 \
        else PRIOR_SD
    ess = total**2 / sum(w * w for w, _ in pooled) if total > 0 else 0.0
    first = seen[0][2]
    return Estimate(key, first.schedule, first.family, score, sd, sd / math.sqrt(ess + shrink), total,
                    sorted(seen, key=lambda e: -e[1]))


def estimate(experience: Experience, target: TaskFingerprint, optimizer: str = "sgd",
             batch_size: int | None = None, settings: ModelSettings = ModelSettings(),
             epochs: int | None = None) -> Estimates:
    """Score every config, arm, schedule and family of `experience` for `target` (trained `epochs`, if known)."""
    weights = {tid: similarity(target, experience.tasks[tid], settings.bandwidth) for tid in experience.by_task}
    seen = _evidence(experience, weights, optimizer,
                     lambda cell: budget_weight(cell.epochs, epochs, settings.budget_scale))
    scores = [s for values in seen.families.values() for _, s in values]
    overall = sum(scores) / len(scores) if scores else 0.5
    families = {f: _pool(v, overall, settings.shrink) for f, v in seen.families.items()}
    schedules = {n: _pool([(w, score_of(c)) for _, w, c in v], families[seen.family_of[n]], settings.shrink)
                 for n, v in seen.schedules.items()}
    arms = {}
    for arm, cells in seen.arms.items():
        est = _estimate(arm, cells, schedules[cells[0][2].schedule], settings.shrink)
        est.lr, est.lr_basis = _transfer_lr(cells, seen.schedules[est.schedule], optimizer, batch_size)
        arms[arm] = est
    return Estimates(weights, _config_estimates(seen.configs, arms, batch_size, settings), arms, schedules, families,
                     overall)


@dataclass
class _Evidence:
    """Per family, schedule, arm and config: each task's best cell for it, with its weight (families: with its
    score)."""

    families: defaultdict[str, list[tuple[float, float]]] = field(default_factory=lambda: defaultdict(list))
    schedules: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))
    arms: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))
    configs: defaultdict[str, list[tuple[str, float, Cell]]] = field(default_factory=lambda: defaultdict(list))
    family_of: dict[str, str] = field(default_factory=dict)  # schedule -> family


def _evidence(experience: Experience, weights: dict[str, float], optimizer: str,
              fit: Callable[[Cell], float]) -> _Evidence:
    """Each task's best cells, weighted by the task's similarity times the cell's budget `fit`; configs only
    of `optimizer`'s class."""
    seen = _Evidence()
    for tid, cells in experience.by_task.items():
        w = weights[tid]
        for fam, cell in _best_by(cells, lambda c: c.family, fit).items():
            seen.families[fam].append((w * fit(cell), score_of(cell)))
        for name, cell in _best_by(cells, lambda c: c.schedule, fit).items():
            seen.schedules[name].append((tid, w * fit(cell), cell))
            seen.family_of[name] = cell.family
        for arm, cell in _best_by(cells, lambda c: c.arm, fit).items():
            seen.arms[arm].append((tid, w * fit(cell), cell))
        same_optimizer = [c for c in cells if optimizer_class(c.optimizer) == optimizer_class(optimizer)]
        for config_id, cell in _best_by(same_optimizer, lambda c: c.config_id, fit).items():
            seen.configs[config_id].append((tid, w * fit(cell), cell))  # an LR means something only for its optimizer
    return seen


def _config_estimates(per_config: dict[str, list[tuple[str, float, Cell]]], arms: dict[str, Estimate],
                      batch_size: int | None, settings: ModelSettings) -> dict[str, Estimate]:
    """Each config's pooled score, shrunk towards its arm's prior at the config's LR (see `_arm_prior`)."""
    configs = {}
    for config_id, seen in per_config.items():
        cell = seen[0][2]
        at_target_batch = batch_rescale(cell.lr, cell.batch_size, batch_size, cell.optimizer)  # as arm.lr is
        est = _estimate(config_id, seen, _arm_prior(arms[cell.arm], at_target_batch, settings), settings.shrink)
        est.lr = cell.lr
        configs[config_id] = est
    return configs


def _arm_prior(arm: Estimate, lr: float, settings: ModelSettings) -> float:
    """A config's prior: its arm's score, less a penalty per decade from the arm's transferred LR."""
    return arm.score - settings.lr_penalty * abs(math.log10(lr) - math.log10(arm.lr))


def _transfer_lr(seen: list[tuple[str, float, Cell]], schedule_best: list[tuple[str, float, Cell]],
                 optimizer: str, batch_size: int | None) -> tuple[float, str]:
    """Weighted geometric mean of the neighbours' best LRs (same optimizer class), batch-rescaled."""
    wanted = optimizer_class(optimizer)
    for level, pairs in (("this config", [(w, c) for _, w, c in seen]),
                         ("this schedule", [(w, c) for _, w, c in schedule_best])):
        usable = [(w, c) for w, c in pairs if optimizer_class(c.optimizer) == wanted and w > 0 and c.lr > 0]
        total = sum(w for w, _ in usable)
        if total > 1e-12:
            log_lr = sum(w * math.log(batch_rescale(c.lr, c.batch_size, batch_size, c.optimizer))
                         for w, c in usable) / total
            return math.exp(log_lr), f"similar tasks' best LR for {level}"
    fallback = batch_rescale(DEFAULT_LR[wanted], REFERENCE_BATCH, batch_size, wanted)
    return fallback, f"no similar {wanted} run: lrrec's default {DEFAULT_LR[wanted]:g} at batch {REFERENCE_BATCH}"


def candidate_score(estimates: Estimates, cell: Cell, settings: ModelSettings = ModelSettings()) -> float:
    """The model's score of a concrete config: its own pooled score, else its arm's, schedule's or family's."""
    if cell.config_id in estimates.configs:
        return estimates.configs[cell.config_id].score
    if cell.arm in estimates.arms:
        return _arm_prior(estimates.arms[cell.arm], cell.lr, settings)
    return estimates.schedules.get(cell.schedule, estimates.families.get(cell.family, estimates.overall))
