"""`tune`: an Optuna study over schedule hyperparameters, seeded with the recommender's top suggestions.

The search space comes from the schedule library: one schedule's parameters (trial parameters are the flat
keys of `ScheduleConfig.from_flat`), or several schedules as a categorical `schedule` with conditional
parameters named `<schedule>.<key>`. By default the space is transferred from the recommendation: the
schedules of the top suggestions, with the LR searched within a factor `LR_BAND` of their LRs (the other
parameters keep the library's ranges): a search space learned from similar tasks, as in Perrone et al.,
NeurIPS 2019; `benchmarks/bench_tune.py` measures it against the library space. A new study first runs an
LR range test on the task and enqueues the suggestions at its steepest-descent LR. The study's user attributes
(`lrrec.task`, `lrrec.metric`, `lrrec.budget`, `lrrec.space`, `lrrec.schedule`) make `lrrec ingest` map it back
exactly. Every trial trains with a real runner, reports each epoch for pruning, and is recorded in the
experience store as it finishes. Several processes (or machines) share a study through its storage: a
journal file on one machine, an RDB URL across machines.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lrrec.errors import InvalidValueError, LrrecError
from lrrec.fingerprint import TaskFingerprint
from lrrec.paths import writable_folder
from lrrec.recommender.suggest import RangeProbe, suggest_for_task
from lrrec.schedules import (
    ScheduleConfig,
    get_spec,
    list_specs,
    search_space,
    suggest_config,
)
from lrrec.schedules.params import is_active

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")
LR_BAND = 3.0  # a transferred space searches LRs from (smallest suggested LR / 3) to (largest x 3)
SPACES = ("transferred", "library")
SPACE_WAIT_S = 120.0  # how long a worker waits for the creator of a study to record its space
POLL_S = 2.0  # how often the progress of worker processes is read from the study


@dataclass(frozen=True)
class TuneJob:
    """Everything a tuning run needs (plain data, so it crosses to worker processes)."""

    task: str
    schedules: tuple[str, ...]
    storage: str
    study: str
    store_path: str
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    data_root: str | None = None
    device: str | None = None
    seed: int = 0
    momentum: float | None = None
    lr_range: tuple[float, float] | None = None  # None: the library's LR range
    out: str | None = None  # the folder for the figures and summary, checked before any trial runs

    @classmethod
    def for_task(cls, task: str, *, schedule: str | None = None, families: str | None = None,
                 study: str | None = None, storage: str | None = None, out: str | None = None,
                 store_path: str | None = None, **fields: Any) -> TuneJob:
        """The job `lrrec tune` runs on `task`: the schedules `resolve_schedules` picks, and by default the study
        `lrrec-TASK-SCHEDULES`, the folder `tune-STUDY`, a journal `study.journal` in it, and the store that
        `store_path`, `$LRREC_STORE` or the user data folder names; `fields` sets the others (epochs, device, ...)."""
        from lrrec.store.store import chosen_store_path

        schedules = resolve_schedules(schedule, families)
        study = study or f"lrrec-{task.replace('/', '-').replace(':', '-')}-{schedule or families or 'all'}"
        folder = Path(out or f"tune-{study}")
        return cls(task, schedules, storage or str(folder / "study.journal"), study,
                   str(chosen_store_path(store_path)), out=str(folder), **fields)


def open_storage(url: str) -> Any:
    """An Optuna storage: a journal file (path ending .log/.journal/.jsonl) or an RDB URL (sqlite://, postgresql://)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if "://" in url:
        try:
            return optuna.storages.RDBStorage(url)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's many ways to fail on a URL
            raise InvalidValueError(f"--storage {url}: cannot open it ({type(exc).__name__}: {exc}); check the "
                                    f"URL and install its driver (e.g. pip install psycopg2-binary)") from None
    if not url.endswith(JOURNAL_SUFFIXES):
        raise InvalidValueError(f"--storage {url}: give a journal file ending in {', '.join(JOURNAL_SUFFIXES)} "
                                f"or an RDB URL such as sqlite:///study.db or postgresql://host/db")
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(url))


