"""Distributed tuning on a real PostgreSQL server: `lrrec tune --n-jobs 4` on one study, one worker killed with
SIGKILL in the middle of a trial (heartbeats every 5 s: a machine as loaded as a shared 2-core one starves a live
worker's heartbeat for seconds); the others finish the study, the dead trial is failed by its heartbeat and
retried with the same parameters, no trial is lost or counted twice, and `lrrec ingest URL --study` brings every
trial into one store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

N_TRIALS = 4
LRREC = [sys.executable, "-m", "lrrec"]


def _running_trial(url: str, study: str, tuner: subprocess.Popen) -> optuna.trial.FrozenTrial:
    """The first trial seen running with an epoch reported (its worker is mid-trial), waiting for one."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and tuner.poll() is None:
        try:
            trials = optuna.load_study(study_name=study, storage=url).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            trials = []
        for trial in trials:
            if trial.state == TrialState.RUNNING and trial.intermediate_values and "lrrec.worker" in trial.user_attrs:
                return trial
        time.sleep(0.1)
    raise AssertionError(f"no trial was seen running (tune exited with {tuner.poll()})")


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_four_workers_finish_the_study_when_one_is_killed_mid_trial(postgres_url, tmp_path):
    store, gathered = tmp_path / "worker.duckdb", tmp_path / "gathered.duckdb"
    tuner = subprocess.Popen([*LRREC, "tune", "--task", "wine/mlp", "--schedule", "cosine", "--epochs", "20",
                              "--n-trials", str(N_TRIALS), "--no-probe", "--seed-top", "0", "--n-jobs", "4",
                              "--heartbeat", "5", "--storage", postgres_url, "--study", "pg", "--store", str(store),
                              "--out", str(tmp_path / "out"), "--quiet"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    victim = _running_trial(postgres_url, "pg", tuner)
    os.kill(int(victim.user_attrs["lrrec.worker"].rsplit(":", 1)[1]), signal.SIGKILL)
    out, err = tuner.communicate(timeout=600)
    assert tuner.returncode == 0, err

    trials = optuna.load_study(study_name="pg", storage=postgres_url).get_trials()
    states = {t.number: t.state for t in trials}
    assert states[victim.number] == TrialState.FAIL
    retries = [t for t in trials if victim.number in RetryHeartbeatStaleTrialCallback.retry_history(t)]
    assert len(retries) == 1 and retries[0].params == victim.params
    assert retries[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(done) == N_TRIALS and TrialState.RUNNING not in states.values()  # none lost, none twice
    assert len(trials) == N_TRIALS + 1

    report = subprocess.run([*LRREC, "ingest", postgres_url, "--study", "pg", "--store", str(gathered), "--json"],
                            capture_output=True, text=True, check=True)
    assert json.loads(report.stdout)["added"] == len(trials)  # the failed trial as a failed run
    again = subprocess.run([*LRREC, "ingest", postgres_url, "--study", "pg", "--store", str(gathered), "--json"],
                           capture_output=True, text=True, check=True)
    assert (json.loads(again.stdout)["added"], json.loads(again.stdout)["duplicates"]) == (0, len(trials))
    from lrrec.store import open_store

    runs = open_store(Path(gathered)).runs(source="optuna")
    assert sorted(r["status"] for r in runs).count("failed") == 1
    assert len([r for r in runs if r["status"] == "finished"]) == sum(t.state == TrialState.COMPLETE for t in trials)
