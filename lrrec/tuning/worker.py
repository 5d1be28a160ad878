"""Workers: each pulls trials from the shared study and trains them with a real runner, recording every run in
the store. `run_workers` starts them as processes (`python -m lrrec.tuning.worker JOB N_TRIALS TIMEOUT`)."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lrrec.errors import LrrecError
from lrrec.tuning.job import TuneJob, study_settings
from lrrec.tuning.space import draw_config

if TYPE_CHECKING:
    from lrrec.tuning.progress import TrialProgress

POLL_S = 2.0  # how often the progress of worker processes is read from the study


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
    budget = budget_for(task, job.epochs, job.batch_size, job.optimizer, job.momentum, job.weight_decay)
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


def run_workers(job: TuneJob, n_trials: int | None, timeout: float | None, n_jobs: int,
                poll: Callable[[], None]) -> None:
    """Worker processes sharing the study through its storage, as on several machines; `poll` runs every
    `POLL_S` seconds while they work, and once at the end."""
    command = [sys.executable, "-m", "lrrec.tuning.worker", json.dumps(asdict(job)), json.dumps(n_trials),
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


if __name__ == "__main__":  # a worker process started by `run_workers`
    try:
        run_worker(TuneJob.from_dict(json.loads(sys.argv[1])), json.loads(sys.argv[2]), json.loads(sys.argv[3]))
    except KeyboardInterrupt:  # Ctrl-C reaches every worker: the parent says how to resume
        sys.exit(130)
