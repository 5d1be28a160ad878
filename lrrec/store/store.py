"""`open_store` and `Store`: the DuckDB experience store (the only code in lrrec that talks SQL).

Every operation opens a short connection, does one transaction and closes it (`Store.reading` shares one among a
command's reads), under the store's lock (`access.py`), so several processes can share one store file: writers
take turns, readers share. A busy store is waited for, never reported. A process killed mid-transaction loses
only that transaction (DuckDB's write-ahead log); a bulk write killed midway leaves only a copy that the next
writer deletes.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from lrrec.errors import InvalidValueError, StoreError
from lrrec.fingerprint import TaskFingerprint
from lrrec.paths import writable_folder
from lrrec.schedules import ScheduleConfig
from lrrec.store.access import (
    LOCK_TIMEOUT_S,
    MIN_FREE_BYTES,
    check_store_file,
    connect,
    copied,
    count_of,
    file_lock,
    require_free_space,
    second_connection,
    transaction_on,
)
from lrrec.store.cells import CELL_COLUMNS, KEY_ORDER, ExperienceReader, read_summaries
from lrrec.store.interchange import TABLE_SUFFIXES, RunRecord
from lrrec.store.run import Run
from lrrec.store.schema import SCHEMA_VERSION, migrate, schema_version
from lrrec.store.upkeep import owner_row, stale_runs
from lrrec.store.writer import write_parts, write_records

EXPORT_FORMATS = ("parquet", "csv", "jsonl")
_EXPORT_SQL = """
SELECT r.run_id, t.fingerprint AS task, s.config AS schedule, r.seed, r.optimizer, r.optimizer_params,
       r.batch_size, r.epochs, r.steps, r.status, r.metric_name, r.direction, r.final_metric, r.best_metric,
       r.target_value, r.time_to_target_s, r.step_to_target, r.wall_time_s, r.device, r.lrrec_version,
       r.library_versions, r.source, r.source_ref, strftime(r.created_at, '%Y-%m-%dT%H:%M:%S.%f') AS created_at,
       r.notes, r.extra, c.curves
FROM runs r JOIN tasks t USING (task_id) JOIN schedules s USING (config_id)
LEFT JOIN (SELECT run_id, to_json(list(struct_pack(step, epoch, lr, train_loss, val_loss, val_metric, extra)
                                       ORDER BY step, epoch)) AS curves
           FROM curves GROUP BY run_id) c USING (run_id)
ORDER BY r.created_at, r.run_id
"""
_CELLS_SQL = f"SELECT {', '.join(CELL_COLUMNS)} FROM cells WHERE score IS NOT NULL {{near}} ORDER BY {KEY_ORDER}"


def default_store_path() -> Path:
    """The store used when neither `--store` nor `LRREC_STORE` names one: the user's data folder."""
    import platformdirs

    return Path(platformdirs.user_data_dir("lrrec")) / "store.duckdb"


