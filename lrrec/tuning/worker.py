"""Workers: each pulls trials from the shared study and trains them with a real runner, recording every run in
the store. `run_workers` starts them as processes (`python -m lrrec.tuning.worker JOB N_TRIALS TIMEOUT LOCK`,
LOCK the `ClaimLock` file the workers of one `lrrec tune` share)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from lrrec.errors import LrrecError
from lrrec.tuning.job import TuneJob, study_settings
from lrrec.tuning.space import draw_config

if TYPE_CHECKING:
    from lrrec.tuning.progress import TrialProgress

POLL_S = 2.0  # how often the progress of worker processes is read from the study


class ClaimLock:
    """An exclusive lock on a file (released by the kernel if its holder dies) that the workers of one `lrrec tune`
    hold from counting the study's trials until the trial they start is running, so that two of them never both
    take the study's last place; without a path it does nothing (a single worker)."""

    def __init__(self, path: str | None) -> None:
        self.fd = None if path is None else os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.held = False

    def acquire(self) -> None:
        if self.fd is not None and not self.held:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.held = True

    def release(self) -> None:
        if self.fd is not None and self.held:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.held = False


def run_worker(job: TuneJob, n_trials: int | None, timeout: float | None,
               progress: TrialProgress | None = None, claim: ClaimLock | None = None) -> None:
    """One worker: pull trials from the shared study until `n_trials` of the study are done (or `timeout`).

    `progress` hears of each finished trial; in a terminal, each trial's epochs get a bar of their own. `claim`
    is the lock the workers beside this one share (see `ClaimLock`).
    """
    import optuna

    from lrrec.runners.execute import StopRun, budget_for, run_one
    from lrrec.runners.tasks import get_task
    from lrrec.store.store import open_store

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    claim = claim or ClaimLock(None)
    task = get_task(job.task)
    budget = budget_for(task, job.epochs, job.batch_size, job.optimizer, job.momentum, job.weight_decay)
    store = open_store(job.store_path)
    study = optuna.load_study(**study_settings(job))
    interrupted: list[int] = []  # trials ended by Ctrl-C

    def objective(trial: Any) -> float:
        claim.release()  # the trial is running: the next worker counts it
        config = draw_config(trial, job.schedules, job.lr_range)
        trial.set_user_attr("lrrec.seed", job.seed)
        trial.set_user_attr("lrrec.worker", f"{socket.gethostname()}:{os.getpid()}")

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

    catch = (LrrecError, RuntimeError, ValueError)
    callbacks = [progress] if progress is not None else []
    if n_trials is None:
        study.optimize(objective, timeout=timeout, catch=catch, callbacks=callbacks)
    else:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not interrupted:
            claim.acquire()
            left = _trials_to_start(study, n_trials, job.beats)
            remaining = None if deadline is None else deadline - time.monotonic()
            if left is None or (remaining is not None and remaining <= 0):
                claim.release()
                break
            if left == 0:  # the study is full, but a trial is running that may yet fail and be retried
                claim.release()
                time.sleep(job.heartbeat_s)
                continue
            # taken for dead (a heartbeat missed under load), this worker's trial was failed and retried elsewhere
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                try:
                    study.optimize(objective, n_trials=1, timeout=remaining, catch=catch, callbacks=callbacks)
                finally:
                    claim.release()
    if interrupted:
        raise KeyboardInterrupt


def _trials_to_start(study: Any, n_trials: int, beating: bool) -> int | None:
    """How many trials the study still lacks of `n_trials` (a failed trial that was retried counts as its retry,
    a running one as done); 0 while it is full but a trial is still running on a storage with heartbeats (its
    worker may have died: once the heartbeat marks it failed and retries it, a waiting worker runs the retry);
    None when this worker is done."""
    import warnings

    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RetryHeartbeatStaleTrialCallback, fail_stale_trials
    from optuna.trial import TrialState

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        if beating:
            fail_stale_trials(study)
        trials = study.get_trials(deepcopy=False)
        retried = {n for t in trials for n in RetryHeartbeatStaleTrialCallback.retry_history(t)}
    done = sum(1 for t in trials if t.state.is_finished() and t.number not in retried)
    running = sum(1 for t in trials if t.state == TrialState.RUNNING)
    if done + running < n_trials:
        return n_trials - done - running
    return 0 if running and beating else None


def run_workers(job: TuneJob, n_trials: int | None, timeout: float | None, n_jobs: int,
                poll: Callable[[], None]) -> None:
    """Worker processes sharing the study through its storage, as on several machines; `poll` runs every
    `POLL_S` seconds while they work, and once at the end."""
    with tempfile.TemporaryDirectory(prefix="lrrec-claims-") as folder:
        command = [sys.executable, "-m", "lrrec.tuning.worker", json.dumps(asdict(job)), json.dumps(n_trials),
                   json.dumps(timeout), os.path.join(folder, "claim.lock")]
        _wait_for(job, [subprocess.Popen(command) for _ in range(n_jobs)], poll)


def _wait_for(job: TuneJob, workers: list[subprocess.Popen], poll: Callable[[], None]) -> None:
    """Wait for every worker, polling; Ctrl-C passes to them; a worker that failed (not killed) is an error."""
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
    # a worker killed by a signal (< 0) had its trial retried by the others, where trials send heartbeats
    if any(code > 0 or (code < 0 and not job.beats) for code in codes):
        raise LrrecError(f"a tuning worker failed (exit codes {codes}); rerun the same command to resume "
                         f"study {job.study}")


if __name__ == "__main__":  # a worker process started by `run_workers`
    try:
        run_worker(TuneJob.from_dict(json.loads(sys.argv[1])), json.loads(sys.argv[2]), json.loads(sys.argv[3]),
                   claim=ClaimLock(sys.argv[4]))
    except KeyboardInterrupt:  # Ctrl-C reaches every worker: the parent says how to resume
        sys.exit(130)
