"""`TuneJob`, the schedules it searches, and the Optuna storage and settings every process opens its study with."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrrec.errors import InvalidValueError, brief
from lrrec.schedules import get_spec, list_specs
from lrrec.tuning.heartbeats import TRIAL_HEARTBEAT_S

JOURNAL_SUFFIXES = (".log", ".journal", ".jsonl")

MAX_RETRY = 3  # retries of one trial whose worker died


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
    weight_decay: float | None = None
    lr_range: tuple[float, float] | None = None  # None: the library's LR range
    out: str | None = None  # the folder for the figures and summary, checked before any trial runs
    heartbeat_s: int = TRIAL_HEARTBEAT_S  # RDB storages: see `open_storage`

    @property
    def beats(self) -> bool:
        """Whether its trials send heartbeats (an RDB storage): a dead worker's trial is then failed and retried."""
        return is_rdb(self.storage)

    @classmethod
    def for_task(cls, task: str, *, schedule: str | None = None, families: str | None = None,
                 study: str | None = None, storage: str | None = None, out: str | None = None,
                 store_path: str | None = None, **fields: Any) -> TuneJob:
        """The job `lrrec tune` runs on `task`: the schedules `resolve_schedules` picks, and by default the study
        `lrrec-TASK-SCHEDULES`, the folder `tune-STUDY`, a journal `study.journal` in it, and the store that
        `store_path`, `$LRREC_STORE` or the user data folder names; `fields` sets the others (epochs, device, ...)."""
        from lrrec.store.store import chosen_store_path

        schedules = resolve_schedules(schedule, families)
        if storage is not None:
            check_storage_url(storage)  # before any store or folder is made
        study = study or f"lrrec-{task.replace('/', '-').replace(':', '-')}-{schedule or families or 'all'}"
        folder = Path(out or f"tune-{study}")
        return cls(task, schedules, storage or str(folder / "study.journal"), study,
                   str(chosen_store_path(store_path)), out=str(folder), **fields)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TuneJob:
        """The job `dataclasses.asdict` made plain data of (tuples become lists in JSON)."""
        return cls(**{**data, "schedules": tuple(data["schedules"]),
                      "lr_range": tuple(data["lr_range"]) if data["lr_range"] else None})


def resolve_schedules(schedule: str | None, families: str | None) -> tuple[str, ...]:
    """The schedules to search: one by name, or every schedule of the given families (default: all)."""
    if schedule and families:
        raise InvalidValueError("give either --schedule or --families, not both")
    if schedule:
        return (get_spec(schedule).name,)
    wanted: list[str | None] = [f.strip() for f in (families or "").split(",") if f.strip()]
    names = [s.name for family in (wanted or [None]) for s in list_specs(family)]
    return tuple(dict.fromkeys(names))


def is_rdb(url: str) -> bool:
    """Whether a storage URL names an RDB (sqlite://, postgresql://, ...) rather than a journal file."""
    return "://" in url


def check_storage_url(url: str) -> None:
    """Refuse a storage that is neither an RDB URL nor a journal file by its name."""
    if not is_rdb(url) and not url.endswith(JOURNAL_SUFFIXES):
        raise InvalidValueError(f"--storage {url}: give a journal file ending in {', '.join(JOURNAL_SUFFIXES)} "
                                f"or an RDB URL such as sqlite:///study.db or postgresql://host/db")


def open_storage(url: str, heartbeat_s: int | None = None) -> Any:
    """An Optuna storage: a journal file (path ending .log/.journal/.jsonl) or an RDB URL (sqlite://, postgresql://).

    With `heartbeat_s`, an RDB storage keeps each running trial's heartbeat: a trial whose worker died (silent for
    three beats) is marked failed by the next worker that starts a trial, and retried (up to `MAX_RETRY` times:
    Optuna's `RetryHeartbeatStaleTrialCallback`, which enqueues the same parameters)."""
    import optuna
    from optuna.storages import JournalStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if is_rdb(url):
        beats: dict[str, Any] = {} if heartbeat_s is None else {
            "heartbeat_interval": heartbeat_s, "grace_period": 3 * heartbeat_s,
            "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)}
        try:
            with warnings.catch_warnings():  # heartbeats are experimental in Optuna's words, stable since 2.9
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, **beats)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy's many ways to fail on a URL
            raise InvalidValueError(f"--storage {url}: cannot open it ({brief(exc)}); check the "
                                    f"URL and install its driver (e.g. pip install 'psycopg[binary]')") from None
    check_storage_url(url)
    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(url))


def study_settings(job: TuneJob) -> dict[str, Any]:
    """The storage, name, seeded sampler and pruner every process opens the study with (a worker that loaded it
    without them would draw unseeded trials)."""
    import optuna

    return {"storage": open_storage(job.storage, job.heartbeat_s), "study_name": job.study,
            "sampler": optuna.samplers.TPESampler(seed=job.seed),
            "pruner": optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=2)}
