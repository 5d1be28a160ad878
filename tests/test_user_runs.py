"""A user's own loop recorded with `lrrec.track` informs `lrrec.suggest` for that task and similar ones."""

from __future__ import annotations

import math

import pytest
import torch
from tiny_data import diabetes_loaders, digits_loaders, mlp

import lrrec
from lrrec.errors import InvalidValueError
from lrrec.schedules import ScheduleConfig
from lrrec.schedules.torch_adapter import ScheduleLR
from lrrec.store import open_store

EPOCHS = 6
# three configs that train the diabetes MLP to clearly different validation losses
CONFIGS = [ScheduleConfig.create("constant", lr=0.001), ScheduleConfig.create("cosine", lr=0.05),
           ScheduleConfig.create("step", lr=0.01)]


def _train_regression(store, config: ScheduleConfig, hidden: int = 32) -> tuple[str, float]:
    """Train the diabetes MLP under `config` with a plain loop recorded by `lrrec.track`; (status, val loss)."""
    torch.manual_seed(0)
    train, val = diabetes_loaders()
    model = mlp(10, hidden, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    with lrrec.track(model, train, optimizer, epochs=EPOCHS, schedule=config, name=f"diabetes/mlp{hidden}",
                     metric="val_loss", store=store) as run:
        for _ in range(EPOCHS):
            for x, y in train:
                loss = torch.nn.functional.mse_loss(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.scheduler.step()
            with torch.no_grad():
                val_loss = sum(float(torch.nn.functional.mse_loss(model(x), y)) for x, y in val)
            run.log_epoch(train_loss=loss.item(), val_loss=val_loss)
    return run.status or "", val_loss


def test_a_users_runs_change_the_ranking_for_a_similar_task(tmp_path):
    store = open_store(tmp_path / "store.duckdb")
    train, _ = diabetes_loaders()
    similar = lrrec.fingerprint_of(mlp(10, 48, 1), train, name="diabetes/mlp48")  # wider: a similar, new task
    before = lrrec.suggest(similar, store=store, epochs=EPOCHS)
    assert before.fallback is not None  # nothing in the shipped corpus is a regression task
    outcomes = {c.name: _train_regression(store, c) for c in CONFIGS}
    assert {status for status, _ in outcomes.values()} == {"finished"}
    winner = min(outcomes, key=lambda name: outcomes[name][1])
    after = lrrec.suggest(similar, store=store, epochs=EPOCHS, batch_size=32)
    assert after.fallback is None and after.nearest_tasks[0]["task"] == "diabetes/mlp32"
    assert after.nearest_tasks[0]["similarity"] > 0.5
    assert after.best.config.name == winner and after.best.evidence[0]["task"] == "diabetes/mlp32"
    assert [s.config.name for s in after] != [s.config.name for s in before]
    runs = store.runs(source="user")
    assert len(runs) == 3 and {r["task"] for r in runs} == {"diabetes/mlp32"}
    curve = store.curves(runs[0]["run_id"])
    assert [p["epoch"] for p in curve] == list(range(1, EPOCHS + 1)) and all(p["val_metric"] for p in curve)
    assert curve[0]["lr"] == pytest.approx(CONFIGS[0].lr)  # the LR of the epoch's last update


def test_suggest_measures_a_model_and_loader_and_its_config_builds_a_scheduler_in_one_call(tmp_path):
    train, _ = digits_loaders()
    model = mlp(64, 128, 10)
    suggestions = lrrec.suggest(model=model, train_loader=train, name="mydigits/mlp128", store=tmp_path / "s.duckdb")
    assert suggestions.fallback is None and suggestions.batch_size == 64 and len(suggestions) == 3
    assert suggestions.nearest_tasks[0]["task"].startswith("digits/")  # the shipped corpus's digits tasks
    best = suggestions.best
    assert isinstance(best.config, ScheduleConfig) and best.evidence and best.adjustments
    scheduler = best.scheduler(torch.optim.SGD(model.parameters(), lr=best.lr), total_steps=100)
    assert isinstance(scheduler, ScheduleLR)
    assert scheduler.optimizer.param_groups[0]["lr"] == pytest.approx(best.config.lrs([0], 100)[0])
    with pytest.raises(InvalidValueError, match="a fingerprint, or a model and its train_loader"):
        lrrec.suggest(model=model)


def test_track_trains_the_top_suggestion_and_records_a_failure_as_failed(tmp_path):
    store = open_store(tmp_path / "store.duckdb")
    train, _ = digits_loaders()
    model = mlp(64, 32, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="out of data"), \
            lrrec.track(model, train, optimizer, epochs=2, name="mydigits/mlp32", store=store) as run:
        run.log_epoch(train_loss=2.0, val_accuracy=0.3)
        raise RuntimeError("out of data")
    top = lrrec.suggest(run.fingerprint, store=store, epochs=2, batch_size=64).best.config
    assert run.config == top and run.status == "failed"
    (row,) = store.runs(source="user")
    assert (row["status"], row["optimizer"], row["batch_size"], row["epochs"]) == ("failed", "sgd", 64, 2)
    assert "out of data" in row["notes"]


def test_a_non_finite_loss_ends_the_run_diverged(tmp_path):
    train, _ = digits_loaders()
    model = mlp(64, 32, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with lrrec.track(model, train, optimizer, epochs=1, schedule="cosine", name="mydigits/mlp32",
                     store=tmp_path / "s.duckdb") as run:
        run.log_epoch(train_loss=math.nan, val_accuracy=0.1)
    assert run.status == "diverged"


def test_lr_find_runs_the_range_test_on_any_model_and_leaves_no_trace():
    torch.manual_seed(0)
    train, _ = digits_loaders()
    model = mlp(64, 128, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = [p.detach().clone() for p in model.parameters()]
    test = lrrec.lr_find(model, optimizer, train, torch.nn.functional.cross_entropy)
    assert test.stopped_early and 1e-3 < test.steepest_lr <= test.min_loss_lr < 10
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert optimizer.param_groups[0]["lr"] == 0.1 and not optimizer.state  # restored
    with pytest.raises(InvalidValueError, match="low < high"):
        lrrec.lr_find(model, optimizer, train, torch.nn.functional.cross_entropy, low=1.0, high=0.1)
