"""Writing validated `RunRecord`s: one bulk insert per table, deduplicated by run_id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import duckdb

from lrrec.fields import JsonObject
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig
from lrrec.store.cells import refresh_cells
from lrrec.store.interchange import FIELDS, RunRecord, canonical_json, utc_now

_JSON_FIELDS = tuple(key for key, kind in FIELDS.items() if isinstance(kind, JsonObject))


def write_records(con: duckdb.DuckDBPyConnection, records: Iterable[RunRecord],
                  batch_id: str | None = None) -> tuple[int, int]:
    """Insert runs not yet in the store (by run_id) with their tasks, configs and curves; (added, duplicates).

    With `batch_id`, the runs added are recorded as that ingest batch."""
    unique: dict[str, RunRecord] = {}
    for record in records:
        unique.setdefault(record.run_id, record)
    total = len(unique)
    if unique:
        present = con.execute("SELECT run_id FROM runs WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
                              [list(unique)]).fetchall()
        for (run_id,) in present:
            del unique[run_id]
    new = list(unique.values())
    tasks = {r.task.task_id: r.task for r in new}
    configs = {r.config_id: r.schedule for r in new}
    insert_rows(con, "tasks", [task_row(t) for t in tasks.values()], keep_existing=True)
    insert_rows(con, "schedules", [schedule_row(c, i) for i, c in configs.items()], keep_existing=True)
    insert_rows(con, "runs", [run_row(r) for r in new])
    insert_rows(con, "curves", [curve_row(r.run_id, p) for r in new for p in r.curves])
    refresh_cells(con, list(tasks))
    if batch_id is not None:
        now = utc_now()
        insert_rows(con, "ingest_batches", [{"run_id": r.run_id, "batch_id": batch_id, "ingested_at": now}
                                            for r in new])
    return len(new), total - len(new)


def task_row(task: TaskFingerprint) -> dict[str, Any]:
    """A `tasks` table row: one column per feature plus the canonical JSON."""
    data = task.to_dict()
    fingerprint = canonical_json(data)  # `task.to_json()`, without building the dict again
    data.pop("extra")
    data["input_shape"] = None if task.input_shape is None else canonical_json(task.input_shape)
    return {"task_id": task.task_id, **data, "fingerprint": fingerprint}


def schedule_row(config: ScheduleConfig, config_id: str) -> dict[str, Any]:
    """A `schedules` table row (`config_id` is the config's content hash)."""
    data = config.to_dict()
    return {"config_id": config_id, "name": config.name, "family": config.family, "lr": config.lr,
            "params": canonical_json(data["params"]),
            "warmup": None if data["warmup"] is None else canonical_json(data["warmup"]), "config": config.to_json()}


def run_row(record: RunRecord) -> dict[str, Any]:
    """A `runs` table row."""
    row = {"run_id": record.run_id, "task_id": record.task.task_id, "config_id": record.config_id,
           **record.values}
    for key in _JSON_FIELDS:
        if key in row and row[key] is not None:
            row[key] = canonical_json(row[key])
    return row


def curve_row(run_id: str, point: Mapping[str, Any]) -> dict[str, Any]:
    """A `curves` table row."""
    extra = point.get("extra")
    return {"run_id": run_id, **point, "extra": None if extra is None else canonical_json(extra)}


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]],
                keep_existing: bool = False) -> None:
    """Bulk insert (column lists bound as parameters, unnested in SQL); `keep_existing` skips known keys."""
    if not rows:
        return
    columns = con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                          "AND table_catalog = current_database() AND table_schema = current_schema() "
                          "ORDER BY ordinal_position", [table]).fetchall()
    selects = [f"unnest(${i}::VARCHAR[])::JSON" if kind == "JSON" else f"unnest(${i}::{kind}[])"
               for i, (_, kind) in enumerate(columns, start=1)]
    params = [[row.get(name) for row in rows] for name, _ in columns]
    verb = "INSERT OR IGNORE" if keep_existing else "INSERT"
    con.execute(f"{verb} INTO {table} SELECT {', '.join(selects)}", params)


def write_parts(con: duckdb.DuckDBPyConnection, parts: Sequence[list[RunRecord] | str],
                batch_id: str | None = None) -> tuple[int, int]:
    """`write_records` over parts in order (the first of the runs sharing a run_id wins): lists of records, and
    schemas of the in-memory database `memory` holding runs validated column-wise (`columnar.ColumnarBatch`);
    (added, duplicates)."""
    con.execute("CREATE TEMP TABLE seen (run_id VARCHAR)")
    added = 0
    for part in parts:
        if isinstance(part, str):
            con.execute(f"INSERT INTO seen SELECT run_id FROM memory.{part}.runs")
            added += _write_batch(con, f"memory.{part}", batch_id)
        else:
            con.execute("INSERT INTO seen SELECT unnest(?::VARCHAR[])", [[r.run_id for r in part]])
            added += write_records(con, part, batch_id)[0]
    unique = con.execute("SELECT count(DISTINCT run_id) FROM seen").fetchone()[0]  # type: ignore[index]
    con.execute("DROP TABLE seen")
    return added, unique - added


def _write_batch(con: duckdb.DuckDBPyConnection, batch: str, batch_id: str | None) -> int:
    """Add the runs of the column-wise batch in schema `batch` that the store lacks; returns how many."""
    con.execute(f"CREATE TEMP TABLE fresh AS SELECT run_id, task_id, config_id FROM {batch}.runs "
                "ANTI JOIN runs USING (run_id)")
    con.execute(f"INSERT OR IGNORE INTO tasks SELECT * FROM {batch}.tasks "
                "WHERE task_id IN (SELECT task_id FROM fresh)")
    con.execute(f"INSERT OR IGNORE INTO schedules SELECT * FROM {batch}.schedules "
                "WHERE config_id IN (SELECT config_id FROM fresh)")
    con.execute(f"INSERT INTO runs SELECT * FROM {batch}.runs SEMI JOIN fresh USING (run_id)")
    con.execute(f"INSERT INTO curves SELECT * FROM {batch}.curves SEMI JOIN fresh USING (run_id)")
    refresh_cells(con, [task_id for (task_id,) in con.execute("SELECT DISTINCT task_id FROM fresh").fetchall()])
    if batch_id is not None:
        con.execute("INSERT INTO ingest_batches SELECT run_id, ?, ? FROM fresh", [batch_id, utc_now()])
    added = int(con.execute("SELECT count(*) FROM fresh").fetchone()[0])  # type: ignore[index]
    con.execute("DROP TABLE fresh")
    return added
