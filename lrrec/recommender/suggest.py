"""`suggest`: rank schedule configs for a task from similar past tasks, with evidence and adjustments."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from lrrec.errors import InvalidValueError, LrrecError, UnknownNameError
from lrrec.fingerprint import TaskFingerprint
from lrrec.optimizers import DEFAULT_LR, optimizer_class
from lrrec.recommender.experience import Experience, collector_paused, load_experience
from lrrec.recommender.ranking import (
    NEAREST,
    REFERENCE_BATCH,
    Estimate,
    Estimates,
    ModelSettings,
    batch_rescale,
    default_lr,
    estimate,
    near_tasks,
    score_of,
)
from lrrec.recommender.shapes import SHAPE_DEFAULTS
from lrrec.recommender.targets import target_fingerprint
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.rounding import round_lr
from lrrec.schedules.units import steps_of

if TYPE_CHECKING:
    from lrrec.runners.probes import RangeTest

MIN_SIMILARITY = 0.05  # below this no past task counts as similar: lrrec says so and ranks by its prior
FALLBACK = ("warmup_cosine", {"warmup_frac": 0.05})  # for a store with no comparable experience at all


@dataclass
class Suggestion:
    """One ranked schedule config and why."""

    rank: int
    config: ScheduleConfig
    expected_score: float  # 1 = as good as the best config on similar tasks, 0 = as bad as the worst
    score_sd: float  # predictive: the spread of the outcome on this task
    score_interval: tuple[float, float]  # 80 %, its coverage measured by `lrrec evaluate`
    expected_metric: dict[str, Any] | None
    confidence: str
    p_beats_next: float | None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    adjustments: list[str] = field(default_factory=list)


@dataclass
class Recommendation:
    """The answer of `lrrec suggest`."""

    task: dict[str, Any]
    optimizer: str
    batch_size: int | None
    epochs: int | None
    suggestions: list[Suggestion]
    nearest_tasks: list[dict[str, Any]]
    fallback: str | None = None
    replaced_lrs: list[float] = field(default_factory=list)  # the suggested LRs a probed LR replaced

    def to_dict(self) -> dict[str, Any]:
        """The answer as plain data (each suggestion's config holds the LR it ended with)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("replaced_lrs", "suggestions")}
        return {**out, "suggestions": [{**asdict(s), "config": s.config.to_dict()} for s in self.suggestions]}


@collector_paused()  # until the cells are freed on return: they are many, and form no reference cycles
def suggest(store: Any, target: TaskFingerprint, *, optimizer: str = "sgd", batch_size: int | None = None,
            epochs: int | None = None, top: int = 3, settings: ModelSettings = ModelSettings(),
            experience: Experience | None = None, only: tuple[str, ...] | None = None) -> Recommendation:
    """Rank schedule configs for `target` from the store's experience (see `lrrec.recommender.ranking`).

    `only` restricts the suggestions to some schedules (with one schedule: its top configs, not one per schedule).
    """
    with store.reading():  # one connection and snapshot for the experience and the evidence's run ids
        experience = experience or load_experience(store, near_tasks(target, settings))
        estimates = estimate(experience, target, optimizer, batch_size, settings, epochs)
        nearest = sorted(((w, tid) for tid, w in estimates.weights.items()), reverse=True)[:NEAREST]
        nearest_rows = [{"task": experience.tasks[tid].name, "source": experience.origin(tid),
                         "similarity": round(w, 4), "cells": len(experience.by_task[tid])} for w, tid in nearest]
        rec = Recommendation(target.to_dict(), optimizer, batch_size, epochs, [], nearest_rows)
        if not nearest or nearest[0][0] < MIN_SIMILARITY:
            return _without_similar_tasks(rec, estimates, experience.n_tasks, top, only, settings)
        ranked = _ranked(estimates, top, only)
        for i, est in enumerate(ranked):
            following = ranked[i + 1] if i + 1 < len(ranked) else None
            rec.suggestions.append(_suggestion(i + 1, (est, following), estimates, experience, target,
                                               (optimizer, batch_size, epochs), settings))
        evidence = [e for s in rec.suggestions for e in s.evidence]
        ids = store.run_ids([e["runs"] for e in evidence])  # one read for every suggestion's evidence
        for e in evidence:
            e["runs"] = ids[e["runs"]]
    return rec


def _ranked(estimates: Estimates, top: int, only: tuple[str, ...] | None) -> list[Estimate]:
    """The top configs run with this optimizer (without any, arms at their transferred or default LR), one per
    schedule unless `only` names a single schedule; those similar tasks ran come first."""
    pool = list(estimates.configs.values()) or list(estimates.arms.values())
    if only is not None:
        pool = [e for e in pool if e.schedule in only]
    ranked = sorted(pool, key=lambda e: (e.weight < MIN_SIMILARITY, -e.score, e.key))
    return (ranked if only is not None and len(only) == 1 else _distinct_schedules(ranked))[:top]


def _without_similar_tasks(rec: Recommendation, estimates: Estimates, tasks: int, top: int,
                           only: tuple[str, ...] | None, settings: ModelSettings) -> Recommendation:
    """`rec` ranked by the regime prior, and saying so; with no comparable runs at all, the stated default."""
    closest = f" (closest: {rec.nearest_tasks[0]['task']}, similarity {rec.nearest_tasks[0]['similarity']:.3f})" \
        if rec.nearest_tasks else ""
    name = rec.task["name"]
    if not estimates.prior:
        rec.fallback = (f"no task in the store is similar to {name}{closest}, and it holds no comparable runs; "
                        f"falling back to lrrec's default, {FALLBACK[0]} with a 5% warmup")
        rec.suggestions = [_fallback(rec.optimizer, rec.batch_size)]
        return rec
    rec.fallback = (f"no task in the store is similar to {name}{closest}; ranked by the prior learned over all "
                    f"{tasks} tasks for {optimizer_class(rec.optimizer)} at "
                    f"{f'{rec.epochs} epochs' if rec.epochs else 'any budget'} (wide intervals), not from similar "
                    f"tasks")
    rec.suggestions = _prior_suggestions(estimates, rec.optimizer, rec.batch_size, top, only, settings)
    return rec


def suggest_for_task(store: Any, target: TaskFingerprint, task: str | None = None, *, optimizer: str = "sgd",
                     batch_size: int | None = None, epochs: int | None = None, top: int = 3,
                     only: tuple[str, ...] | None = None,
                     probe: Callable[[], float | None] | None = None) -> Recommendation:
    """`suggest` for `target`, at the epoch budget of `task` (a task name) unless `epochs` is given, since evidence
    at other budgets weighs less. `probe` measures an LR on the task itself (see `RangeProbe`): every suggestion
    takes it (`with_probed_lr`; a probe's `note` says why it found none)."""
    if task and not epochs:
        from lrrec.runners.tasks import get_task

        epochs = get_task(task).budget.epochs
    rec = suggest(store, target, optimizer=optimizer, batch_size=batch_size, epochs=epochs, top=top, only=only)
    if probe is None:
        return rec
    return with_probed_lr(rec, probe(), getattr(probe, "note", ""))


def suggest_by_name(open_store: Callable[[], Any], dataset: str | None, model: str | None, task: str | None, *,
                    optimizer: str = "sgd", batch_size: int | None = None, epochs: int | None = None, top: int = 3,
                    probe: bool = False, data_root: str | None = None) -> Recommendation:
    """`lrrec suggest`: `suggest_for_task` for the task named by `dataset` and `model` or by `task` (see
    `target_fingerprint`, or else a task of that dataset and model in the store), with `probe` at the LR of a range
    test on `task`. `open_store` is called once the name is checked against the catalog (and, for a name the
    catalog lacks, the store)."""
    range_test = None
    if probe:
        if not task:
            raise InvalidValueError("--probe trains the task for a few steps, so it needs --task (a built-in task or "
                                    "module:function), not catalog --dataset/--model")
        range_test = RangeProbe(task, batch_size=batch_size, optimizer=optimizer, data_root=data_root)
    try:
        target = target_fingerprint(dataset, model, task, data_root)
        store = open_store()
    except UnknownNameError as unknown:  # not in the catalog: a task whose runs the user brought, perhaps
        if task or not dataset or not model:
            raise
        try:
            store = open_store()
        except LrrecError:  # no store to look in: the catalog's answer stands
            raise unknown from None
        found = store.stored_task(dataset, model)
        if found is None:
            raise UnknownNameError(f"{unknown.args[0]} (nor does the store {store.path} hold runs of "
                                   f"{dataset}/{model})") from None
        target = found
    return suggest_for_task(store, target, task, optimizer=optimizer, batch_size=batch_size, epochs=epochs,
                            top=top, probe=range_test)


@dataclass
class RangeProbe:
    """The LR range test on `task` as a probe: called, the test's steepest-descent LR (None when it is inconclusive,
    and `note` says why). The optimizer settings override the task's own (see `budget_for`); `result` keeps the
    test."""

    task: str
    batch_size: int | None = None
    optimizer: str | None = None
    momentum: float | None = None
    seed: int = 0
    data_root: str | None = None
    device: str | None = None
    progress: bool = False
    result: RangeTest | None = field(default=None, init=False)  # once called

    def __call__(self) -> float | None:
        from lrrec.runners.execute import budget_for
        from lrrec.runners.probes import lr_range_test
        from lrrec.runners.tasks import get_task

        task = get_task(self.task)
        budget = budget_for(task, None, self.batch_size, self.optimizer, self.momentum)
        self.result = lr_range_test(task, budget, seed=self.seed, data_root=self.data_root, device=self.device,
                                    progress=self.progress)
        return self.result.steepest_lr

    @property
    def note(self) -> str:
        """Why the test found no LR ("" when it found one, or has not run)."""
        return self.result.note if self.result is not None else ""


def with_probed_lr(rec: Recommendation, lr: float | None, note: str = "") -> Recommendation:
    """`rec` with every suggestion at `lr`, an LR measured on the task itself (the LR range test's steepest
    descent; `python benchmarks/bench_probe.py` measures it against the transferred LR). With `lr` None (an
    inconclusive test, `note` says why) the LRs stay as they were, and each suggestion says so. The LRs it
    replaces go to `rec.replaced_lrs`."""
    basis = "lrrec's fallback default" if rec.fallback else "transferred from similar tasks"
    for suggestion in rec.suggestions:
        config = suggestion.config
        if lr is None:
            suggestion.adjustments.insert(0, f"LR range test inconclusive ({note}); lr {config.lr:g} kept")
            continue
        suggestion.adjustments = [(f"lr {lr:.3g}: steepest descent of an LR range test on this task, at its "
                                   f"batch size ({basis}: {config.lr:g})")] + [
            n for n in suggestion.adjustments if not n.startswith(_LR_NOTES)]  # the measured LR replaces them
        suggestion.config = config.with_settings({"lr": round_lr(lr)})
        rec.replaced_lrs.append(config.lr)
    return rec


def _distinct_schedules(estimates: list[Estimate]) -> list[Estimate]:
    seen, out = set(), []
    for est in estimates:
        if est.schedule not in seen:
            seen.add(est.schedule)
            out.append(est)
    return out


def _suggestion(rank: int, pair: tuple[Estimate, Estimate | None], estimates: Estimates,
                experience: Experience, target: TaskFingerprint, regime: tuple[str, int | None, int | None],
                settings: ModelSettings) -> Suggestion:
    """Suggestion `rank` from its estimate (and the next one's, for the odds), in the target's regime
    (optimizer, batch size, epochs)."""
    est, following = pair
    optimizer, batch_size, epochs = regime
    nearest_cell = est.evidence[0][2]
    is_arm = est.key == nearest_cell.arm
    lr = est.lr if is_arm else batch_rescale(nearest_cell.lr, nearest_cell.batch_size, batch_size, optimizer)
    arm = json.loads(nearest_cell.arm)
    config = ScheduleConfig.create(arm["name"], lr=round_lr(lr), params=arm["params"], warmup=arm["warmup"])
    top_similarity = est.evidence[0][1]
    n_similar = sum(1 for _, w, _ in est.evidence if w >= 0.3)
    confidence = "high" if top_similarity >= 0.7 and n_similar >= 2 else "medium" if top_similarity >= 0.3 else "low"
    p_next = None if following is None else p_beats(est, following, settings.sd_scale)
    evidence = [{"task": experience.tasks[tid].name, "similarity": round(estimates.weights[tid], 4),
                 "weight": round(w, 4), "metric_name": c.metric_name, "metric": c.metric,
                 "score": round(score_of(c), 4), "lr": c.lr, "epochs": c.epochs, "batch_size": c.batch_size,
                 "optimizer": c.optimizer, "finished": c.n_finished, "diverged": c.n_diverged, "source": c.source,
                 "source_ref": c.ref, "runs": (c.task_id, c.config_id, c.metric_name)}  # ids filled in by `suggest`
                for tid, w, c in est.evidence[:3]]
    return Suggestion(rank, config, *_scores(est, settings.sd_scale),
                      _expected_metric(est, experience, target), confidence, p_next, evidence,
                      _adjustments(est, estimates.arms[nearest_cell.arm], config, target, optimizer, batch_size,
                                   epochs, estimates.weights))


def _expected_metric(est: Estimate, experience: Experience, target: TaskFingerprint) -> dict[str, Any] | None:
    """The metric this config's evidence reached on the target's own dataset and model (e.g. published CIFAR-100
    WRN-28-10 results): weighted mean, spread over the results (None for one), and where they come from."""
    same = [(w, c.metric, c.metric_name, c.ref or experience.tasks[tid].name) for tid, w, c in est.evidence
            if (experience.tasks[tid].dataset, experience.tasks[tid].model) == (target.dataset, target.model)
            and c.metric is not None and w > 0]
    if not same:
        return None
    same = [row for row in same if row[2] == same[0][2]]  # one metric
    total = sum(w for w, *_ in same)
    mean = sum(w * metric for w, metric, *_ in same) / total
    sd = math.sqrt(sum(w * (metric - mean) ** 2 for w, metric, *_ in same) / total) if len(same) > 1 else None
    return {"name": same[0][2], "value": round(mean, 6), "sd": None if sd is None else round(sd, 6),
            "n": len(same), "from": sorted({name for *_, name in same})}


def _adjustments(est: Estimate, arm: Estimate, config: ScheduleConfig, target: TaskFingerprint, optimizer: str,
                 batch_size: int | None, epochs: int | None, similarity: dict[str, float]) -> list[str]:
    """Where the suggested LR comes from (and how it was rescaled), then what the durations mean at the budget."""
    if est is arm:  # no config ran with this optimizer: the arm's transferred LR, already batch-rescaled
        notes = [f"lr {config.lr:g}: {arm.lr_basis}"]
    else:
        ran = est.evidence[0][2].lr
        at = f" ({ran:g})" if round_lr(ran) != round_lr(config.lr) else ""  # rescaled to the target's batch below
        notes = [f"lr {config.lr:g}: the LR this config ran at{at} on {_evidence_tasks(est, epochs, similarity)}"
                 + (f"; {arm.lr_basis}: {arm.lr:.3g}" if arm.lr_basis.startswith("similar") else "")]
        notes += _batch_note(est.evidence[0][2].batch_size, batch_size, optimizer)
    return notes + _budget_note(config, target, epochs, batch_size)


def _evidence_tasks(est: Estimate, epochs: int | None, similarity: dict[str, float]) -> str:
    """The tasks a config ran on: `3 similar task(s) (1 of 4 at another epoch budget, weighted down)`."""
    similar = sum(1 for tid, _, _ in est.evidence if similarity[tid] >= MIN_SIMILARITY)
    other_budget = [c for _, _, c in est.evidence if epochs and c.epochs and c.epochs != epochs]
    where = f"{similar} similar task(s)" if similar else f"{len(est.evidence)} task(s), none of them similar"
    if other_budget:
        where += f" ({len(other_budget)} of {len(est.evidence)} at another epoch budget, weighted down)"
    return where


def _budget_note(config: ScheduleConfig, target: TaskFingerprint, epochs: int | None,
                 batch_size: int | None) -> list[str]:
    """What the schedule's fractional durations come to at the epoch budget (in steps, when they are known)."""
    if epochs and target.n_train and batch_size:
        total = epochs * max(1, target.n_train // batch_size)
        warm = config.params.get("warmup_frac")
        extra = f"; warmup {steps_of(warm, total)} steps" if warm else ""
        return [f"budget: durations are fractions of {epochs} epochs = {total} steps at batch {batch_size}{extra}"]
    if epochs:
        return [f"budget: durations are fractions of the {epochs}-epoch budget"]
    return []


_LR_NOTES = ("lr ", "LR rescaled", "the evidence does not state its batch size", "fallback default")  # LR origins


def _batch_note(evidence_batch: int | None, batch_size: int | None, optimizer: str) -> list[str]:
    rule = "linear" if optimizer_class(optimizer) == "sgd" else "square-root"
    if not batch_size or evidence_batch == batch_size:
        return []
    if evidence_batch:
        return [f"LR rescaled from batch size {evidence_batch} to {batch_size} by the {rule} rule"]
    return [(f"the evidence does not state its batch size, so the LR is not rescaled to {batch_size}; "
             f"if it was trained at batch B, multiply by ({batch_size}/B) ({rule} rule)")]


def _fallback(optimizer: str, batch_size: int | None) -> Suggestion:
    wanted = optimizer_class(optimizer)
    lr, _ = default_lr(optimizer, batch_size)
    config = ScheduleConfig.create(FALLBACK[0], lr=round_lr(lr), params=FALLBACK[1])
    return Suggestion(1, config, 0.0, 0.0, (0.0, 1.0), None, "none", None, [],
                      [f"fallback default: {FALLBACK[0]}, lr {DEFAULT_LR[wanted]:g} at batch {REFERENCE_BATCH}"
                       + (f" rescaled to batch {batch_size}" if batch_size else "")])


def _prior_suggestions(estimates: Estimates, optimizer: str, batch_size: int | None, top: int,
                       only: tuple[str, ...] | None, settings: ModelSettings) -> list[Suggestion]:
    """With nothing similar: the shapes ranked by the regime prior, each as its default config."""
    ranked = sorted(estimates.prior.values(), key=lambda e: (-e.score, e.key))
    ranked = [e for e in ranked if e.key in SHAPE_DEFAULTS and (only is None or SHAPE_DEFAULTS[e.key][0] in only)]
    lr, basis = default_lr(optimizer, batch_size)
    out = []
    for i, est in enumerate(ranked[:top]):
        name, params = SHAPE_DEFAULTS[est.key]
        config = ScheduleConfig.create(name, lr=round_lr(lr), params=params)
        following = ranked[i + 1] if i + 1 < len(ranked) else None
        note = (f"ranked by the prior: {est.key} shapes scored {est.score:.2f} +- {est.sd:.2f} (normalised) over "
                f"{est.weight:.1f} task(s) of weight in this regime")
        odds = None if following is None else p_beats(est, following, settings.sd_scale)
        out.append(Suggestion(i + 1, config, *_scores(est, settings.sd_scale), None, "low", odds, [],
                              [f"lr {config.lr:g}: {basis}", note]))
    return out


def p_beats(a: Estimate, b: Estimate, sd_scale: float) -> float:
    """P(a's outcome beats b's) under independent normal predictive distributions, to 3 decimals."""
    spread = math.hypot(a.sd, b.sd) * sd_scale
    if spread <= 0:
        return 0.5
    return round(0.5 * (1 + math.erf((a.score - b.score) / (spread * math.sqrt(2)))), 3)


def _scores(est: Estimate, sd_scale: float) -> tuple[float, float, tuple[float, float]]:
    """A suggestion's expected score, calibrated sd and 80 % interval, rounded."""
    low, high = est.interval(sd_scale)
    return round(est.score, 4), round(est.sd * sd_scale, 4), (round(low, 4), round(high, 4))
