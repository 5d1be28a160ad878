"""`Run`: a run being trained, written to the store as it goes (`with store.start_run(...) as run:`).

The run row is written at the start (status `running`); logged points are buffered and flushed every
`flush_interval_s` and at the end. Leaving the `with` block ends the run `finished` (or `diverged` if a loss or
the metric was non-finite); an exception ends it `failed`, Ctrl-C `interrupted`, keeping what was logged.
"""

from __future__ import annotations

import math
import platform
import time
import uuid
from collections.abc import Mapping
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Any

from lrrec import __version__
from lrrec.errors import InvalidValueError, unknown_name
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig
from lrrec.store.cells import refresh_cells
from lrrec.store.interchange import STATUSES, RowParser, best_of, utc_now
from lrrec.store.writer import curve_row, insert_rows

if TYPE_CHECKING:
    from lrrec.store.store import Store

_CURVE_KEYS = ("lr", "train_loss", "val_loss")
_LIBRARIES = ("numpy", "torch", "torchvision", "optuna", "duckdb")


@cache
def library_versions() -> dict[str, str]:
    """Python and the installed versions of the libraries a run's result may depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in _LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            continue
    return out


class Run:
    """A live run. Create it with `Store.start_run`; log with `log_metrics`; end by leaving the `with` block."""

    def __init__(self, store: Store, run_id: str, task_id: str, metric_name: str, direction: str,
                 target_value: float | None, flush_interval_s: float) -> None:
        self.store = store
        self.run_id = run_id
        self.task_id = task_id
        self.metric_name = metric_name
        self.direction = direction
        self.target_value = target_value
        self.flush_interval_s = flush_interval_s
        self.status: str | None = None
        self._started = time.monotonic()
        self._last_flush = self._started
        self._pending: list[dict[str, Any]] = []
        self._values: list[float | None] = []
        self._time_to_target: float | None = None
        self._step_to_target: int | None = None
        self._non_finite = False

    @classmethod
    def begin(cls, store: Store, task: TaskFingerprint | Mapping[str, Any] | str,
              schedule: ScheduleConfig | Mapping[str, Any] | str, *, metric_name: str = "val_accuracy",
              direction: str | None = None, seed: int | None = None, optimizer: str | None = None,
              optimizer_params: Mapping[str, Any] | None = None, batch_size: int | None = None,
              epochs: int | None = None, steps: int | None = None, target_value: float | None = None,
              device: str | None = None, source: str = "lrrec", source_ref: str | None = None,
              notes: str | None = None, extra: Mapping[str, Any] | None = None,
              flush_interval_s: float = 30.0) -> Run:
        """Validate the settings (as an interchange row), write the `running` row and return the run."""
        row = {"run_id": uuid.uuid4().hex, "status": "running", "metric_name": metric_name, "direction": direction,
               "task": task.to_dict() if isinstance(task, TaskFingerprint) else task,
               "schedule": schedule.to_dict() if isinstance(schedule, ScheduleConfig) else schedule,
               "seed": seed, "optimizer": optimizer, "optimizer_params": dict(optimizer_params or {}) or None,
               "batch_size": batch_size, "epochs": epochs, "steps": steps, "target_value": target_value,
               "device": device, "lrrec_version": __version__, "library_versions": library_versions(),
               "source": source, "notes": notes, "extra": dict(extra) if extra else None}
        row = {k: v for k, v in row.items() if v is not None}
        record = RowParser(source).parse({**row, "source_ref": source_ref}, "")
        store.begin_run(record)
        return cls(store, record.run_id, record.task.task_id, metric_name, record.values["direction"], target_value,
                   flush_interval_s)

    # -- logging -----------------------------------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, float], step: int, epoch: float | None = None) -> None:
        """Record one curve point: `lr`, `train_loss`, `val_loss`, the run's metric; other keys go to extra."""
        if self.status is not None:
            raise InvalidValueError(f"run {self.run_id} has ended ({self.status}); start a new run to log more")
        point: dict[str, Any] = {"step": int(step), "epoch": None if epoch is None else float(epoch),
                                 "lr": None, "train_loss": None, "val_loss": None, "val_metric": None}
        extra: dict[str, float | None] = {}
        for key, raw in metrics.items():
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise InvalidValueError(f"metric {key} must be a number, got {raw!r}")
            value = float(raw) if math.isfinite(raw) else None
            self._non_finite |= value is None and key != "lr"
            if key == self.metric_name:
                point["val_metric"] = value
            if key in _CURVE_KEYS:  # a run judged on val_loss keeps it in both columns
                point[key] = value
            elif key != self.metric_name:
                extra[key] = value
        point["extra"] = extra or None
        self._pending.append(point)
        if self.metric_name in metrics:
            self._values.append(point["val_metric"])
            self._check_target(point["val_metric"], int(step))
        if time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def _check_target(self, value: float | None, step: int) -> None:
        if self.target_value is None or value is None or self._time_to_target is not None:
            return
        reached = value >= self.target_value if self.direction == "max" else value <= self.target_value
        if reached:
            self._time_to_target = time.monotonic() - self._started
            self._step_to_target = step

    def flush(self) -> None:
        """Write the buffered curve points now."""
        with self.store.transaction() as con:  # the points stay buffered if the write fails
            insert_rows(con, "curves", [curve_row(self.run_id, p) for p in self._pending])
            con.execute("UPDATE run_owners SET heartbeat_at = ? WHERE run_id = ?", [utc_now(), self.run_id])
        self._pending = []
        self._last_flush = time.monotonic()

    # -- ending ------------------------------------------------------------------------------------------
    def end(self, status: str = "finished", note: str | None = None) -> None:
        """End the run with `status`; a finished run with non-finite values becomes `diverged`."""
        if status not in STATUSES or status == "running":
            raise unknown_name("final status", status, [s for s in STATUSES if s != "running"])
        final = self._values[-1] if self._values else None
        if status == "finished" and self._non_finite:
            status = "diverged"
        if status == "finished" and final is None:
            status, note = "failed", note or f"ended without a finite {self.metric_name}"
        with self.store.transaction() as con:  # the points stay buffered if the write fails
            insert_rows(con, "curves", [curve_row(self.run_id, p) for p in self._pending])
            con.execute("""UPDATE runs SET status = ?, final_metric = ?, best_metric = ?, time_to_target_s = ?,
                           step_to_target = ?, wall_time_s = ?, notes = nullif(concat_ws('; ', notes, ?), '')
                           WHERE run_id = ?""",
                        [status, final, best_of(self._values, self.direction), self._time_to_target,
                         self._step_to_target, time.monotonic() - self._started, note, self.run_id])
            con.execute("DELETE FROM run_owners WHERE run_id = ?", [self.run_id])
            refresh_cells(con, [self.task_id])
        self._pending = []
        self.status = status

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.status is not None:
            return
        if exc_type is None:
            self.end("finished")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("interrupted", "KeyboardInterrupt")
        else:
            self.end("failed", f"{exc_type.__name__}: {exc}"[:500])

