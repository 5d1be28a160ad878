"""`--weight-decay` on run / sweep / probe / tune, and a warmup given in steps or epochs (`lrrec run --set`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.errors import InvalidValueError
from lrrec.schedules import ScheduleConfig
from lrrec.schedules.units import warmup_as_fraction
from lrrec.store.store import open_store
from lrrec.tuning.job import TuneJob


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_run_records_the_weight_decay_and_a_warmup_in_epochs_as_its_fraction(tmp_path):
    store = tmp_path / "s.duckdb"
    result = invoke("run", "--task", "wine/mlp", "--schedule", "cosine", "--set", "warmup=linear", "--set",
                    "warmup_epochs=1", "--epochs", "4", "--weight-decay", "0.01", "--store", str(store), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["schedule"]["warmup"]["frac"] == 0.25
    (row,) = open_store(store).runs(source="lrrec")
    assert json.loads(row["optimizer_params"])["weight_decay"] == 0.01
    lrs = [p["lr"] for p in open_store(store).curves(row["run_id"])]
    assert lrs[0] < lrs[1]  # the first epoch warms up: its last update is still below the peak


def test_a_warmup_in_steps_is_the_fraction_of_the_tasks_updates(tmp_path):
    # wine/mlp: 142 training samples at batch 32 = 4 updates per epoch; 5 epochs = 20 updates
    result = invoke("run", "--task", "wine/mlp", "--schedule", "warmup_cosine", "--set", "warmup_steps=3",
                    "--epochs", "5", "--store", str(tmp_path / "s.duckdb"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["schedule"]["params"]["warmup_frac"] == pytest.approx(3 / 20)


@pytest.mark.parametrize("settings, message", [
    (["warmup_epochs=9"], "warmup_epochs must be a number from 0 to the budget's 4 epochs, got 9"),
    (["warmup_steps=1", "warmup_epochs=1"],
     "give the warmup's length once: warmup_frac, warmup_steps or warmup_epochs"),
    (["warmup_epochs=true"], "warmup_epochs must be a number from 0 to the budget's 4 epochs, got True"),
])
def test_a_bad_warmup_length_is_one_line_and_records_nothing(tmp_path, settings, message):
    store = tmp_path / "s.duckdb"
    args = [a for s in settings for a in ("--set", s)]
    result = invoke("run", "--task", "wine/mlp", "--schedule", "warmup_cosine", *args, "--epochs", "4",
                    "--store", str(store))
    assert result.exit_code == 1 and result.output.strip() == f"Error: {message}"
    assert not store.exists()


def test_warmup_as_fraction_keeps_other_settings():
    settings = warmup_as_fraction({"lr": 0.1, "warmup_steps": 50}, epochs=10, steps_per_epoch=20)
    assert settings == {"lr": 0.1, "warmup_frac": 0.25}
    config = ScheduleConfig.create("cosine").with_settings({"warmup": "linear", **settings})
    assert config.warmup_steps(200) == 50
    with pytest.raises(InvalidValueError, match="once"):
        warmup_as_fraction({"warmup_frac": 0.1, "warmup_steps": 5}, 10, 20)


def test_sweep_and_tune_take_the_weight_decay(tmp_path):
    store = tmp_path / "s.duckdb"
    result = invoke("sweep", "--tasks", "wine/mlp", "--schedules", "cosine", "--epochs", "2", "--weight-decay",
                    "0", "--store", str(store), "--json")
    assert result.exit_code == 0, result.output
    (row,) = open_store(store).runs(source="lrrec")
    assert json.loads(row["optimizer_params"])["weight_decay"] == 0
    assert TuneJob.for_task("wine/mlp", weight_decay=0.02).weight_decay == 0.02
    result = invoke("tune", "--task", "wine/mlp", "--schedule", "cosine", "--n-trials", "1", "--epochs", "2",
                    "--no-probe", "--weight-decay", "0.02", "--out", str(tmp_path / "t"), "--store", str(store),
                    "--json")
    assert result.exit_code == 0, result.output
    tuned = [r for r in open_store(store).runs() if (r["source_ref"] or "").startswith("optuna")]
    assert tuned and json.loads(tuned[0]["optimizer_params"])["weight_decay"] == 0.02
    assert invoke("probe", "--task", "wine/mlp", "--weight-decay", "-1").exit_code == 2  # click's range check