def resolve_schedules(schedule: str | None, families: str | None) -> tuple[str, ...]:
    """The schedules to search: one by name, or every schedule of the given families (default: all)."""
    if schedule and families:
        raise InvalidValueError("give either --schedule or --families, not both")
    if schedule:
        return (get_spec(schedule).name,)
    wanted = [f.strip() for f in (families or "").split(",") if f.strip()]
    names = [s.name for family in (wanted or [None]) for s in list_specs(family)]
    return tuple(dict.fromkeys(names))


def transferred_space(suggestions: list[ScheduleConfig],
                      lrs: list[float] | None = None) -> tuple[tuple[str, ...], tuple[float, float]]:
    """The schedules of the suggested configs and an LR range spanning `lrs` (default: theirs), widened by
    `LR_BAND`."""
    lrs = lrs or [c.lr for c in suggestions]
    return tuple(dict.fromkeys(c.name for c in suggestions)), (min(lrs) / LR_BAND, max(lrs) * LR_BAND)


def draw_config(trial: Any, schedules: tuple[str, ...], lr_range: tuple[float, float] | None = None) -> ScheduleConfig:
    """The trial's schedule config (parameter naming as in the module docstring)."""
    if len(schedules) == 1:
        return suggest_config(trial, schedules[0], lr_range=lr_range)
    name = trial.suggest_categorical("schedule", list(schedules))
    return suggest_config(trial, name, prefix=f"{name}.", lr_range=lr_range)


def trial_params(config: ScheduleConfig, schedules: tuple[str, ...],
                 lr_range: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """The trial parameters that reproduce `config` (clipped to the search space), or None if it lies outside."""
    if config.name not in schedules:
        return None
    space, flat = search_space(config.name, lr_range=lr_range), config.flat()
    params: dict[str, Any] = {}
    for key, param in space.items():
        if not param.searchable or not is_active(param, flat):
            continue
        value = flat[key]
        if param.kind == "fractions":
            value = ",".join(f"{x:g}" for x in value)
            if value not in [",".join(f"{x:g}" for x in option) for option in param.search_choices]:
                return None
        elif param.kind in ("bool", "choice"):
            if value not in (param.search_choices or param.choices or (False, True)):
                return None
        else:
            low, high = param.search
            value = min(max(value, low), high)
            value = round(value) if param.kind == "int" else float(value)
        params[key] = value
    prefix = f"{config.name}." if len(schedules) > 1 else ""
    out = {prefix + k: v for k, v in params.items()}
    if prefix:
        out["schedule"] = config.name
    return out


def study_settings(job: TuneJob) -> dict[str, Any]:
    """The storage, name, seeded sampler and pruner every process opens the study with (a worker that loaded it
    without them would draw unseeded trials)."""
    import optuna

    return {"storage": open_storage(job.storage), "study_name": job.study,
            "sampler": optuna.samplers.TPESampler(seed=job.seed),
            "pruner": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)}


