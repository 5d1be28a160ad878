"""Mechanics of the ranking model: unknown features, the regime prior, publication bias, honest intervals."""

from __future__ import annotations

import dataclasses

import pytest

from lrrec.catalog import catalog_fingerprint
from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.evaluate import evaluate_group, global_default
from lrrec.recommender.experience import Cell, Experience
from lrrec.recommender.ranking import ModelSettings, estimate, predict, regime_prior
from lrrec.recommender.shapes import EXPERT_RANK, shape_of
from lrrec.recommender.similarity import similarity
from lrrec.recommender.suggest import p_beats, suggest_by_name
from lrrec.store import open_store


def _task(name: str, **features) -> TaskFingerprint:
    dataset, model = name.split("/")
    return TaskFingerprint(name=name, dataset=dataset, model=model, extra={"source": features.pop("source", "own")}
                           if "source" in features else {}, **features)


def _cell(task: str, shape_schedule: str, metric: float, *, lr: float = 0.1, optimizer: str = "sgd",
          epochs: int = 10, proposed: bool = False) -> Cell:
    config = f"{shape_schedule}@{lr}"
    return Cell(task, config, shape_schedule, "x", lr, shape_schedule, optimizer, 128, epochs, "acc", "max", metric,
                1, 0, "literature", proposed, None, shape_of(shape_schedule))


def test_missing_features_are_unknown_never_a_match():
    full = catalog_fingerprint("cifar10", "wrn-28-10")
    bare = TaskFingerprint(name="cifar10/preresnet-99", dataset="cifar10", model="preresnet-99", n_train=50_000,
                           n_classes=10, input_numel=3072)  # dataset features only: the model is unknown
    assert similarity(full, full) == 1.0
    assert similarity(full, bare) < 0.1  # five unknown model features: far, not identical
    fewer = TaskFingerprint(name="cifar10/x", dataset="cifar10", model="x", n_train=50_000)
    assert similarity(full, fewer) < similarity(full, bare)  # the less known, the less similar
    same_name = TaskFingerprint(name="cifar10/wrn-28-10", dataset="cifar10", model="wrn-28-10")
    assert similarity(full, same_name) == 1.0  # the same dataset and model, features or not


def test_the_regime_prior_weighs_the_target_optimizer_and_discounts_proposed_schedules():
    tasks = {"a": _task("d1/m1", source="p1"), "b": _task("d2/m2", source="p2")}
    cells = [_cell("a", "cosine", 0.9, optimizer="adamw"), _cell("a", "multistep", 0.8, optimizer="adamw"),
             _cell("b", "cosine", 0.7), _cell("b", "multistep", 0.75)]
    experience = Experience(tasks, cells)
    for_adam = regime_prior(experience, "adam", 10, ModelSettings())
    for_sgd = regime_prior(experience, "sgd", 10, ModelSettings())
    assert for_adam["cosine"].score > for_adam["step"].score
    assert for_sgd["step"].score > for_sgd["cosine"].score  # each regime leans on its own optimizer's results
    proposed = Experience(tasks, [*cells[:2], _cell("b", "cosine", 0.7), _cell("b", "multistep", 0.75, proposed=True)])
    plain, discounted = (regime_prior(proposed, "sgd", 10, ModelSettings(proposed_weight=w))["step"].score
                         for w in (1.0, 0.2))
    assert discounted < plain  # a paper's own schedule winning in that paper counts less


def test_one_published_row_never_gives_certainty():
    tasks = {"a": _task("cifar10/wrn-28-10", source="p1"), "t": _task("cifar10/wrn-28-10", source="p2")}
    experience = Experience(tasks, [_cell("a", "cosine", 0.95), _cell("a", "sgdr", 0.90)])
    est = estimate(experience, tasks["t"])
    best, other = est.configs["cosine@0.1"], est.configs["sgdr@0.1"]
    assert best.score > other.score and 0.5 < p_beats(best, other, 1.0) < 0.99
    low, high = best.interval()
    assert 0.0 <= low < best.score < high <= 1.0


def test_coverage_counts_held_out_outcomes_inside_their_intervals():
    tasks = {"a": _task("d/m", source="p1"), "b": _task("d/m", source="p2")}
    cells = [_cell("a", "cosine", 0.9), _cell("a", "multistep", 0.8), _cell("a", "constant", 0.5),
             _cell("b", "cosine", 0.6), _cell("b", "multistep", 0.9), _cell("b", "constant", 0.7)]
    experience = Experience(tasks, cells)
    training = experience.without("b")
    group = experience.by_task["b"]
    settings = ModelSettings()
    result = evaluate_group(training, global_default(training), "b", "p2", group, experience, settings)
    estimates = estimate(training, tasks["b"], "sgd", 128, settings, 10)
    inside = 0
    for cell in group:
        low, high = predict(estimates, cell, settings).interval(settings.sd_scale)
        inside += low <= cell.score <= high
    assert result.covered == inside and result.cells == 3
    no_width = evaluate_group(training, global_default(training), "b", "p2", group, experience,
                              dataclasses.replace(settings, sd_scale=0.0))
    wide = evaluate_group(training, global_default(training), "b", "p2", group, experience,
                          dataclasses.replace(settings, sd_scale=100.0))
    assert no_width.covered == 0 and wide.covered == 3  # zero-width intervals hold no outcome, huge ones all
    assert result.regret["lrrec"] == pytest.approx(1.0 - group[0].score)  # it follows task a: cosine first
    assert set(result.spearman) == {"lrrec", "expert_order"}


def test_expert_order_puts_decay_to_zero_first_and_restarts_last():
    assert EXPERT_RANK["cosine"] == EXPERT_RANK["linear"] == EXPERT_RANK["wsd"] < EXPERT_RANK["step"]
    assert EXPERT_RANK["step"] < EXPERT_RANK["constant"] < EXPERT_RANK["restarts"]
    assert shape_of("sgdr", {"t0_frac": 1.0, "t_mult": 1}) == "cosine"  # one cycle: no restart happens
    assert shape_of("sgdr", '{"t0_frac": 0.25}') == "restarts"


def test_cifar100_wrn_rests_on_published_wrn_results_and_adam_on_adam_evidence(tmp_path):
    store = lambda: open_store(tmp_path / "s.duckdb")  # noqa: E731 - a new store: corpus and literature
    rec = suggest_by_name(store, "cifar100", "wrn", None, top=3)
    assert rec.fallback is None
    first = rec.suggestions[0]
    assert first.evidence[0]["task"] == "cifar100/wrn-28-10" and first.evidence[0]["source_ref"]
    assert first.expected_metric is not None and 0.7 < first.expected_metric["value"] < 0.9
    assert all(s.p_beats_next is None or s.p_beats_next < 1.0 for s in rec.suggestions)
    adam = suggest_by_name(store, "cifar10", "resnet-20", None, optimizer="adam", top=2)
    assert any("adam" in e["optimizer"] for s in adam.suggestions for e in s.evidence)
