"""`lrrec tune`: real Optuna studies over the schedule library, seeded, shared by processes, recorded."""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from stores import drop_all_runs

from lrrec.catalog import catalog_fingerprint
from lrrec.cli import cli
from lrrec.runners.tasks import get_task
from lrrec.schedules import ScheduleConfig, list_specs, search_space
from lrrec.store import ingest, open_store
from lrrec.tuning.job import TuneJob, open_storage, resolve_schedules
from lrrec.tuning.space import LR_BAND, draw_config, plan_study, seed_study, space_of, transferred_space, trial_params
from lrrec.tuning.study import open_study
from lrrec.tuning.tune import tune

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("schedules", [("cosine",), resolve_schedules(None, None)], ids=["one", "all"])
def test_enqueued_params_reproduce_every_default_config(schedules):
    study = optuna.create_study(direction="maximize")
    for name in schedules:
        config = ScheduleConfig.create(name, lr=0.05)
        params = trial_params(config, schedules)
        assert params is not None, name
        study.enqueue_trial(params)
        drawn = draw_config(study.ask(), schedules)
        space = search_space(name)
        for key, value in drawn.flat().items():  # equal, or clipped into the search range
            want = config.flat()[key]
            if space[key].search and not space[key].search[0] <= want <= space[key].search[1]:
                assert space[key].search[0] <= value <= space[key].search[1]
            else:
                assert value == pytest.approx(want), (name, key)


def test_resolve_schedules_by_family_and_errors():
    assert set(resolve_schedules(None, "cyclical")) == {s.name for s in list_specs("cyclical")}
    assert resolve_schedules("1cycle", None) == ("one_cycle",)
    with pytest.raises(Exception, match="either --schedule or --families"):
        resolve_schedules("cosine", "smooth")


def test_transferred_space_spans_the_suggested_schedules_and_lrs():
    configs = [ScheduleConfig.create("cosine", lr=0.1), ScheduleConfig.create("htd", lr=0.3),
               ScheduleConfig.create("cosine", lr=0.05, params={"min_lr_ratio": 0.01})]
    schedules, (low, high) = transferred_space(configs)
    assert schedules == ("cosine", "htd")
    assert low == pytest.approx(0.05 / LR_BAND) and high == pytest.approx(0.3 * LR_BAND)
    study = optuna.create_study()
    for config in configs:  # the suggestions themselves lie inside the space, unclipped
        study.enqueue_trial(trial_params(config, schedules, (low, high)))
        assert draw_config(study.ask(), schedules, (low, high)) == config


@pytest.mark.parametrize("space", ["transferred", "library"])
def test_plan_study_narrows_only_a_transferred_space_on_real_evidence(tmp_path, space):
    store = open_store(tmp_path / "store.duckdb")  # the shipped corpus: digits/cnn is similar to digits/mlp
    job = TuneJob("digits/mlp", resolve_schedules(None, None), "unused.journal", "s", str(store.path))
    planned, seeded = plan_study(job, store, catalog_fingerprint("digits", "mlp"),
                                 get_task("digits/mlp").budget, 4, space)
    assert len(seeded) == 4
    if space == "library":
        assert planned == job
    else:
        assert planned.schedules == tuple(c.name for c in seeded)
        assert planned.lr_range == (min(c.lr for c in seeded) / LR_BAND, max(c.lr for c in seeded) * LR_BAND)
    drop_all_runs(store)  # no evidence: the fallback default does not narrow the space
    planned, seeded = plan_study(job, store, catalog_fingerprint("digits", "mlp"),
                                 get_task("digits/mlp").budget, 4, space)
    assert planned == job and [c.name for c in seeded] == ["warmup_cosine"]


def test_a_probed_lr_moves_the_seeds_and_widens_the_lr_range(tmp_path):
    store = open_store(tmp_path / "store.duckdb")
    job = TuneJob("digits/mlp", resolve_schedules(None, None), "unused.journal", "s", str(store.path))
    target, budget = catalog_fingerprint("digits", "mlp"), get_task("digits/mlp").budget
    plain, transferred = plan_study(job, store, target, budget, 3, "transferred")
    probed, seeded = plan_study(job, store, target, budget, 3, "transferred", lambda: 5.0)
    assert [c.lr for c in seeded] == [5.0] * 3
    assert [c.with_settings({"lr": 1.0}) for c in seeded] == [c.with_settings({"lr": 1.0}) for c in transferred]
    assert probed.schedules == plain.schedules
    assert probed.lr_range == (plain.lr_range[0], 5.0 * LR_BAND)
    probed, seeded = plan_study(job, store, target, budget, 3, "transferred", lambda: None)  # inconclusive
    assert probed == plain and seeded == transferred