def open_study(job: TuneJob, direction: str, plan: Callable[[], tuple[TuneJob, list[ScheduleConfig]]],
               attrs: Callable[[TuneJob], dict[str, Any]]) -> tuple[Any, TuneJob, list[ScheduleConfig], bool]:
    """Create the study with the space and seeds `plan` returns, or load it with the space it began with.

    Returns the study, the job with its space, the configs enqueued, and whether this call created the study.
    Creating a study is atomic in Optuna's storages, so workers started at once on several machines agree on
    one space (the creator's), and `plan` (a recommendation, an LR range test) runs only for a new study.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = study_settings(job)
    try:
        study = optuna.load_study(**settings)
    except KeyError:  # no such study yet: plan it, then try to be the one who creates it
        planned, seeds = plan()
        try:
            study = optuna.create_study(**settings, direction="maximize" if direction == "max" else "minimize")
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(**settings)
        else:
            for key, value in attrs(planned).items():
                study.set_user_attr(key, value)
            seed_study(study, seeds, planned.schedules, planned.lr_range)
            return study, planned, seeds, True
    return study, _kept_space(study, job), [], False


def check_resumable(study: Any, name: str, wanted: dict[str, Any]) -> None:
    """Refuse to resume a study for another task or training budget (its trials would not be comparable)."""
    from lrrec.runners.tasks import is_user_task

    recorded = study.user_attrs
    old = {"task": recorded.get("lrrec.task", {}).get("name"), **recorded.get("lrrec.budget", {})}
    new = {"task": wanted["lrrec.task"]["name"], **wanted["lrrec.budget"]}
    if is_user_task(str(new["task"])):  # a user task's loader sets its batch size (older lrrec recorded 1 there)
        old.pop("batch_size", None)
    differ = [k for k in new if old.get(k) is not None and json.dumps(old[k], sort_keys=True) !=
              json.dumps(new[k], sort_keys=True)]  # attributes a study from an older lrrec lacks are not compared
    if differ:
        raise InvalidValueError(f"study {name} was tuned with " + ", ".join(f"{k} {old[k]}" for k in differ) +
                                ", not " + ", ".join(f"{new[k]}" for k in differ) + "; resume it with the same "
                                "--task and training options, or start another --study")


def _kept_space(study: Any, job: TuneJob) -> TuneJob:
    """The job in the space an existing study began with (its `lrrec.space`), waiting for its creator to record it."""
    waited = 0.0
    while "lrrec.space" not in study.user_attrs:
        if study.get_trials(deepcopy=False):  # a study lrrec tune began before spaces were recorded
            return job
        if waited >= SPACE_WAIT_S:
            raise LrrecError(f"study {job.study} records no lrrec.space after {SPACE_WAIT_S:.0f} s: it was not "
                             f"created by lrrec tune, or its creator stopped while planning; use another --study")
        time.sleep(0.5)
        waited += 0.5
    kept = study.user_attrs["lrrec.space"]
    return replace(job, schedules=tuple(kept["schedules"]),
                   lr_range=tuple(kept["lr_range"]) if kept["lr_range"] else None)


def plan_study(job: TuneJob, store: Any, target: TaskFingerprint, budget: Any, seed_top: int, space: str,
               probe: Callable[[], float | None] | None = None) -> tuple[TuneJob, list[ScheduleConfig]]:
    """The job with the search space of a new study, and the suggested configs to enqueue.

    `probe` returns an LR measured on the task itself (see `suggest_for_task`): the suggestions are enqueued at
    that LR, and a transferred LR range spans it too.
    """
    if space not in SPACES:
        raise InvalidValueError(f"--space {space}: choose one of {', '.join(SPACES)}")
    if not seed_top:
        return job, []
    rec = suggest_for_task(store, target, optimizer=budget.optimizer, batch_size=budget.batch_size,
                           epochs=budget.epochs, top=seed_top, only=job.schedules, probe=probe)
    configs = [ScheduleConfig.from_dict(s.config) for s in rec.suggestions]
    lrs = [*rec.replaced_lrs, *(c.lr for c in configs)]
    if rec.replaced_lrs:
        configs = list({c.content_hash(): c for c in configs}.values())  # suggestions that differed only in LR
    if space == "transferred" and rec.fallback is None:  # a fallback default is no evidence to narrow on
        schedules, lr_range = transferred_space(configs, lrs)
        job = replace(job, schedules=schedules, lr_range=lr_range)
    return job, [c for c in configs if trial_params(c, job.schedules, job.lr_range) is not None]


def space_of(job: TuneJob) -> dict[str, Any]:
    """The `lrrec.space` study attribute: the schedules searched and the LR range (None: the library's)."""
    return {"kind": "library" if job.lr_range is None else "transferred", "schedules": list(job.schedules),
            "lr_range": list(job.lr_range) if job.lr_range else None}


def seed_study(study: Any, suggestions: list[ScheduleConfig], schedules: tuple[str, ...],
               lr_range: tuple[float, float] | None = None) -> int:
    """Enqueue the suggested configs (in the search space) so they are evaluated first; returns how many."""
    count = 0
    for config in suggestions:
        params = trial_params(config, schedules, lr_range)
        if params is not None:
            study.enqueue_trial(params, skip_if_exists=True)
            count += 1
    return count


def run_worker(job: TuneJob, n_trials: int | None, timeout: float | None,
               progress: TrialProgress | None = None) -> None:
    """One worker: pull trials from the shared study until `n_trials` of the study are done (or `timeout`).

    `progress` hears of each finished trial; in a terminal, each trial's epochs get a bar of their own.
    """
    import optuna

    from lrrec.runners.execute import StopRun, budget_for, run_one
    from lrrec.runners.tasks import get_task
    from lrrec.store.store import open_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = get_task(job.task)
    budget = budget_for(task, job.epochs, job.batch_size, job.optimizer, job.momentum)
    store = open_store(job.store_path)
    study = optuna.load_study(**study_settings(job))
    interrupted: list[int] = []  # trials ended by Ctrl-C

    def objective(trial: Any) -> float:
        config = draw_config(trial, job.schedules, job.lr_range)
        trial.set_user_attr("lrrec.seed", job.seed)

        def report(record: Any) -> None:
            if record.val_metric is None or not math.isfinite(record.val_metric):
                return
            trial.report(record.val_metric, record.epoch)
            if trial.should_prune():
                raise StopRun(f"pruned by Optuna at epoch {record.epoch}")

        try:
            result = run_one(store, task, config, budget, job.seed, data_root=job.data_root, device=job.device,
                             on_epoch=report, source_ref=f"optuna {job.study} trial {trial.number}",
                             progress=progress is not None and progress.bar.terminal)
        except KeyboardInterrupt:  # the run is recorded as interrupted; end the trial quietly, then the worker
            interrupted.append(trial.number)
            trial.study.stop()
            raise optuna.TrialPruned("interrupted (Ctrl-C)") from None
        trial.set_user_attr("lrrec.run_id", result.run_id)
        if result.status != "finished" or result.outcome is None or result.outcome.final_metric is None:
            raise optuna.TrialPruned(f"run {result.status}")  # recorded as such in the store; the study goes on
        return result.outcome.final_metric

    remaining = None
    if n_trials is not None:
        done = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
        remaining = max(0, n_trials - done)
    if remaining != 0:
        callbacks = ([_stop_at(n_trials)] if n_trials else []) + ([progress] if progress is not None else [])
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(LrrecError, RuntimeError, ValueError),
                       callbacks=callbacks)
    if interrupted:
        raise KeyboardInterrupt


