"""Create a study or resume one: a new study gets its planned space and seeds; a resumed one keeps its space and
must be for the same task and budget."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lrrec.errors import InvalidValueError, LrrecError
from lrrec.schedules import ScheduleConfig
from lrrec.tuning.job import TuneJob, study_settings
from lrrec.tuning.space import seed_study

SPACE_WAIT_S = 120.0  # how long a worker waits for the creator of a study to record its space


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
