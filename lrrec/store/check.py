"""`check_store`: read every row of every table of a store and cross-check them (`lrrec store check`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lrrec.store.access import StoreDamagedError, check_store_file, count_of
from lrrec.store.cells import stale_cells_sql
from lrrec.store.store import Store, require_existing

TABLES = ("meta", "tasks", "schedules", "runs", "curves", "cells")
_CROSS_CHECKS = {
    "runs without their task": "SELECT count(*) FROM runs WHERE task_id NOT IN (SELECT task_id FROM tasks)",
    "runs without their schedule config": "SELECT count(*) FROM runs WHERE config_id NOT IN "
                                          "(SELECT config_id FROM schedules)",
    "curve points without their run": "SELECT count(*) FROM curves WHERE run_id NOT IN (SELECT run_id FROM runs)",
    "finished runs without a final metric": "SELECT count(*) FROM runs WHERE status = 'finished' "
                                            "AND final_metric IS NULL",
    "cells that differ from what their runs aggregate to (`lrrec store repair` rebuilds them)": stale_cells_sql(),
}


@dataclass
class StoreCheck:
    """What `check_store` found: rows per readable table, runs with curves, and every problem in one line."""

    path: str
    rows: dict[str, int] = field(default_factory=dict)
    runs_with_curves: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def check_store(path: str | Path) -> StoreCheck:
    """Read every column of every row (so damaged blocks show) and cross-check runs, tasks, configs, curves."""
    path = Path(path).expanduser()
    require_existing(path)
    check_store_file(path)
    store = Store(path)
    result = StoreCheck(str(path))
    for table in TABLES:  # (an older store is migrated, on a copy, by the first transaction)
        try:
            with store.transaction(write=False) as con:
                result.rows[table] = count_of(con, f"SELECT count(*), sum(hash(t)) FROM {table} t")
        except StoreDamagedError as exc:
            if table == TABLES[0] and "block" not in exc.reason:  # the file itself does not open
                result.problems.append(f"the file does not open ({exc.reason})")
                return result
            result.problems.append(f"{table}: unreadable ({exc.reason})")
    if result.problems:
        return result
    with store.transaction(write=False) as con:
        for what, sql in _CROSS_CHECKS.items():
            if count := count_of(con, sql):
                result.problems.append(f"{count} {what}")
        result.runs_with_curves = count_of(con, "SELECT count(DISTINCT run_id) FROM curves")
    return result