def _stop_at(n_trials: int) -> Any:
    """Stop a worker once the shared study holds `n_trials` finished trials (other workers count too)."""
    def callback(study: Any, trial: Any) -> None:
        if sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished()) >= n_trials:
            study.stop()
    return callback


def tune(job: TuneJob, target: TaskFingerprint, *, n_trials: int | None, timeout: float | None = None,
         seed_top: int = 5, space: str = "transferred", probe: bool = True, n_jobs: int = 1,
         progress: bool = False) -> dict[str, Any]:
    """Create or resume the study, plan its space, seed it with the top suggestions, run `n_jobs` workers.

    With `probe`, a new study first runs an LR range test on the task (see `plan_study`). The job's `out` folder
    is checked (and created) before any trial runs. `progress` shows the range test's steps and the trials done
    with the best value so far on stderr (see `Progress`).
    """
    from lrrec.runners.execute import budget_for, task_fingerprint
    from lrrec.runners.tasks import get_task
    from lrrec.runners.train import pick_device
    from lrrec.store.store import open_store

    if n_trials is None and timeout is None:
        raise InvalidValueError("give --n-trials or --timeout, or the study would never end")

    pick_device(job.device)  # user mistakes (device, data, output folder) surface here, not as failed trials
    task_fingerprint(job.task, job.data_root)
    task = get_task(job.task)
    budget = budget_for(task, job.epochs, job.batch_size, job.optimizer, job.momentum)
    out = Path(job.out) if job.out else None
    made_out = out is not None and not out.exists()
    if out is not None:
        writable_folder(out, "--out")
    range_test = RangeProbe(job.task, batch_size=job.batch_size, optimizer=job.optimizer, momentum=job.momentum,
                            seed=job.seed, data_root=job.data_root, device=job.device, progress=progress)

    def plan() -> tuple[TuneJob, list[ScheduleConfig]]:
        return plan_study(job, open_store(job.store_path), target, budget, seed_top, space,
                          range_test if probe and task.kind != "surface" else None)

    def attrs(planned: TuneJob) -> dict[str, Any]:
        values = {"lrrec.task": target.to_dict(), "lrrec.metric": {"name": task.metric, "direction": task.direction},
                  "lrrec.budget": {"epochs": budget.epochs, "batch_size": budget.batch_size,
                                   "optimizer": budget.optimizer, "optimizer_params": budget.optimizer_params()},
                  "lrrec.space": space_of(planned)}
        return values | ({"lrrec.schedule": planned.schedules[0]} if len(planned.schedules) == 1 else {})

    try:
        study, job, seeded, created = open_study(job, task.direction, plan, attrs)
        if not created:
            check_resumable(study, job.study, attrs(job))
    except BaseException:
        if made_out and out is not None and not any(out.iterdir()):
            out.rmdir()  # a study that never began leaves no empty --out folder behind
        raise
    trials = TrialProgress(study, n_trials, progress)
    try:
        if n_jobs <= 1:
            run_worker(job, n_trials, timeout, trials)
        else:
            _run_workers(job, n_trials, timeout, n_jobs, lambda: trials(study))
    finally:
        trials.bar.close()
    summary = summarize(job, [c.to_dict() for c in seeded])
    probed = range_test.result
    summary["probe"] = {"steepest_lr": probed.steepest_lr, "note": probed.note} if probed is not None else None
    summary["resumed"] = not created
    if summary["trials"].get("fail") and not summary["trials"].get("complete"):
        raise LrrecError(f"every trial of study {job.study} failed; see the failed runs in the store "
                         f"(lrrec store info) for the error")
    return summary


