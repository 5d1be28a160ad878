"""User tasks (`module:function`) with their own loss and metric: regression and loss-only tasks train, are
scored in their metric's direction, and are recorded; a malformed objective is a one-line error."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.store.store import open_store

TASKS = textwrap.dedent("""
    import torch
    from sklearn.datasets import load_diabetes
    from torch.utils.data import DataLoader, TensorDataset

    def _data():
        x, y = load_diabetes(return_X_y=True)
        x = torch.tensor(x / x.std(0), dtype=torch.float32)
        y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32).unsqueeze(1)
        return DataLoader(TensorDataset(x[:350], y[:350]), batch_size=25, shuffle=True), \\
            DataLoader(TensorDataset(x[350:], y[350:]), batch_size=100)

    def _model():
        return torch.nn.Sequential(torch.nn.Linear(10, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def loss_only():
        train, val = _data()
        return {"model": _model(), "train_loader": train, "val_loader": val,
                "loss_fn": torch.nn.functional.mse_loss}

    def with_mae():
        return {**loss_only(), "metric": "val_mae", "metric_fn": lambda out, y: (out - y).abs().mean()}

    def unnamed_metric():
        return {**loss_only(), "metric": "val_closeness"}

    def undirected():
        return {**with_mae(), "metric": "val_closeness"}

    def nan_loss():
        return {**loss_only(), "loss_fn": lambda out, y: (out - y).mean() * float("nan")}
""")


@pytest.fixture
def objective_tasks(tmp_path, monkeypatch):
    (tmp_path / "objective_tasks.py").write_text(TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("objective_tasks", None)


def run(store, task: str, *extra: str):
    return CliRunner().invoke(cli, ["run", "--task", task, "--schedule", "cosine", "--set", "lr=0.02", "--epochs",
                                    "4", "--store", str(store), "--json", *extra])


def test_a_loss_only_regression_task_trains_and_is_judged_by_its_validation_loss(objective_tasks):
    store = objective_tasks / "s.duckdb"
    result = run(store, "objective_tasks:loss_only")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["status"] == "finished" and summary["metric"] == "val_loss"
    assert 0 < summary["best_metric"] <= summary["final_metric"] < 1.0  # below the variance of a standardised y
    (row,) = open_store(store).runs(source="lrrec")
    assert (row["metric_name"], row["direction"]) == ("val_loss", "min")
    (task,) = [t for t in open_store(store).tasks() if t["task_id"] == row["task_id"]]
    assert (task["task_kind"], task["n_train"], task["n_classes"], task["input_numel"]) == ("regression", 350, 1, 10)


def test_a_named_metric_with_its_function_is_recorded_with_its_direction(objective_tasks):
    store = objective_tasks / "s.duckdb"
    result = run(store, "objective_tasks:with_mae")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["metric"] == "val_mae" and 0 < summary["best_metric"] < 1.0
    (row,) = open_store(store).runs(source="lrrec")
    assert (row["metric_name"], row["direction"]) == ("val_mae", "min")


def test_the_range_test_trains_on_the_tasks_own_loss(objective_tasks):
    result = CliRunner().invoke(cli, ["probe", "--task", "objective_tasks:loss_only", "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["steepest_lr"] > 0
    result = CliRunner().invoke(cli, ["probe", "--task", "objective_tasks:loss_only", "--method", "curvature"])
    assert result.exit_code == 1 and "measures cross-entropy classifiers" in result.output


@pytest.mark.parametrize("task, message", [
    ("unnamed_metric", "metric 'val_closeness' needs a metric_fn(outputs, targets) that computes it"),
    ("undirected", "direction must be \"max\" or \"min\" (is a higher val_closeness better?), got None"),
    ("nan_loss", "loss_fn must return one finite number on the first batch of train_loader"),
])
def test_a_malformed_objective_is_one_line_and_records_nothing(objective_tasks, task, message):
    store = objective_tasks / "s.duckdb"
    result = run(store, f"objective_tasks:{task}")
    assert result.exit_code == 1 and message in result.output and len(result.output.splitlines()) == 1
    assert not store.exists()
