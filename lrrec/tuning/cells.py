"""Distributed sweeps: a sweep's grid (tasks x schedules x LRs x seeds) as the cells of an Optuna study, which
any number of workers on any machines claim through its storage (an RDB URL or a journal file).

The worker that creates the study enqueues every cell as a waiting trial (user attribute `lrrec.cell`: task,
schedule config, seed) and then records `lrrec.sweep`; the others wait for that. A worker claims a cell by moving
its trial from waiting to running (atomic in both storages: one worker wins), beats a heartbeat on it while it
trains (system attribute `lrrec.beat`), records the run in its local store and puts the run's interchange row on
the trial (`lrrec.run`, what `lrrec ingest STORAGE --study NAME` gathers) as it completes the trial. A running
cell whose heartbeat is older than three beats belongs to a dead worker: the first worker to fail it enqueues the
cell again. Workers end when no cell is waiting or running.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lrrec.errors import LrrecError
from lrrec.tuning.heartbeats import CELL_HEARTBEAT_S
from lrrec.tuning.job import open_storage

if TYPE_CHECKING:
    from lrrec.runners.execute import RunResult, SweepPlan
    from lrrec.store.store import Store

CREATE_WAIT_S = 120.0  # how long a worker waits for the study's creator to enqueue the cells


def sweep_cells(store: Store, plan: SweepPlan, storage_url: str, study_name: str, *,
                heartbeat_s: int = CELL_HEARTBEAT_S,
                on_result: Callable[[RunResult], None] | None = None) -> list[RunResult]:
    """Claim and train cells of the shared sweep `study_name` until none is left; returns the runs this worker
    recorded (in `store`)."""
    from lrrec.runners.execute import budget_for, run_one, sweep_grid
    from lrrec.runners.tasks import get_task
    from lrrec.schedules import ScheduleConfig

    cells = [{"task": task, "config": config.to_dict(), "seed": seed} for task, config, seed in sweep_grid(plan)]
    options: dict[str, Any] = {"epochs": plan.epochs, "batch_size": plan.batch_size, "optimizer": plan.optimizer,
                               "momentum": plan.momentum, "weight_decay": plan.weight_decay}
    storage = open_storage(storage_url)
    study_id = _open(storage, study_name, cells, options)
    results = []
    while (trial := _claim(storage, study_id, heartbeat_s)) is not None:
        cell = trial.user_attrs["lrrec.cell"]
        task = get_task(cell["task"])
        budget = budget_for(task, **options)
        storage.set_trial_user_attr(trial._trial_id, "lrrec.worker", f"{socket.gethostname()}:{os.getpid()}")
        with _Heartbeat(storage, trial._trial_id, heartbeat_s):
            result = run_one(store, task, ScheduleConfig.from_dict(cell["config"]), budget, cell["seed"],
                             data_root=plan.data_root, device=plan.device,
                             source_ref=f"sweep {study_name} cell {trial.number}")
        if _complete(storage, trial._trial_id, result, store.run_row(result.run_id)):
            results.append(result)
            if on_result:
                on_result(result)
    return results


def _open(storage: Any, name: str, cells: list[dict[str, Any]], options: dict[str, Any]) -> int:
    """The study's id: created with every cell enqueued and the budget `options` recorded, or joined once its
    creator has enqueued them (with the same grid and options)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction="maximize")
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name)
        _wait_for_cells(study, name, cells, options)
        return study._study_id
    for cell in cells:
        study.enqueue_trial({}, user_attrs={"lrrec.cell": cell})
    study.set_user_attr("lrrec.sweep", {"cells": len(cells), "options": options})
    return study._study_id