def chosen_store_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The store path: `path` > `$LRREC_STORE` > the user data folder; a symlink means the file it points to
    (one store, one lock, whichever name reaches it)."""
    chosen = Path(path or os.environ.get("LRREC_STORE") or default_store_path()).expanduser()
    return chosen.resolve() if chosen.is_symlink() else chosen


def require_existing(path: Path) -> None:
    """Refuse a store path with no file behind it (a typo must not become a new, empty store)."""
    if not path.exists():
        raise StoreError(f"no store at {path}; check the path, or make a new store there with "
                         f"`lrrec store init --store {path}`")


def open_store(path: str | os.PathLike[str] | None = None, lock_timeout_s: float = LOCK_TIMEOUT_S,
               create: bool = True) -> Store:
    """Open (creating, and migrating at its first use) the store at `path` > `$LRREC_STORE` > the user data folder.

    With `create=False` a missing store is an error, so a mistyped path never becomes a new, empty store.
    """
    store = Store(chosen_store_path(path), lock_timeout_s)
    if not create:
        require_existing(store.path)
    check_store_file(store.path)
    if not store.path.exists():
        store.ensure_schema()
    return store  # an existing store's schema is checked (and migrated) by its first transaction


@dataclass(frozen=True)
class StoreInfo:
    """What `Store.info` counts (`lrrec store info`); each `by_*` maps a name to its runs, most first."""

    path: str
    schema_version: int
    runs: int
    tasks: int
    schedule_configs: int
    curve_points: int
    by_source: dict[str, int]
    by_task: dict[str, int]
    by_family: dict[str, int]
    by_status: dict[str, int]
    stale_runs: int  # running, but their process is gone

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExperienceRows:
    """What the recommender reads: every task (task_id, fingerprint JSON), every schedule config (config_id, name,
    family, lr, params JSON, warmup JSON), every scored cell (`cells.CELL_COLUMNS`, in key order) or, read with an
    `ExperienceReader` (which takes the cells of the tasks it reads whole), every task's best cell per comparison
    group and shape and its warmup gains (`cells.summary_sql`)."""

    tasks: list[tuple[Any, ...]]
    schedules: list[tuple[Any, ...]]
    cells: list[tuple[Any, ...]] = field(default_factory=list)
    bests: list[tuple[Any, ...]] = field(default_factory=list)
    gains: list[tuple[Any, ...]] = field(default_factory=list)


class Store:
    """One store file. Cheap to create; holds no connection between calls."""

    def __init__(self, path: Path, lock_timeout_s: float = LOCK_TIMEOUT_S) -> None:
        self.path = path
        self.lock_timeout_s = lock_timeout_s
        self.created = False  # set by `ensure_schema` when it made the file
        self._schema_checked = False  # the file's schema version was found current (see `transaction`)
        self._readers: dict[int, duckdb.DuckDBPyConnection] = {}  # per thread, the transaction of `reading`

    # -- connections -------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction, under the store's lock (shared when not `write`).

        Committed on success, rolled back on any exception; DuckDB failures become one-line `StoreError`s. The
        first transaction checks the schema version on its own connection and migrates an older store first.
        Inside `reading`, a read shares that block's transaction.
        """
        reader = self._readers.get(threading.get_ident())
        if reader is not None:
            if write:
                raise RuntimeError("a store write inside Store.reading()")
            yield reader
            return
        while True:
            with file_lock(self.path, exclusive=write, timeout_s=self.lock_timeout_s):
                if not self.path.exists():
                    raise StoreError(f"store {self.path} was removed while in use; pass --store PATH again")
                if write:
                    require_free_space(self.path.parent, MIN_FREE_BYTES)
                con = connect(self.path, read_only=not write, timeout_s=self.lock_timeout_s)
                with transaction_on(con, self.path) as con:
                    if self._schema_current(con):
                        yield con
                        return
            self._migrate()

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Serve every read of this thread inside the block from one read transaction: one connection and one
        snapshot for a command that reads several times (`lrrec suggest`). Writing inside it is an error."""
        with self.transaction(write=False) as con:
            self._readers[threading.get_ident()] = con
            try:
                yield
            finally:
                del self._readers[threading.get_ident()]

    @contextmanager
    def bulk_transaction(self, into: duckdb.DuckDBPyConnection | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on a copy that replaces the store once complete: a failure leaves it as it was. With
        `into`, the copy is attached to that connection (`access.copied`)."""
        if not self._schema_checked and self.path.exists():
            self.ensure_schema()
        with file_lock(self.path, exclusive=True, timeout_s=self.lock_timeout_s), \
                copied(self.path, self.lock_timeout_s, into) as con:
            yield con

    def ensure_schema(self) -> None:
        """Create or migrate the schema; a new store also receives the bundled literature results and corpus."""
        check_store_file(self.path)
        if self.path.exists():
            with self.transaction(write=False):  # checks the version, migrating an older store
                return
        self._migrate()

    def _schema_current(self, con: duckdb.DuckDBPyConnection) -> bool:
        """Whether the store behind `con` has this lrrec's schema (checked once per `Store`); a newer one is an
        error."""
        if not self._schema_checked:
            current = self._version(con)
            self._schema_checked = current == SCHEMA_VERSION
        return self._schema_checked

    def _version(self, con: duckdb.DuckDBPyConnection) -> int:
        """The schema version of the store behind `con`; one newer than this lrrec's is an error."""
        current = schema_version(con)
        if current > SCHEMA_VERSION:
            raise StoreError(f"store {self.path} has schema version {current}, newer than this lrrec's "
                             f"{SCHEMA_VERSION}; upgrade lrrec")
        return current

    def _migrate(self) -> None:
        """Bring the store to this schema on a copy, swapped in whole (a new store appears whole or not at all)."""
        with file_lock(self.path, exclusive=True, timeout_s=self.lock_timeout_s), \
                copied(self.path, self.lock_timeout_s) as con:
            current = self._version(con)
            self.created = current == 0  # decided under the lock: of two processes, one made it
            if current < SCHEMA_VERSION:
                migrate(con, current)
            if current == 0:
                from lrrec.store.bundled import literature_records, load_corpus

                write_records(con, literature_records())
                load_corpus(con)
        self._schema_checked = True

    # -- writing -----------------------------------------------------------------------------------------
    def start_run(self, task: TaskFingerprint | Mapping[str, Any] | str,
                  schedule: ScheduleConfig | Mapping[str, Any] | str, **settings: Any) -> Run:
        """Begin a run (recorded now as `running`); use as `with store.start_run(...) as run:`. See `Run`."""
        return Run.begin(self, task, schedule, **settings)

    def add_records(self, records: Sequence[RunRecord], copy_first: bool = False,
                    batch_id: str | None = None) -> tuple[int, int]:
        """Write validated runs in one transaction; returns (added, already present).

        `copy_first` (bulk input) writes a copy of the store and swaps it in, so a failure frees what it wrote;
        `batch_id` records the runs added as one ingest batch (`lrrec store rm --batch`).
        """
        with self.bulk_transaction() if copy_first else self.transaction() as con:
            return write_records(con, records, batch_id)

    def add_parts(self, parts: Sequence[list[RunRecord] | str], batch_id: str,
                  scratch: duckdb.DuckDBPyConnection | None = None) -> tuple[int, int]:
        """Write the runs of an ingest (`writer.write_parts`; schema names are batches in `scratch`, which this
        closes) as one batch, all or nothing (on a copy of the store, swapped in once committed); returns (added,
        already present)."""
        with self.bulk_transaction(scratch) as con:
            return write_parts(con, parts, batch_id)

    def begin_run(self, record: RunRecord) -> None:
        """Write a `running` run and the process writing it (host, pid, heartbeat), in one transaction."""
        with self.transaction() as con:
            write_records(con, [record])
            con.execute("INSERT INTO run_owners VALUES (?, ?, ?, ?)", owner_row(record.run_id))

    # -- reading -----------------------------------------------------------------------------------------
    def runs(self, source: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Every run (optionally of one source/status) with its task name, schedule name/family and config."""
        where, params = _filters({"r.source": source, "r.status": status})
        return self._query(f"""SELECT r.*, t.name AS task, s.name AS schedule, s.family, s.config AS schedule_config
                               FROM runs r JOIN tasks t USING (task_id) JOIN schedules s USING (config_id)
                               {where} ORDER BY r.created_at, r.run_id""", params)

    def curves(self, run_id: str) -> list[dict[str, Any]]:
        """The curve points of one run, in step/epoch order."""
        return self._query("SELECT * FROM curves WHERE run_id = ? ORDER BY step, epoch", [run_id])

    def tasks(self) -> list[dict[str, Any]]:
        """Every task with its feature columns."""
        return self._query("SELECT * FROM tasks ORDER BY name, task_id", [])

    def experience_rows(self, reader: ExperienceReader | None = None) -> ExperienceRows:
        """The recommender's input, read in one transaction (see `ExperienceRows`): every scored cell, or with a
        `reader` the cells of the tasks it picks (given to it) and every task's `cells.summary_sql` summary, which
        DuckDB computes on a second connection while the reader works."""
        with self.transaction(write=False) as con:
            schedules = con.execute("SELECT config_id, name, family, lr, params, warmup FROM schedules").fetchall()
            tasks_sql = "SELECT task_id, fingerprint FROM tasks ORDER BY task_id"
            if reader is None:
                return ExperienceRows(con.execute(tasks_sql).fetchall(), schedules,
                                      cells=con.execute(_CELLS_SQL.format(near="")).fetchall())
            with ThreadPoolExecutor(1) as pool, second_connection(con) as other:
                summaries = pool.submit(read_summaries, other, reader.configs(schedules))
                tasks = con.execute(tasks_sql).fetchall()
                scored = {task_id for (task_id,) in con.execute(
                    "SELECT DISTINCT task_id FROM cells WHERE score IS NOT NULL").fetchall()}
                near = list(reader.near(tasks, scored))
                reader.take(con.execute(_CELLS_SQL.format(near="AND task_id IN (SELECT unnest(?::VARCHAR[]))"),
                                        [near]).fetchall())
                bests, gains = summaries.result()
        return ExperienceRows(tasks, schedules, bests=bests, gains=gains)

    def stored_task(self, dataset: str, model: str) -> TaskFingerprint | None:
        """The fingerprint of the task of this dataset and model (case aside) with the most runs, if any."""
        with self.transaction(write=False) as con:
            row = con.execute("""SELECT t.fingerprint FROM tasks t LEFT JOIN runs r USING (task_id)
                                 WHERE lower(t.dataset) = lower(?) AND lower(t.model) = lower(?)
                                 GROUP BY t.task_id, t.fingerprint ORDER BY count(r.run_id) DESC, t.task_id LIMIT 1""",
                              [dataset, model]).fetchone()
        return None if row is None else TaskFingerprint.from_stored(row[0])

    def run_ids(self, keys: Sequence[tuple[str, str, str]], limit: int = 3) -> dict[tuple[str, str, str], list[str]]:
        """Per (task_id, config_id, metric_name): the ids of its first `limit` runs, in one query."""
        wanted = list(dict.fromkeys(keys))
        out: dict[tuple[str, str, str], list[str]] = {key: [] for key in wanted}
        if not wanted:
            return out
        with self.transaction(write=False) as con:
            rows = con.execute("""SELECT task_id, config_id, metric_name, run_id FROM runs
                SEMI JOIN (SELECT unnest(?::VARCHAR[]) AS task_id, unnest(?::VARCHAR[]) AS config_id,
                                  unnest(?::VARCHAR[]) AS metric_name) USING (task_id, config_id, metric_name)
                QUALIFY row_number() OVER (PARTITION BY task_id, config_id, metric_name ORDER BY run_id) <= ?
                ORDER BY run_id""", [*map(list, zip(*wanted)), limit]).fetchall()
        for task_id, config_id, metric_name, run_id in rows:
            out[(task_id, config_id, metric_name)].append(run_id)
        return out

    def run_row(self, run_id: str) -> dict[str, Any]:
        """One run as an interchange row, as `export` writes it (`lrrec ingest` reads it back as the same run)."""
        rows = self._query(f"SELECT * FROM ({_EXPORT_SQL}) WHERE run_id = ?", [run_id])
        return {k: v for k, v in rows[0].items() if v is not None}

    def _query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        with self.transaction(write=False) as con:
            cursor = con.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]

    def info(self) -> StoreInfo:
        """Counts: runs, tasks, configs, curve points, runs by source, task, family and status, stale runs."""
        with self.transaction(write=False) as con:
            def count(sql: str) -> int:
                return count_of(con, sql)

            def grouped(expr: str) -> dict[str, int]:
                rows = con.execute(f"""SELECT {expr} AS k, count(*) AS n FROM runs r JOIN tasks t USING (task_id)
                                       JOIN schedules s USING (config_id) GROUP BY k ORDER BY n DESC, k""").fetchall()
                return {str(k): int(n) for k, n in rows}

            return StoreInfo(path=str(self.path), schema_version=schema_version(con),
                             runs=count("SELECT count(*) FROM runs"), tasks=count("SELECT count(*) FROM tasks"),
                             schedule_configs=count("SELECT count(*) FROM schedules"),
                             curve_points=count("SELECT count(*) FROM curves"),
                             by_source=grouped("r.source"), by_task=grouped("t.name"),
                             by_family=grouped("s.family"), by_status=grouped("r.status"),
                             stale_runs=len(stale_runs(con)))

    def export(self, out: str | os.PathLike[str], fmt: str | None = None, source: str | None = None) -> int:
        """Write every run (of `source`, if given) as interchange rows (curves nested) to `out` as parquet, csv or
        jsonl; returns how many. The format is `fmt`, else the one `out`'s suffix names (see `export_format`)."""
        option = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER", "jsonl": "FORMAT json"}[
            export_format(out, fmt)]
        where, params = _filters({"source": source})
        with self.transaction(write=False) as con:
            con.execute(f"COPY (SELECT * FROM ({_EXPORT_SQL}) {where}) TO ? ({option})", [*params, str(out)])
            return count_of(con, f"SELECT count(*) FROM runs {where}", params)

    def export_rows(self, source: str | None = None) -> list[dict[str, Any]]:
        """Every run (of `source`, if given) as an interchange row, its curve nested, JSON columns as data."""
        where, params = _filters({"source": source})
        with self.transaction(write=False) as con:
            cursor = con.execute(f"SELECT * FROM ({_EXPORT_SQL}) {where}", params)
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
        for row in rows:
            for key in ("task", "schedule", "optimizer_params", "library_versions", "extra", "curves"):
                if isinstance(row[key], str):
                    row[key] = json.loads(row[key])
        return rows


def export_format(out: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format to export `out` in, checked before any work: `fmt` and `out`'s suffix must agree (so ingest
    reads it back) and its folder must be writable."""
    named = TABLE_SUFFIXES.get(Path(out).suffix.lower())
    fmt = fmt or named
    if named is None or fmt not in EXPORT_FORMATS:  # ingest reads a file by its suffix
        raise InvalidValueError(f"{Path(out).name}: end the file name in .parquet, .csv or .jsonl, so that "
                                f"`lrrec ingest` reads it back")
    if named != fmt:
        raise InvalidValueError(f"{Path(out).name} names {named} but --format is {fmt}; make them agree so "
                                f"`lrrec ingest` can read it back")
    writable_folder(Path(out).parent, "export to")
    return fmt


def _filters(conditions: Mapping[str, Any]) -> tuple[str, list[Any]]:
    used = {column: value for column, value in conditions.items() if value is not None}
    where = " AND ".join(f"{column} = ?" for column in used)
    return (f"WHERE {where}" if where else ""), list(used.values())