def test_suggestions_that_a_probed_lr_makes_equal_are_seeded_once(tmp_path):
    store = open_store(tmp_path / "store.duckdb")
    job = TuneJob("digits/mlp", ("cosine",), "unused.journal", "s", str(store.path))
    target, budget = catalog_fingerprint("digits", "mlp"), get_task("digits/mlp").budget
    _, unprobed = plan_study(job, store, target, budget, 5, "transferred")
    _, seeded = plan_study(job, store, target, budget, 5, "transferred", lambda: 0.3)
    assert len({c.with_settings({"lr": 0.3}).content_hash() for c in unprobed}) < len(unprobed)  # they collapse
    assert len({c.content_hash() for c in seeded}) == len(seeded) >= 1 and {c.lr for c in seeded} == {0.3}
    study = optuna.create_study()
    assert seed_study(study, seeded, job.schedules) == len(seeded) == len(study.get_trials())


def _open(storage: str, top: int, pause: float) -> tuple[tuple[str, ...], bool]:
    """A worker opening study "race" with its own plan (its top `top` schedules); what it ends up searching."""
    job = TuneJob("wine/mlp", resolve_schedules(None, None), storage, "race", "unused")

    def plan() -> tuple[TuneJob, list[ScheduleConfig]]:
        time.sleep(pause)  # planning (a recommendation, a range test) takes a while
        configs = [ScheduleConfig.create(name, lr=0.1) for name in job.schedules[:top]]
        return replace(job, schedules=tuple(c.name for c in configs), lr_range=(0.01, 1.0)), configs

    _, opened, _, created = open_study(job, "max", plan, lambda planned: {"lrrec.space": space_of(planned)})
    return opened.schedules, created


def test_workers_started_at_once_agree_on_the_creators_space(tmp_path):
    storage = str(tmp_path / "study.journal")
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(_open, [storage, storage], [1, 3], [0.5, 0.5]))
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]  # one space, whoever planned faster
    study = optuna.load_study(study_name="race", storage=open_storage(storage))
    assert tuple(study.user_attrs["lrrec.space"]["schedules"]) == results[0][0]
    assert len(study.get_trials()) == len(results[0][0])  # only the creator enqueued its seeds


def test_reopening_a_study_keeps_its_space_without_planning(tmp_path):
    storage = str(tmp_path / "study.journal")
    first, created = _open(storage, 2, 0.0)

    def must_not_plan() -> tuple[TuneJob, list[ScheduleConfig]]:
        raise AssertionError("a resumed study is not planned (or probed) again")

    job = TuneJob("wine/mlp", resolve_schedules(None, "cyclical"), storage, "race", "unused")
    _, again, seeded, created_again = open_study(job, "max", must_not_plan, lambda planned: {})
    assert created and not created_again and again.schedules == first and seeded == []
    assert again.lr_range == (0.01, 1.0)


