"""`tune`: create or resume a study, plan its space, seed it with the top suggestions, and run its workers."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrrec.errors import InvalidValueError, LrrecError
from lrrec.fingerprint import TaskFingerprint
from lrrec.paths import writable_folder
from lrrec.recommender.suggest import RangeProbe
from lrrec.schedules import ScheduleConfig
from lrrec.tuning.job import TuneJob
from lrrec.tuning.progress import TrialProgress
from lrrec.tuning.space import plan_study, space_of
from lrrec.tuning.study import check_resumable, open_study
from lrrec.tuning.summary import TuneSummary, summarize
from lrrec.tuning.worker import run_worker, run_workers

if TYPE_CHECKING:
    from lrrec.runners.tasks import Budget, Task


def tune(job: TuneJob, target: TaskFingerprint, *, n_trials: int | None, timeout: float | None = None,
         seed_top: int = 5, space: str = "transferred", probe: bool = True, n_jobs: int = 1,
         progress: bool = False) -> TuneSummary:
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
    budget = budget_for(task, job.epochs, job.batch_size, job.optimizer, job.momentum, job.weight_decay)
    new_out = _new_out_folder(job.out)
    range_test = RangeProbe(job.task, batch_size=job.batch_size, optimizer=job.optimizer, momentum=job.momentum,
                            seed=job.seed, data_root=job.data_root, device=job.device, progress=progress)

    def plan() -> tuple[TuneJob, list[ScheduleConfig]]:
        return plan_study(job, open_store(job.store_path), target, budget, seed_top, space,
                          range_test if probe and task.kind != "surface" else None)

    attrs = partial(_study_attrs, target, task, budget)
    try:
        study, job, seeded, created = open_study(job, task.direction, plan, attrs)
        if not created:
            check_resumable(study, job.study, attrs(job))
    except BaseException:
        _remove_if_empty(new_out)  # a study that never began leaves no empty --out folder behind
        raise
    _run_trials(job, study, n_trials, timeout, n_jobs, progress)
    summary = summarize(job, seeded, probe=range_test.result, resumed=not created)
    if summary.trials.get("fail") and not summary.trials.get("complete"):
        raise LrrecError(f"every trial of study {job.study} failed; see the failed runs in the store "
                         f"(lrrec store info) for the error")
    return summary


def _new_out_folder(out: str | None) -> Path | None:
    """Check (and create) the `--out` folder; returns it if this call created it."""
    if not out:
        return None
    folder = Path(out)
    made = not folder.exists()
    writable_folder(folder, "--out")
    return folder if made else None


def _remove_if_empty(folder: Path | None) -> None:
    """Remove `folder` (an `--out` this run created, or None) if nothing was written in it."""
    if folder is not None and not any(folder.iterdir()):
        folder.rmdir()


def _study_attrs(target: TaskFingerprint, task: Task, budget: Budget, planned: TuneJob) -> dict[str, Any]:
    """The `lrrec.*` attributes of a study of `planned` (the schedule too, when it searches one)."""
    values = {"lrrec.task": target.to_dict(), "lrrec.metric": {"name": task.metric, "direction": task.direction},
              "lrrec.budget": {"epochs": budget.epochs, "batch_size": budget.batch_size,
                               "optimizer": budget.optimizer, "optimizer_params": budget.optimizer_params()},
              "lrrec.space": space_of(planned)}
    return values | ({"lrrec.schedule": planned.schedules[0]} if len(planned.schedules) == 1 else {})


def _run_trials(job: TuneJob, study: Any, n_trials: int | None, timeout: float | None, n_jobs: int,
                progress: bool) -> None:
    """Run the trials in this process (`n_jobs` 1) or in `n_jobs` worker processes, reporting each one done."""
    trials = TrialProgress(study, n_trials, progress)
    try:
        if n_jobs <= 1:
            run_worker(job, n_trials, timeout, trials)
        else:
            run_workers(job, n_trials, timeout, n_jobs, lambda: trials(study))
    finally:
        trials.bar.close()