def _run_workers(job: TuneJob, n_trials: int | None, timeout: float | None, n_jobs: int,
                 poll: Callable[[], None]) -> None:
    """Worker processes sharing the study through its storage, as on several machines; `poll` runs every
    `POLL_S` seconds while they work, and once at the end."""
    command = [sys.executable, "-m", "lrrec.recommender.tune", json.dumps(asdict(job)), json.dumps(n_trials),
               json.dumps(timeout)]
    workers = [subprocess.Popen(command) for _ in range(n_jobs)]
    try:
        codes = []
        for worker in workers:
            while True:
                try:
                    codes.append(worker.wait(timeout=POLL_S))
                    break
                except subprocess.TimeoutExpired:
                    poll()
        poll()
    except KeyboardInterrupt:  # a terminal's Ctrl-C reaches them too; a signal to this process alone does not
        for worker in workers:
            worker.send_signal(signal.SIGINT)
        for worker in workers:
            worker.wait()
        raise
    if any(codes):
        raise LrrecError(f"a tuning worker failed (exit codes {codes}); rerun the same command to resume "
                         f"study {job.study}")


class TrialProgress:
    """The trials of a study done (of `n_trials`) with the best value so far, on stderr (see `Progress`).

    Called with the study (as an Optuna callback, or by a poll), it reports every trial finished since the last
    call, whichever worker ran it.
    """

    def __init__(self, study: Any, n_trials: int | None, enabled: bool) -> None:
        from lrrec.runners.train import Progress

        finished = _finished(study)
        self.seen = {t.number for t in finished}
        self.maximize = study.direction.name == "MAXIMIZE"
        self.best: Any = None
        for trial in finished:
            self._compare(trial)
        self.bar = Progress("tune", n_trials, "trial", enabled, initial=len(finished))

    def __call__(self, study: Any, trial: Any = None) -> None:
        for done in _finished(study):
            if done.number not in self.seen:
                self.seen.add(done.number)
                self._compare(done)
                value = f" {done.value:.4g}" if done.state.name == "COMPLETE" else ""
                best = f"; best {self.best.value:.4g} (#{self.best.number})" if self.best else ""
                self.bar.update(f"#{done.number} {done.state.name.lower()}{value}{best}")

    def _compare(self, trial: Any) -> None:
        if trial.state.name == "COMPLETE" and (self.best is None or (
                trial.value > self.best.value if self.maximize else trial.value < self.best.value)):
            self.best = trial


