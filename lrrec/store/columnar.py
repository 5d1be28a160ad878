"""Column-wise validation of an interchange file (JSONL, CSV, Parquet): the row parser's checks and normalisation
run on DuckDB columns, so that ingest reads tens of thousands of runs/s (`benchmarks/bench_store.py`).

`validate_file(kind, path, parser, con, folder)` returns a `ColumnarBatch`, a schema of the in-memory DuckDB `con`
holding the file's runs, curve points, tasks and schedule configs exactly as the row parser
(`interchange.RowParser`) and the writer would store them (the store is then attached to `con` and written from it,
one INSERT ... SELECT per table), or None when any row might be refused or read differently (see `columnar_load`):
the row parser then reads the file and names the bad rows. The distinct values of each column go through the row
parser's own checks once (`FIELDS`, tasks, schedule configs, status and direction); numbers and curve points are
checked in SQL by the same rules (`columnar_sql`); a run without a run_id gets the same SHA-256 of the same
canonical JSON, built in SQL (DuckDB writes a DOUBLE as Python's repr does, which a test holds it to).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from lrrec.errors import LrrecError
from lrrec.fields import Number, check_nested, strict_json
from lrrec.schedules.config import LR_PARAM
from lrrec.store.access import duckdb_connection
from lrrec.store.columnar_load import load
from lrrec.store.columnar_sql import Decline, build_points, content_sql, curves_json_sql, number_sql
from lrrec.store.interchange import _FRACTION_WORDS, CURVE_FIELDS, FIELDS, RowParser, _check_outcome, canonical_json
from lrrec.store.schema import migrate
from lrrec.store.tabular import _present
from lrrec.store.upkeep import utc_now
from lrrec.store.writer import insert_rows, schedule_row, task_row

_NUMBERS = {key: kind for key, kind in FIELDS.items() if isinstance(kind, Number)}
_CURVE_NUMBERS = {key: kind for key, kind in CURVE_FIELDS.items() if isinstance(kind, Number)}
_TEXTS = ("optimizer", "device", "lrrec_version", "notes")  # hashed text fields (metric, status: the outcome)
_OBJECTS = ("optimizer_params", "library_versions", "extra")
_LR_MARK = 0.123456789012345  # stands for a row's LR in a schedule config's JSON
_BATCHES = "SELECT count(*) FROM duckdb_schemas() WHERE database_name = 'memory' AND schema_name LIKE 'batch%'"


@dataclass(frozen=True)
class ColumnarBatch:
    """A validated file's runs in schema `schema` of the scratch connection's in-memory database (tables runs,
    curves, tasks, schedules as in the store, one run per run_id: the first of the file's rows that share one)."""

    schema: str
    rows: int  # rows read from the file (runs: fewer where rows share a run_id)


def scratch_connection(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for `validate_file`'s batches, spilling to `folder` (the store is attached to it to
    write them: `Store.add_parts`)."""
    return duckdb_connection(temp_directory=str(folder))


def validate_file(kind: str, path: Path, parser: RowParser, con: duckdb.DuckDBPyConnection,
                  folder: Path) -> ColumnarBatch | None:
    """The file's runs validated column-wise into a new schema of `con` (a `scratch_connection`), or None to leave
    it to the row parser; `folder` is a scratch folder."""
    schema = f"batch{con.execute(_BATCHES).fetchone()[0]}"  # type: ignore[index]
    con.execute(f"CREATE SCHEMA memory.{schema}")
    con.execute(f"USE memory.{schema}")
    try:
        loaded = load(con, kind, path, folder)
        if loaded is not None:
            _Columns(con, loaded.columns, parser, str(path)).build()
            return ColumnarBatch(schema, loaded.rows)
    except (Decline, duckdb.Error, LrrecError, TypeError, ValueError, ArithmeticError, RecursionError):
        pass
    finally:
        con.execute("USE memory.main")
    con.execute(f"DROP SCHEMA memory.{schema} CASCADE")
    return None


def _holds_big_whole_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer() and abs(value) >= 1e18
    if isinstance(value, dict):
        return any(_holds_big_whole_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_big_whole_float(v) for v in value)
    return False


def _point_extra(value: Any, holds: str) -> str | None:
    """A curve point's extra as the row parser checks it (nesting counted from the curves list), canonical."""
    if holds == "json" and value is not None:
        value = strict_json(value)
        if _holds_big_whole_float(value):
            raise Decline
    elif holds != "json":
        value = _present(value)
    check_nested("curves", value, 2)
    value = CURVE_FIELDS["extra"].check("extra", value)
    return None if value is None else canonical_json(value)


class _Columns:
    """One file's columns in `raw`, turned into the store's tables (`build`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, holds: dict[str, str], parser: RowParser, where: str) -> None:
        self.con, self.holds, self.parser, self.where = con, holds, parser, where
        self.tasks: dict[str, Any] = {}
        self.schedules: list[dict[str, Any]] = []

    # -- distinct values through the row parser's checks ------------------------------------------------
    def python_value(self, key: str, value: Any) -> Any:
        """A column's value as the row parser sees it, checked by the field's kind."""
        holds = self.holds.get(key)
        if holds == "json" and value is not None:
            value = strict_json(value)
            if isinstance(value, (dict, list)) and _holds_big_whole_float(value):
                raise Decline  # DuckDB wrote back as a float what may have been a long integer
        elif holds not in ("json", "text"):
            value = _present(value)
        check_nested(key, value)
        return FIELDS[key].check(key, value, holds == "text")

    def mapped(self, name: str, keys: Sequence[str], outputs: Sequence[str],
               compute: Callable[[list[Any]], Sequence[Any]]) -> str:
        """Make table `m_<name>`: each distinct combination of the `keys` columns and `compute` of their values
        (VARCHAR `outputs`); returns the join condition on raw."""
        present = [k for k in keys if k in self.holds]
        key_sql = [f"raw.{k}::VARCHAR" if self.holds[k] in ("json", "text") else f"to_json(raw.{k})::VARCHAR"
                   for k in present]
        groups: list[tuple[Any, ...]] = [()]
        if present:
            values = [f"any_value(raw.{k})" for k in present]
            groups = self.con.execute(f"SELECT {', '.join(key_sql + values)} FROM raw "
                                      f"GROUP BY {', '.join(key_sql)}").fetchall()
        results = []
        for group in groups:
            given = dict(zip(present, group[len(present):]))
            results.append(compute([given.get(k) for k in keys]))
        columns = [[group[i] for group in groups] for i in range(len(present))]
        columns += [[result[i] for result in results] for i in range(len(outputs))]
        names = [f"k{i}" for i in range(len(present))] + list(outputs)
        picks = ", ".join(f"unnest(${i}::VARCHAR[]) AS {n}" for i, n in enumerate(names, start=1))
        self.con.execute(f"CREATE TABLE m_{name} AS SELECT {picks}", columns)
        return " AND ".join([f"{sql} IS NOT DISTINCT FROM m_{name}.k{i}" for i, sql in enumerate(key_sql)] or ["true"])

    def _task(self, values: list[Any]) -> tuple[str]:
        task = self.parser._task(self.python_value("task", values[0]))
        self.tasks[task.task_id] = task
        return (task.task_id,)

    def _schedule(self, values: list[Any]) -> tuple[str, str, str]:
        name, params = self.python_value("schedule", values[0]), self.python_value("schedule_params", values[1])
        if not isinstance(name, str) or name.lstrip().startswith("{") or "lr" in (params or {}):
            raise Decline
        config, _ = self.parser._schedule(name, None, params)
        row = schedule_row(replace(config, lr=_LR_MARK), "")
        parts = row["config"].split(repr(_LR_MARK))
        if len(parts) != 2:
            raise Decline
        prefix, suffix = parts
        self.schedules.append(row)
        return str(len(self.schedules) - 1), prefix, suffix

    def _outcome(self, values: list[Any]) -> tuple[str, str, str, str, str]:
        outcome = {k: self.python_value(k, v) for k, v in zip(("status", "direction", "metric_name"), values)}
        if outcome["metric_name"] is None:
            raise Decline
        _check_outcome(outcome)
        fraction = any(word in outcome["metric_name"].lower() for word in _FRACTION_WORDS)
        name = outcome["metric_name"]
        return outcome["status"], outcome["direction"], name, str(fraction).lower(), json.dumps(name)

    def _text(self, key: str) -> Callable[[list[Any]], tuple[str | None, str]]:
        def compute(values: list[Any]) -> tuple[str | None, str]:
            value = self.python_value(key, values[0])
            return value, json.dumps(value)
        return compute

    def _object(self, key: str) -> Callable[[list[Any]], tuple[str | None, str]]:
        def compute(values: list[Any]) -> tuple[str | None, str]:
            value = self.python_value(key, values[0])
            text = None if value is None else canonical_json(value)
            return text, text or "null"
        return compute

    def _time(self, values: list[Any]) -> tuple[str | None, str]:
        value: datetime | None = self.python_value("created_at", values[0])
        return (None, "") if value is None else (value.isoformat(), f',"created_at":"{value.isoformat()}"')

    # -- the tables -----------------------------------------------------------------------------------------
    def build(self) -> None:
        if any(k not in self.holds for k in ("task", "schedule", "metric_name")):
            raise Decline
        joins = [("task", self.mapped("task", ["task"], ["task_id"], self._task)),
                 ("sched", self.mapped("sched", ["schedule", "schedule_params"], ["gid", "prefix", "suffix"],
                                       self._schedule)),
                 ("outcome", self.mapped("outcome", ["status", "direction", "metric_name"],
                                         ["status", "direction", "metric_name", "fraction", "piece"], self._outcome)),
                 ("created_at", self.mapped("created_at", ["created_at"], ["v", "piece"], self._time))]
        joins += [(k, self.mapped(k, [k], ["v", "piece"], self._text(k))) for k in _TEXTS]
        joins += [(k, self.mapped(k, [k], ["v", "piece"], self._object(k))) for k in _OBJECTS]
        joins += [(k, self.mapped(k, [k], ["v", "piece"], self._text(k))) for k in ("run_id", "source", "source_ref")]
        numbers = {k: number_sql(f"raw.{k}", self.holds[k], kind) if k in self.holds else ("NULL", "false")
                   for k, kind in _NUMBERS.items()}
        from_sql = "raw " + " ".join(f"JOIN m_{name} ON {on}" for name, on in joins)
        number_cols = ", ".join(f"{value} AS n_{k}" for k, (value, _) in numbers.items())
        bad = " OR ".join(bad for _, bad in numbers.values())
        picks = ", ".join(f"m_{k}.v AS {k}, m_{k}.piece AS p_{k}" for k in [*_TEXTS, *_OBJECTS, "created_at"])
        self.con.execute(f"""CREATE VIEW v AS SELECT raw._row, raw._line, raw._given_ref, {number_cols},
            {bad} AS _bad,
            m_task.task_id, m_sched.gid::BIGINT AS gid, m_sched.prefix, m_sched.suffix, m_outcome.status,
            m_outcome.direction, m_outcome.metric_name, m_outcome.fraction::BOOLEAN AS fraction,
            m_outcome.piece AS p_metric_name, {picks}, m_run_id.v AS given_id, m_source.v AS source,
            m_source_ref.v AS source_ref FROM {from_sql}""")
        self._curves()
        self._runs()
        self._write()

    def _curves(self) -> None:
        point_holds = build_points(self.con, self.holds.get("curves"))
        if not set(point_holds) <= set(CURVE_FIELDS):
            raise Decline
        numbers = {k: number_sql(k, point_holds[k], kind) if k in point_holds else ("NULL", "false")
                   for k, kind in _CURVE_NUMBERS.items()}
        extra, join = "NULL", ""
        if "extra" in point_holds:
            holds = point_holds["extra"]
            keyed = "pts.extra::VARCHAR" if holds == "json" else "to_json(pts.extra)::VARCHAR"
            groups = self.con.execute(f"SELECT {keyed}, any_value(extra) FROM pts GROUP BY 1").fetchall()
            self.con.execute("CREATE TABLE m_pextra AS SELECT unnest($1::VARCHAR[]) AS k, unnest($2::VARCHAR[]) "
                             "AS v", [[key for key, _ in groups], [_point_extra(value, holds) for _, value in groups]])
            extra, join = "m_pextra.v", f"LEFT JOIN m_pextra ON {keyed} IS NOT DISTINCT FROM m_pextra.k"
        cols = ", ".join(f"{value} AS {k}" for k, (value, _) in numbers.items())
        bad = " OR ".join(b for _, b in numbers.values())
        self.con.execute(f"""CREATE TABLE pv AS SELECT pts._row, pts._idx, pts._bad OR {bad} AS _bad, {cols},
            {extra} AS extra FROM pts {join}""")
        self.con.execute(f"""CREATE TABLE agg AS SELECT _row, {curves_json_sql()} AS curves,
            bool_or(_bad OR (step IS NULL AND epoch IS NULL)) AS _bad, max(val_metric) AS top,
            min(val_metric) AS bottom, bool_or(val_metric < 0 OR val_metric > 1) AS outside FROM pv GROUP BY _row""")

    def _runs(self) -> None:
        """Table `c`: each row's run columns, run_id, schedule config and whether the row parser would refuse it."""
        assert LR_PARAM.valid is not None and LR_PARAM.open_low and not LR_PARAM.open_high
        low, high = LR_PARAM.valid
        source = f"CASE WHEN source IS NULL OR {str(self.parser.source_override).lower()} THEN ? ELSE source END"
        ref = "CASE WHEN _given_ref THEN source_ref ELSE ? || ':' || _line END"  # given (null stays null), or where
        self.con.execute(f"""CREATE TABLE c AS SELECT * EXCLUDE (curves),
            coalesce(nullif(given_id, ''), sha256({content_sql()})) AS run_id, {source} AS run_source,
            {ref} AS run_ref, coalesce(created_at::TIMESTAMP, ?::TIMESTAMP) AS run_created
            FROM (SELECT *, sha256(config) AS config_id,
                _bad OR p_bad OR (status = 'finished' AND n_final_metric IS NULL)
                OR (n_lr IS NOT NULL AND NOT (n_lr > {low!r} AND n_lr <= {high!r}))
                OR (fraction AND (outside OR NOT (coalesce(n_final_metric, 0) BETWEEN 0 AND 1)
                    OR NOT (coalesce(best, 0) BETWEEN 0 AND 1) OR NOT (coalesce(n_target_value, 0) BETWEEN 0 AND 1)))
                OR (direction = 'max' AND n_final_metric > best) OR (direction = 'min' AND n_final_metric < best)
                AS refused
            FROM (SELECT v.*, coalesce(n_best_metric, CASE WHEN direction = 'max'
                      THEN greatest(n_final_metric, a.top) ELSE least(n_final_metric, a.bottom) END) AS best,
                  coalesce(a.curves, '[]') AS curves, coalesce(n_lr, 0.1) AS lr_used,
                  prefix || lr_used::VARCHAR || suffix AS config,
                  coalesce(a._bad, false) OR v._row IN (SELECT _row FROM cbad) AS p_bad,
                  coalesce(a.outside, false) AS outside FROM v LEFT JOIN agg a USING (_row)))""",
                         [self.parser.source, self.where, utc_now()])
        if self.con.execute("SELECT bool_or(refused) FROM c").fetchone()[0]:  # type: ignore[index]
            raise Decline

    def _write(self) -> None:
        """The batch's tables: runs (the first row of each run_id), their curve points, tasks and configs (runs,
        curves and configs as views, computed once as they are written to the store)."""
        con = self.con
        migrate(con, 0)  # tasks as in a store
        for table in ("runs", "curves", "schedules"):
            con.execute(f"DROP TABLE {table}")
        if con.execute("SELECT count(*) > count(DISTINCT run_id) FROM c").fetchone()[0]:  # type: ignore[index]
            con.execute("CREATE TABLE kept AS SELECT * FROM c QUALIFY row_number() OVER (PARTITION BY run_id "
                        "ORDER BY _row) = 1")
        else:
            con.execute("CREATE VIEW kept AS SELECT * FROM c")
        con.execute("""CREATE VIEW runs AS
            SELECT run_id, task_id, config_id, n_seed AS seed, optimizer, optimizer_params,
                n_batch_size AS batch_size, n_epochs AS epochs, n_steps AS steps, status, metric_name, direction,
                n_final_metric AS final_metric, best AS best_metric, n_target_value AS target_value,
                n_time_to_target_s AS time_to_target_s, n_step_to_target AS step_to_target,
                n_wall_time_s AS wall_time_s, device, lrrec_version, library_versions, run_source AS source,
                run_ref AS source_ref, run_created AS created_at, notes, extra
            FROM kept""")
        con.execute("""CREATE VIEW curves AS SELECT kept.run_id, pv.step, pv.epoch, pv.lr, pv.train_loss,
                       pv.val_loss, pv.val_metric, pv.extra FROM pv JOIN kept USING (_row)""")
        self._write_tasks_and_schedules()

    def _write_tasks_and_schedules(self) -> None:
        insert_rows(self.con, "tasks", [task_row(t) for t in self.tasks.values()])
        groups = [[row[k] for row in self.schedules] for k in ("name", "family", "params", "warmup")]
        self.con.execute("CREATE TABLE groups AS SELECT unnest(range(len($1::VARCHAR[]))) AS gid, "
                         "unnest($1::VARCHAR[]) AS name, unnest($2::VARCHAR[]) AS family, unnest($3::VARCHAR[]) AS "
                         "params, unnest($4::VARCHAR[]) AS warmup", groups)
        self.con.execute("CREATE VIEW schedules AS SELECT config_id, any_value(name) AS name, any_value(family) AS "
                         "family, any_value(lr_used) AS lr, any_value(params) AS params, any_value(warmup) AS warmup, "
                         "any_value(config) AS config FROM c JOIN groups USING (gid) GROUP BY config_id")