def _wait_for_cells(study: Any, name: str, cells: list[dict[str, Any]], options: dict[str, Any]) -> None:
    deadline = time.monotonic() + CREATE_WAIT_S
    while "lrrec.sweep" not in study.user_attrs:
        if time.monotonic() > deadline:
            raise LrrecError(f"study {name} has no sweep cells after {CREATE_WAIT_S:.0f} s: it is not an "
                             f"lrrec sweep, or its creator stopped while enqueuing; use another --study")
        time.sleep(1.0)
    enqueued = {json.dumps(t.user_attrs.get("lrrec.cell"), sort_keys=True) for t in study.get_trials(deepcopy=False)}
    if any(json.dumps(cell, sort_keys=True) not in enqueued for cell in cells):
        raise LrrecError(f"study {name} holds another sweep's grid; run the same --tasks, --schedules, --lr-grid "
                         f"and --seeds, or use another --study")
    if (theirs := study.user_attrs["lrrec.sweep"].get("options")) != options:
        raise LrrecError(f"study {name} trains with other budget options ({theirs}, here {options}); run the same "
                         f"--epochs, --batch-size, --optimizer, --momentum and --weight-decay, or use another --study")


def _take(storage: Any, trial_id: int) -> bool:
    """Move a waiting trial to running; False when another worker took it first (or has finished it since)."""
    import optuna

    try:
        return bool(storage.set_trial_state_values(trial_id, optuna.trial.TrialState.RUNNING))
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def _claim(storage: Any, study_id: int, heartbeat_s: int) -> Any:
    """A waiting cell moved to running by this worker, after failing and re-enqueuing dead workers' cells; None
    when no cell is waiting or running (a running cell may yet die: then wait for its heartbeat to go stale)."""
    from optuna.trial import TrialState

    while True:
        trials = storage.get_all_trials(study_id, deepcopy=False)
        for trial in trials:
            if trial.state == TrialState.WAITING and _take(storage, trial._trial_id):
                return storage.get_trial(trial._trial_id)
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if not running:
            return None
        for trial in running:
            _redo_if_dead(storage, study_id, trial, heartbeat_s)
        time.sleep(heartbeat_s)


def _redo_if_dead(storage: Any, study_id: int, trial: Any, heartbeat_s: int) -> None:
    """Fail a running cell whose heartbeat is older than three beats and enqueue it again (the worker that fails
    it does; the others are told the trial is finished already)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    beat = trial.system_attrs.get("lrrec.beat", trial.datetime_start.timestamp() if trial.datetime_start else 0)
    if time.time() - beat <= 3 * heartbeat_s:
        return
    try:
        storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
    except optuna.exceptions.UpdateFinishedTrialError:
        return
    study = optuna.load_study(storage=storage, study_name=storage.get_study_name_from_id(study_id))
    study.add_trial(create_trial(state=TrialState.WAITING, user_attrs={
        "lrrec.cell": trial.user_attrs["lrrec.cell"], "lrrec.redo_of": trial.number}))


def _complete(storage: Any, trial_id: int, result: RunResult, row: dict[str, Any]) -> bool:
    """Put the run on its cell and end the cell (complete with the final metric, or pruned for a run that did
    not finish); False if the cell was failed meanwhile (this worker was taken for dead and it was redone)."""
    import optuna
    from optuna.trial import TrialState

    final = result.outcome.final_metric if result.outcome else None
    try:
        storage.set_trial_user_attr(trial_id, "lrrec.run", row)
        if result.status == "finished" and final is not None:
            storage.set_trial_state_values(trial_id, TrialState.COMPLETE, [final])
        else:
            storage.set_trial_state_values(trial_id, TrialState.PRUNED)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    return True


class _Heartbeat:
    """A thread recording `lrrec.beat` (the time) on a running cell every `interval` seconds."""

    def __init__(self, storage: Any, trial_id: int, interval: int) -> None:
        self.storage, self.trial_id, self.interval = storage, trial_id, interval
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        import optuna

        while True:
            try:
                self.storage.set_trial_system_attr(self.trial_id, "lrrec.beat", time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                return  # taken for dead and failed: `_complete` finds out
            if self.stop.wait(self.interval):
                return

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