def _finished(study: Any) -> list[Any]:
    """The study's finished trials (complete, pruned, failed) in the order they finished."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    return sorted(trials, key=lambda t: (t.datetime_complete, t.number))


def summarize(job: TuneJob, seeded: list[dict[str, Any]]) -> dict[str, Any]:
    """The study's state: trial counts by state, the best config and value, and the seeded configs."""
    import optuna

    study = optuna.load_study(study_name=job.study, storage=open_storage(job.storage))
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    out: dict[str, Any] = {"study": job.study, "storage": job.storage, "task": job.task, "trials": states,
                           "space": space_of(job), "seeded": seeded, "best": None}
    if complete:
        best = study.best_trial
        out["best"] = {"trial": best.number, "value": best.value, "run_id": best.user_attrs.get("lrrec.run_id"),
                       "config": _config_of(best.params, job.schedules).to_dict()}
    out["history"] = [{"trial": t.number, "value": t.value, "state": t.state.name.lower(),
                       "run_id": t.user_attrs.get("lrrec.run_id")} for t in trials]
    return out


def write_figures(summary: dict[str, Any], store: Any, folder: Path) -> list[str]:
    """Plot the study (Optuna's history, importances and slices), the best config's LR curve, and its validation
    curve against the top suggestion's."""
    import optuna

    from lrrec.plots import plot_tuning
    from lrrec.runners.tasks import get_task

    if not summary["best"]:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.load_study(study_name=summary["study"], storage=open_storage(summary["storage"]))
    runs = {h["trial"]: h["run_id"] for h in summary["history"] if h["run_id"]}
    curves = {f"best (trial {summary['best']['trial']})": store.curves(summary["best"]["run_id"])}
    if summary["seeded"] and 0 in runs and runs[0] != summary["best"]["run_id"]:
        curves["top suggestion (trial 0)"] = store.curves(runs[0])
    steps = max((p["step"] or 0 for p in next(iter(curves.values()))), default=100) or 100
    metric = study.user_attrs.get("lrrec.metric", {}).get("name", "objective")
    unit = "step" if get_task(summary["task"]).kind == "surface" else "epoch"
    return plot_tuning(study, curves, ScheduleConfig.from_dict(summary["best"]["config"]), steps, folder,
                       task=summary["task"], metric=metric, unit=unit)


def _config_of(params: dict[str, Any], schedules: tuple[str, ...]) -> ScheduleConfig:
    if len(schedules) == 1:
        return ScheduleConfig.from_flat(schedules[0], params)
    name = params["schedule"]
    prefix = f"{name}."
    return ScheduleConfig.from_flat(name, {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)})


if __name__ == "__main__":  # a worker process started by `tune(..., n_jobs > 1)`
    _job = json.loads(sys.argv[1])
    try:
        run_worker(TuneJob(**{**_job, "schedules": tuple(_job["schedules"]),
                              "lr_range": tuple(_job["lr_range"]) if _job["lr_range"] else None}),
                   json.loads(sys.argv[2]), json.loads(sys.argv[3]))
    except KeyboardInterrupt:  # Ctrl-C reaches every worker: the parent says how to resume
        sys.exit(130)
