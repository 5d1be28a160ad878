"""Store upkeep: runs whose process is gone (stale), marking them interrupted, and removing runs.

A run started with `Store.start_run` records its host, process id and a heartbeat (refreshed at every flush)
in `run_owners` until it ends. A `running` run is stale when its process is gone (same host), when its host has
sent no heartbeat for `STALE_AFTER_S` (another host), or when no process was recorded for it (imported rows).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from lrrec.errors import InvalidValueError
from lrrec.store.cells import refresh_cells
from lrrec.store.interchange import utc_now

if TYPE_CHECKING:
    import duckdb

    from lrrec.store.store import Store

STALE_AFTER_S = 3600.0
_RUNNING_SQL = """SELECT r.run_id, t.name, o.host, o.pid, o.heartbeat_at FROM runs r JOIN tasks t USING (task_id)
                  LEFT JOIN run_owners o USING (run_id) WHERE r.status = 'running' ORDER BY r.created_at, r.run_id"""
_SELECTED_SQL = """SELECT r.run_id, t.name AS task, s.name AS schedule, r.source, r.status, b.batch_id
                   FROM runs r JOIN tasks t USING (task_id) JOIN schedules s USING (config_id)
                   LEFT JOIN ingest_batches b USING (run_id) WHERE {where} ORDER BY r.created_at, r.run_id"""


def owner_row(run_id: str) -> list[Any]:
    """A `run_owners` row for a run this process is about to write."""
    return [run_id, socket.gethostname(), os.getpid(), utc_now()]


@dataclass(frozen=True)
class StaleRun:
    """A `running` run that nothing is writing any more, and why lrrec thinks so."""

    run_id: str
    task: str
    reason: str


def stale_runs(con: duckdb.DuckDBPyConnection) -> list[StaleRun]:
    """Every running run whose writer is gone (see the module docstring)."""
    host, now = socket.gethostname(), utc_now()
    stale = []
    for run_id, task, owner_host, pid, heartbeat in con.execute(_RUNNING_SQL).fetchall():
        if owner_host is None:
            reason = "no writing process was recorded for it"
        elif owner_host == host:
            if _alive(int(pid)):
                continue
            reason = f"its process {pid} on {host} is gone"
        elif (now - heartbeat).total_seconds() > STALE_AFTER_S:
            reason = f"no heartbeat from {owner_host} since {heartbeat:%Y-%m-%d %H:%M} UTC"
        else:
            continue
        stale.append(StaleRun(run_id, task, reason))
    return stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def repair(store: Store) -> list[StaleRun]:
    """Mark every stale run `interrupted` (keeping what it logged, its note saying why) and rebuild the cells
    table from the runs (in case they were changed behind lrrec); returns the stale runs."""
    with store.transaction() as con:
        stale = stale_runs(con)
        for run in stale:
            con.execute("""UPDATE runs SET status = 'interrupted', notes = concat_ws('; ', notes, ?)
                           WHERE run_id = ?""", [f"marked interrupted by lrrec store repair: {run.reason}", run.run_id])
            con.execute("DELETE FROM run_owners WHERE run_id = ?", [run.run_id])
        refresh_cells(con)
    return stale


@dataclass
class Removal:
    """The runs `remove_runs` selected, and whether they were removed (not on a dry run)."""

    runs: list[dict[str, Any]]
    removed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def remove_runs(store: Store, run_ids: Sequence[str] = (), source: str | None = None, batch: str | None = None,
                dry_run: bool = False) -> Removal:
    """Remove the runs matching every selector given (ids, source, ingest batch), with their curves; all or
    nothing. Tasks and schedule configs no run uses any more go too."""
    if not (run_ids or source or batch):
        raise InvalidValueError("name the runs to remove: --run ID (repeatable), --source NAME or --batch ID")
    conditions: list[str] = []
    params: list[Any] = []
    if run_ids:
        conditions.append("r.run_id IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(run_ids))
    for column, value in (("r.source", source), ("b.batch_id", batch)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    sql = _SELECTED_SQL.format(where=" AND ".join(conditions))
    with store.transaction(write=False) as con:
        cursor = con.execute(sql, params)
        names = [d[0] for d in cursor.description]
        runs = [dict(zip(names, row)) for row in cursor.fetchall()]
    missing = sorted(set(run_ids) - {r["run_id"] for r in runs})
    if missing:
        raise InvalidValueError(f"no run {', '.join(missing[:5])} matches in {store.path}; nothing was removed "
                                f"(`lrrec store rm --dry-run` lists what a selection matches)")
    if not runs:
        raise InvalidValueError(f"no run in {store.path} matches; nothing was removed")
    if dry_run:
        return Removal(runs, removed=False)
    ids = [r["run_id"] for r in runs]
    with store.bulk_transaction() as con:
        tasks = [t for (t,) in con.execute("SELECT DISTINCT task_id FROM runs WHERE run_id IN "
                                           "(SELECT unnest(?::VARCHAR[]))", [ids]).fetchall()]
        for table in ("curves", "run_owners", "ingest_batches", "runs"):
            con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        con.execute("DELETE FROM tasks WHERE task_id NOT IN (SELECT task_id FROM runs)")
        con.execute("DELETE FROM schedules WHERE config_id NOT IN (SELECT config_id FROM runs)")
        refresh_cells(con, tasks)
    return Removal(runs, removed=True)
