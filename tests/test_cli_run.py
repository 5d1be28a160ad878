"""`lrrec run`, `lrrec sweep`, `lrrec tasks list`: real training recorded in a real store file."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.store.store import open_store


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def lrrec_runs(path):
    return open_store(path).runs(source="lrrec")


def test_run_records_the_run_its_curve_and_the_task_fingerprint(tmp_path):
    store = tmp_path / "s.duckdb"
    result = invoke("run", "--task", "wine/mlp", "--schedule", "cosine", "--set", "lr=0.05", "--epochs", "3",
                    "--seed", "2", "--store", str(store), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["status"] == "finished" and summary["schedule"]["lr"] == 0.05
    (row,) = lrrec_runs(store)
    assert row["run_id"] == summary["run_id"] and row["seed"] == 2 and row["epochs"] == 3
    assert row["final_metric"] == pytest.approx(summary["final_metric"])
    curve = open_store(store).curves(row["run_id"])
    assert [p["epoch"] for p in curve] == [1, 2, 3] and all(p["lr"] is not None for p in curve)
    (task,) = [t for t in open_store(store).tasks() if t["task_id"] == row["task_id"]]  # the run's own task
    assert task["name"] == "wine/mlp" and task["n_params"] > 0 and task["n_classes"] == 3


def test_diverged_runs_are_recorded_as_diverged(tmp_path):
    store = tmp_path / "s.duckdb"
    result = invoke("run", "--task", "digits/mlp", "--schedule", "constant", "--set", "lr=500", "--epochs", "5",
                    "--store", str(store), "--json")
    assert json.loads(result.output)["status"] == "diverged"
    assert lrrec_runs(store)[0]["status"] == "diverged"


def test_sweep_is_resumable(tmp_path):
    store = tmp_path / "s.duckdb"
    args = ("sweep", "--tasks", "wine/mlp", "--schedules", "families", "--seeds", "2", "--epochs", "2",
            "--store", str(store), "--json")
    first = json.loads(invoke(*args).stdout)
    assert len(first) == 10 and {r["schedule"]["name"] for r in first} == {
        "constant", "step", "cosine", "sgdr", "warmup_cosine"}
    assert json.loads(invoke(*args).stdout) == []  # everything is done already
    assert len(lrrec_runs(store)) == 10
    plain_sgd = json.loads(invoke(*args, "--momentum", "0").stdout)  # another budget: not done yet
    assert len(plain_sgd) == 10 and len(lrrec_runs(store)) == 20


def test_a_sweep_runs_a_repeated_task_or_config_once(tmp_path):
    store = tmp_path / "s.duckdb"
    result = invoke("sweep", "--tasks", "wine/mlp,wine/mlp", "--schedules", "cosine,cosine", "--lr-grid",
                    "0.1,0.1,0.2", "--epochs", "1", "--store", str(store), "--json")
    assert sorted(r["schedule"]["lr"] for r in json.loads(result.stdout)) == [0.1, 0.2]
    assert len(lrrec_runs(store)) == 2


def test_ctrl_c_records_the_run_as_interrupted(tmp_path, monkeypatch):
    from lrrec.runners import execute

    real_train = execute.train

    def interrupted(*args, on_epoch=None, **kwargs):
        def once(record):
            on_epoch(record)
            raise KeyboardInterrupt

        return real_train(*args, on_epoch=once, **kwargs)

    monkeypatch.setattr(execute, "train", interrupted)
    store = tmp_path / "s.duckdb"
    result = invoke("run", "--task", "wine/mlp", "--schedule", "cosine", "--epochs", "5", "--store", str(store))
    assert result.exit_code == 130
    (row,) = lrrec_runs(store)
    assert row["status"] == "interrupted"
    assert len(open_store(store).curves(row["run_id"])) == 1


@pytest.mark.parametrize("args, message", [
    (["run", "--task", "digit/mlp", "--schedule", "cosine"], "unknown task 'digit/mlp'. Did you mean digits/mlp"),
    (["run", "--task", "cifar10/wrn-16-4", "--schedule", "cosine"], "needs --data-root DIR containing cifar-10"),
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--set", "gamma=0.1"], "unknown parameter for cosine"),
    (["sweep", "--tasks", "wine/mlp", "--schedules", "cosine", "--lr-grid", "0.1,fast"], "--lr-grid takes numbers"),
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--device", "bogus"], "--device bogus: not a device"),
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--device", "cuda:7"], "no such CUDA device"),
    (["sweep", "--tasks", "wine/mlp,bogus", "--schedules", "cosine"], "unknown task 'bogus'"),
    (["sweep", "--tasks", ",", "--schedules", "cosine"], "at least one task and one schedule"),
    (["store", "export", "/proc/x.jsonl", "--format", "jsonl"], "cannot write there"),
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--set", "warmup_frac=0.5"], "warmup_frac shapes a warmup"),
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--optimizer", "adam", "--momentum", "0.5"],
     "--momentum applies to SGD"),
    (["run", "--task", "surface/peaks", "--schedule", "constant", "--optimizer", "adam"], "is a 2-D surface"),
    (["sweep", "--tasks", "wine/mlp,surface/peaks", "--schedules", "cosine", "--batch-size", "16"],
     "surface/peaks is a 2-D surface"),  # found before wine/mlp trains
])
def test_user_mistakes_are_one_line_errors(tmp_path, args, message):
    result = invoke(*args, "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output
    if (tmp_path / "s.duckdb").exists():
        assert lrrec_runs(tmp_path / "s.duckdb") == []  # nothing trained before the mistake was caught


def test_a_sweep_says_what_it_does_differently_from_what_was_asked(tmp_path):
    args = ("sweep", "--tasks", "surface/peaks", "--schedules", "cosine,step", "--epochs", "5", "--population",
            "--store", str(tmp_path / "s.duckdb"))
    first = invoke(*args)
    assert first.exit_code == 0 and "note: surface/peaks trains one config at a time: surface/peaks is not a small" \
        in first.output and "2 runs recorded" in first.output
    again = invoke(*args)
    assert "note: skipped 2 run(s) the store already holds" in again.output and "0 runs recorded" in again.output


def test_tasks_list_json():
    rows = json.loads(invoke("tasks", "list", "--json").output)
    names = {r["name"] for r in rows}
    assert {"digits/mlp", "mnist1d/cnn1d", "cifar100/wrn-28-10", "imagenet/efficientnet-b0", "surface/rosenbrock",
            "breast_cancer/mlp"} <= names


@pytest.mark.parametrize("args, message", [
    (["run", "--task", "wine/mlp", "--schedule", "cosine", "--epochs", "0"], "'--epochs': 0 is not in the range"),
    (["nosuch"], "No such command 'nosuch'"),
    (["--bogus"], "No such option '--bogus'"),
    (["store", "--bogus"], "No such option '--bogus'. (see cli store --help)"),
    (["store", "export"], "Missing argument 'OUT'. (see cli store export --help)"),  # CliRunner names it cli
])
def test_a_malformed_command_line_is_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and message in result.output and len(result.output.splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["store"]])
def test_a_bare_group_still_prints_its_help(args):
    result = CliRunner().invoke(cli, args)
    assert "Usage:" in result.output and "Commands:" in result.output