def test_a_summary_as_plain_data_keeps_the_json_keys_and_round_trips_its_configs():
    from lrrec.runners.probes import RangeTest
    from lrrec.tuning.summary import BestTrial, TrialRecord, TuneSummary

    config = ScheduleConfig.create("cosine", lr=0.05).with_settings({"warmup": "linear", "warmup_frac": 0.05})
    inconclusive = RangeTest("wine/mlp", [1e-3, 1e-2], [1.0, 2.0], None, None, True, "the loss did not fall")
    summary = TuneSummary("s", "s.journal", "wine/mlp", {"complete": 1, "fail": 1},
                          {"kind": "library", "schedules": ["cosine"], "lr_range": None}, [config],
                          BestTrial(0, 0.9, "r0", config),
                          [TrialRecord(0, 0.9, "complete", "r0"), TrialRecord(1, None, "fail", None)], inconclusive,
                          False)
    data = summary.to_dict()
    assert list(data) == ["study", "storage", "task", "trials", "space", "seeded", "best", "history", "probe",
                          "resumed"]
    assert data["best"] == {"trial": 0, "value": 0.9, "run_id": "r0", "config": config.to_dict()}
    assert data["history"][1] == {"trial": 1, "value": None, "state": "fail", "run_id": None}
    assert data["probe"] == {"steepest_lr": None, "note": "the loss did not fall"}
    assert ScheduleConfig.from_dict(data["seeded"][0]) == config and json.loads(json.dumps(data)) == data
    bare = replace(summary, best=None, probe=None, seeded=[]).to_dict()
    assert (bare["best"], bare["probe"], bare["seeded"]) == (None, None, [])


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Two worker processes share one journal-file study on wine/mlp (2 epochs per trial)."""
    folder = tmp_path_factory.mktemp("tune")
    job = TuneJob("wine/mlp", resolve_schedules(None, "smooth,warmup"), str(folder / "study.journal"), "wine-test",
                  str(folder / "store.duckdb"), epochs=2)
    summary = tune(job, catalog_fingerprint("wine", "mlp"), n_trials=8, seed_top=2, n_jobs=2)
    return job, summary


def test_workers_share_the_study_without_losing_or_repeating_a_trial(tuned):
    job, summary = tuned
    trials = summary.history
    assert len(trials) >= 8 and len({t.trial for t in trials}) == len(trials)
    assert all(t.state in ("complete", "pruned") for t in trials)
    runs = {r["source_ref"]: r for r in open_store(job.store_path).runs(source="lrrec")}
    for t in trials:  # every finished trial is in the experience store, once
        run = runs[f"optuna {job.study} trial {t.trial}"]
        assert run["run_id"] == t.run_id
        assert (run["status"] == "finished") == (t.state == "complete")  # a run that did not finish is pruned
    assert len({t.run_id for t in trials}) == len(trials)


def test_every_trial_lies_in_the_transferred_space(tuned):
    _, summary = tuned
    space = summary.space
    assert space["kind"] == "transferred" and space["schedules"] == [c.name for c in summary.seeded]
    runs = {r["run_id"]: json.loads(r["schedule_config"]) for r in open_store(tuned[0].store_path).runs(source="lrrec")}
    for trial in summary.history:
        config = runs[trial.run_id]
        assert config["name"] in space["schedules"]
        assert space["lr_range"][0] <= config["lr"] <= space["lr_range"][1]


def test_the_suggested_configs_are_evaluated_first(tuned):
    job, summary = tuned
    study = optuna.load_study(study_name=job.study, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(job.storage)))
    first = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)[:2]
    for trial, seeded in zip(first, summary.seeded):
        assert trial.params["schedule"] == seeded.name
        assert trial.params[f"{seeded.name}.lr"] == pytest.approx(seeded.lr)


def test_resuming_adds_trials_without_seeding_again(tuned):
    job, _ = tuned
    again = tune(job, catalog_fingerprint("wine", "mlp"), n_trials=10, seed_top=2)
    assert again.seeded == [] and len(again.history) >= 10
    assert again.space == tuned[1].space  # kept, though the store now holds this task's trials


def test_ingesting_the_study_maps_trials_to_the_same_configs(tuned, tmp_path):
    job, _ = tuned
    store = open_store(tmp_path / "other.duckdb")
    report = ingest(store, [job.storage], study=job.study)
    assert report.added == len(optuna.load_study(study_name=job.study, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(job.storage))).get_trials())
    imported = {json.loads(r["extra"])["optuna_trial"]: json.loads(r["schedule_config"])
                for r in store.runs(source="optuna")}
    tuned_runs = {r["source_ref"]: json.loads(r["schedule_config"]) for r in open_store(job.store_path).runs(source="lrrec")}
    for number, config in imported.items():
        assert config == tuned_runs[f"optuna {job.study} trial {number}"]


def test_seeds_beyond_the_trials_run_first_when_the_study_is_resumed(tmp_path):
    job = TuneJob("wine/mlp", resolve_schedules(None, None), str(tmp_path / "study.journal"), "short",
                  str(tmp_path / "store.duckdb"), epochs=1)
    summary = tune(job, catalog_fingerprint("wine", "mlp"), n_trials=2, seed_top=4, probe=False)
    assert summary.trials == {"complete": 2, "waiting": 2}
    resumed = tune(job, catalog_fingerprint("wine", "mlp"), n_trials=4, seed_top=4, probe=False)
    assert resumed.trials == {"complete": 4}
    study = optuna.load_study(study_name=job.study, storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(job.storage)))
    ran = [t.params["schedule"] for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)]
    assert ran == [c.name for c in summary.seeded]


def test_a_study_resumes_only_for_its_own_task_and_budget(tmp_path):
    common = ["tune", "--schedule", "cosine", "--n-trials", "1", "--seed-top", "0", "--no-probe", "--study", "s",
              "--storage", str(tmp_path / "s.journal"), "--store", str(tmp_path / "s.duckdb"), "--out",
              str(tmp_path / "out")]
    first = CliRunner().invoke(cli, [*common, "--task", "wine/mlp", "--epochs", "1"])
    assert first.exit_code == 0, first.output
    for other, text in ((["--task", "wine/mlp", "--epochs", "2"], "was tuned with epochs 1, not 2;"),
                        (["--task", "breast_cancer/mlp", "--epochs", "1"], "with task wine/mlp, not breast_cancer/mlp")):
        result = CliRunner().invoke(cli, [*common, *other])
        assert result.exit_code == 1 and text in result.output and len(result.output.splitlines()) == 1
    again = CliRunner().invoke(cli, [*common[:4], "2", *common[5:], "--task", "wine/mlp", "--epochs", "1", "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["trials"] == {"complete": 2}


def test_ctrl_c_ends_the_trial_quietly_and_stops_the_worker(tmp_path, monkeypatch, capfd):
    from lrrec.runners import execute

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(execute, "run_one", interrupted)
    job = TuneJob("wine/mlp", ("cosine",), str(tmp_path / "s.journal"), "s", str(tmp_path / "s.duckdb"), epochs=1)
    with pytest.raises(KeyboardInterrupt):
        tune(job, catalog_fingerprint("wine", "mlp"), n_trials=3, seed_top=0, probe=False)
    study = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(job.storage)))
    assert [t.state.name for t in study.get_trials()] == ["PRUNED"]
    assert "Traceback" not in capfd.readouterr().err


def test_cli_tune_writes_figures_and_json(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["tune", "--task", "wine/mlp", "--schedule", "cosine", "--n-trials", "3",
                                      "--epochs", "2", "--seed-top", "1", "--out", str(out),
                                      "--store", str(tmp_path / "s.duckdb"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["best"]["config"]["name"] == "cosine" and len(summary["history"]) == 3
    assert {p.name for p in out.glob("*.png")} == {"history.png", "importances.png", "slices.png", "best_lr.png",
                                                   "curves.png"}


@pytest.mark.parametrize("args, message", [
    (["--task", "wine/mlp", "--schedule", "cosine"], "give --n-trials or --timeout"),
    (["--task", "wine/mlp", "--schedule", "cosine", "--families", "smooth", "--n-trials", "2"], "either --schedule"),
    (["--dataset", "cifar100", "--model", "vgg", "--n-trials", "2"], "no built-in task trains cifar100/vgg"),
    (["--task", "wine/mlp", "--n-trials", "2", "--storage", "study.txt"], "journal file ending in"),
    (["--task", "wine/mlp", "--n-trials", "2", "--storage", "bogus://x"], "cannot open it"),
    (["--task", "wine/mlp", "--n-trials", "2", "--storage", "sqlite:////no/such/folder/x.db"], "cannot open it"),
    (["--task", "wine/mlp", "--n-trials", "2", "--device", "cuda:3"], "no such CUDA device"),
    (["--task", "wine/mlp", "--n-trials", "2", "--optimizer", "adam", "--momentum", "0.9"], "--momentum applies"),
])
def test_cli_tune_errors(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["tune", *args, "--store", str(tmp_path / "s.duckdb"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()  # nothing began, so no empty --out folder is left
    if "study.txt" in args:  # a storage named wrongly is refused before a store is made
        assert not (tmp_path / "s.duckdb").exists()


def test_the_same_seed_draws_the_same_trials_in_every_process(tmp_path):
    """The worker loads the study with the seeded sampler, so two studies from scratch draw alike."""
    drawn = []
    for name in ("a", "b"):
        args = ["tune", "--task", "surface/rosenbrock", "--schedule", "cosine", "--seed-top", "0", "--no-probe",
                "--n-trials", "3", "--quiet", "--study", name, "--out", str(tmp_path / name),
                "--store", str(tmp_path / f"{name}.duckdb")]
        assert CliRunner().invoke(cli, args).exit_code == 0
        study = optuna.load_study(study_name=name, storage=open_storage(str(tmp_path / name / "study.journal")))
        drawn.append([t.params for t in study.trials])
    assert drawn[0] == drawn[1] and len(drawn[0]) == 3


def test_a_job_for_a_task_names_its_study_folder_journal_and_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LRREC_STORE", str(tmp_path / "env.duckdb"))
    job = TuneJob.for_task("my_tasks:make", families="smooth,warmup", epochs=2, device="cpu")
    assert (job.study, job.out) == ("lrrec-my_tasks-make-smooth,warmup", "tune-lrrec-my_tasks-make-smooth,warmup")
    assert job.storage == str(Path(job.out) / "study.journal") and job.store_path == str(tmp_path / "env.duckdb")
    assert job.schedules == resolve_schedules(None, "smooth,warmup") and (job.epochs, job.device) == (2, "cpu")
    assert TuneJob.for_task("digits/mlp", schedule="1cycle").study == "lrrec-digits-mlp-1cycle"
    assert TuneJob.for_task("digits/mlp").study == "lrrec-digits-mlp-all"
    named = TuneJob.for_task("digits/mlp", schedule="cosine", study="s", out=f"{tmp_path}/o/", storage="sqlite:///s.db",
                             store_path=str(tmp_path / "s.duckdb"))
    assert (named.study, named.out, named.storage) == ("s", str(tmp_path / "o"), "sqlite:///s.db")
    assert named.schedules == ("cosine",) and named.store_path == str(tmp_path / "s.duckdb")
    assert TuneJob.for_task("digits/mlp", out=str(tmp_path / "o")).storage == str(tmp_path / "o" / "study.journal")
    with pytest.raises(Exception, match="either --schedule or --families"):
        TuneJob.for_task("digits/mlp", schedule="cosine", families="smooth")
