"""Distributed sweeps: 3 `lrrec sweep --storage --study` workers share a grid's cells through a real PostgreSQL
server and through an Optuna journal file; one is killed with SIGKILL mid-cell, its cell is redone by another,
every cell is trained to completion once, each worker records into its own store, and `lrrec ingest` gathers
exactly those runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import optuna
import pytest
from optuna.trial import TrialState

from lrrec.store import open_store
from lrrec.tuning.job import open_storage

LRREC = [sys.executable, "-m", "lrrec"]
GRID = ["--tasks", "wine/mlp", "--schedules", "cosine", "--lr-grid", "0.01,0.1", "--seeds", "2", "--epochs", "15"]
CELLS = 4


@pytest.mark.parametrize("kind", ["postgres", "journal"])
def test_three_workers_share_the_grid_and_redo_a_killed_workers_cell(kind, request, tmp_path):
    url = request.getfixturevalue("postgres_url") if kind == "postgres" else str(tmp_path / "sweep.journal")
    study = "grid" if kind == "journal" else f"grid-{time.time_ns()}"
    stores = [tmp_path / f"worker{i}.duckdb" for i in range(3)]
    workers = [subprocess.Popen([*LRREC, "sweep", *GRID, "--storage", url, "--study", study, "--heartbeat", "5",
                                 "--store", str(store), "--quiet", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for store in stores]
    storage = open_storage(url)
    victim = _victim_of(storage, study, workers)
    pid = int(victim.user_attrs["lrrec.worker"].rsplit(":", 1)[1])
    os.kill(pid, signal.SIGKILL)
    for worker in workers:
        out, err = worker.communicate(timeout=600)
        assert worker.returncode == (-signal.SIGKILL if worker.pid == pid else 0), err

    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    assert trials[victim.number].state == TrialState.FAIL
    redone = [t for t in trials if t.user_attrs.get("lrrec.redo_of") == victim.number]
    assert len(redone) == 1 and redone[0].user_attrs["lrrec.cell"] == victim.user_attrs["lrrec.cell"]
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    cells = Counter(json.dumps(t.user_attrs["lrrec.cell"], sort_keys=True) for t in done)
    assert len(cells) == CELLS and set(cells.values()) == {1}  # every cell trained to completion once
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}

    run_ids = {t.user_attrs["lrrec.run"]["run_id"] for t in done}
    local = {r["run_id"] for store in stores if store.exists() for r in open_store(store).runs(status="finished")}
    assert run_ids <= local  # each worker recorded its cells in its own store
    gathered = tmp_path / "gathered.duckdb"
    for added in (CELLS, 0):
        report = subprocess.run([*LRREC, "ingest", url, "--study", study, "--store", str(gathered), "--json"],
                                capture_output=True, text=True, check=True)
        assert json.loads(report.stdout)["added"] == added
    assert {r["run_id"] for r in open_store(gathered).runs(source="lrrec")} == run_ids


def _victim_of(storage, study: str, workers: list[subprocess.Popen]) -> optuna.trial.FrozenTrial:
    """The first cell seen running on a worker (its worker is mid-cell), waiting for one."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and any(w.poll() is None for w in workers):
        try:
            trials = optuna.load_study(study_name=study, storage=storage).get_trials(deepcopy=False)
        except KeyError:
            trials = []
        running = [t for t in trials if t.state == TrialState.RUNNING and "lrrec.worker" in t.user_attrs]
        if running:
            return running[0]
        time.sleep(0.1)
    raise AssertionError("no cell was seen running")


def test_a_shared_sweep_trains_with_its_budget_options_and_refuses_a_worker_with_others(tmp_path):
    from click.testing import CliRunner

    from lrrec.cli import cli

    url, store = str(tmp_path / "sweep.journal"), tmp_path / "w.duckdb"
    grid = ["--tasks", "wine/mlp", "--schedules", "cosine", "--lr-grid", "0.1", "--seeds", "1", "--epochs", "2",
            "--storage", url, "--study", "wd", "--store", str(store), "--quiet"]
    first = CliRunner().invoke(cli, ["sweep", *grid, "--weight-decay", "0.01"])
    assert first.exit_code == 0, first.output
    (run,) = open_store(store).runs(source="lrrec")
    assert json.loads(run["optimizer_params"])["weight_decay"] == 0.01
    other = CliRunner().invoke(cli, ["sweep", *grid, "--weight-decay", "0.5"])
    (line,) = other.output.strip().splitlines()
    assert other.exit_code != 0 and "other budget options" in line and "--weight-decay" in line
