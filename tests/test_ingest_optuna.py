"""Optuna studies (journal file and SQLite URL) become runs: lrrec's own convention maps exactly."""

import json

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from lrrec.errors import IngestError
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig
from lrrec.store import ingest, open_store

TASK = TaskFingerprint(name="digits/mlp", dataset="digits", model="mlp", n_train=1437, n_classes=10)
BUDGET = {"epochs": 5, "steps": 60, "batch_size": 128, "optimizer": "sgd", "optimizer_params": {"momentum": 0.9}}


def lrrec_study(storage, name, schedules):
    study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
    study.set_user_attr("lrrec.task", TASK.to_dict())
    study.set_user_attr("lrrec.metric", {"name": "val_accuracy", "direction": "max"})
    study.set_user_attr("lrrec.budget", BUDGET)
    if len(schedules) == 1:
        study.set_user_attr("lrrec.schedule", schedules[0])
    return study


def objective(multi):
    def run(trial):
        name = trial.suggest_categorical("schedule", ["cosine", "multistep"]) if multi else "step"
        prefix = f"{name}." if multi else ""
        trial.suggest_float(f"{prefix}lr", 1e-3, 1.0, log=True)
        trial.suggest_float(f"{prefix}gamma", 0.1, 0.9) if name != "cosine" else None
        trial.set_user_attr("lrrec.seed", trial.number)
        for epoch in range(3):
            trial.report(0.1 * epoch + trial.number / 100, epoch)
        if trial.number == 3:
            raise optuna.TrialPruned()
        return 0.5 + trial.number / 100
    return run


def test_single_schedule_journal_study_maps_exactly(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    journal = tmp_path / "study.log"
    study = lrrec_study(JournalStorage(JournalFileBackend(str(journal))), "s1", ["step"])
    study.optimize(objective(False), n_trials=5)
    store = open_store(tmp_path / "s.duckdb")
    report = ingest(store, [str(journal)])
    assert report.files[0].format == "optuna" and report.added == 5
    runs = {r["seed"]: r for r in store.runs(source="optuna")}
    for trial in study.trials:
        run = runs[trial.number]
        expected = ScheduleConfig.from_flat("step", trial.params)
        assert json.loads(run["schedule_config"]) == expected.to_dict()
        assert run["status"] == ("interrupted" if trial.number == 3 else "finished")
        assert run["final_metric"] == trial.value and run["task_id"] == TASK.task_id
        assert (run["epochs"], run["steps"], run["batch_size"]) == (5, 60, 128)
        assert [p["val_metric"] for p in store.curves(run["run_id"])] == list(trial.intermediate_values.values())
    assert ingest(store, [str(journal)]).added == 0


def test_multi_schedule_sqlite_study_and_study_choice(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = lrrec_study(url, "multi", ["cosine", "multistep"])
    study.optimize(objective(True), n_trials=6)
    optuna.create_study(study_name="other", storage=url)
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(IngestError, match="holds 2 studies.*--study"):
        ingest(store, [url])
    ingest(store, [url], study="multi", source="tuning")
    runs = {r["seed"]: r for r in store.runs(source="tuning")}
    for trial in study.trials:
        name = trial.params["schedule"]
        flat = {k.split(".", 1)[1]: v for k, v in trial.params.items() if k != "schedule"}
        assert json.loads(runs[trial.number]["schedule_config"]) == ScheduleConfig.from_flat(name, flat).to_dict()


def test_foreign_study_needs_schedule_and_task_and_maps_by_name(tmp_path):
    url = f"sqlite:///{tmp_path / 'foreign.db'}"
    study = optuna.create_study(study_name="theirs", storage=url, direction="minimize")
    study.enqueue_trial({"learning_rate": 0.05, "momentum": 0.8, "dropout": 0.1})
    study.optimize(lambda t: t.suggest_float("learning_rate", 1e-3, 1) + t.suggest_float("momentum", 0, 1)
                   + t.suggest_float("dropout", 0, 0.5), n_trials=1)
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(IngestError, match="--task"):
        ingest(store, [url], schedule="cosine")
    with pytest.raises(IngestError, match="--schedule"):
        ingest(store, [url], task="cifar10/resnet18")
    ingest(store, [url], schedule="cosine", task="cifar10/resnet18", metric="val_loss")
    (run,) = store.runs(source="optuna")
    assert json.loads(run["schedule_config"])["lr"] == 0.05 and run["metric_name"] == "val_loss"
    assert json.loads(run["optimizer_params"]) == {"momentum": 0.8} and run["direction"] == "min"
    assert json.loads(run["extra"])["unmapped_params"] == {"dropout": 0.1}


def test_missing_or_foreign_storage_is_a_clear_error(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(IngestError, match="no such SQLite file"):
        ingest(store, [f"sqlite:///{tmp_path / 'nope.db'}"])
    (tmp_path / "j.log").write_text("not a journal\n")
    with pytest.raises(IngestError, match="j.log: no Optuna study in it"):
        ingest(store, [str(tmp_path / "j.log")])
