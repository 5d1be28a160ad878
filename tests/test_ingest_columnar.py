"""Column-wise ingest (`lrrec/store/columnar.py`) stores exactly what the row parser stores, or declines.

Differential: every input goes through both paths; where the column-wise path accepts a file, the runs, curve
points, tasks and schedule configs it would write equal the row parser's, byte for byte (run ids included);
where the row parser refuses a row, the column-wise path must decline (the row parser then names the row).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import duckdb
import pytest
from fuzzing import fuzz_settings
from hypothesis import given
from hypothesis import strategies as st

from lrrec.errors import LrrecError
from lrrec.store import ingest, open_store
from lrrec.store.columnar import scratch_connection, validate_file
from lrrec.store.ingest import _reader
from lrrec.store.interchange import FIELDS, RowParser
from lrrec.store.schema import migrate
from lrrec.store.writer import write_records

ROWS = [
    {"task": "cifar10/resnet18", "schedule": "cosine", "lr": 0.1, "metric_name": "val_accuracy", "final_metric": 0.942,
     "epochs": 30, "seed": 0},
    {"task": "cifar10/resnet18", "schedule": "multistep", "lr": 1, "schedule_params": {"milestones": [0.5, 0.75]},
     "metric_name": "val_accuracy", "final_metric": 0.936, "epochs": 30.0, "seed": 1, "batch_size": 128,
     "curves": [{"epoch": 1, "val_metric": 0.41}, {"epoch": 30, "val_metric": 0.936, "lr": 1e-05}]},
    {"task": {"name": "mnist/mlp", "n_classes": 10}, "schedule": "step", "lr": 3e-4, "metric_name": "val_loss",
     "final_metric": 0.5, "notes": "é, \"quoted\"", "extra": {"b": [1, 2.5], "a": 3}, "status": "diverged",
     "created_at": "2024-01-02T03:04:05+01:00", "optimizer": "adamw", "optimizer_params": {"betas": [0.9, 0.99]},
     "curves": [{"step": 10, "train_loss": 1e-7, "extra": {"z": 1}}, {"step": 20, "val_loss": 0.4}]},
    {"task": "wine/mlp", "schedule": "warmup_cosine", "schedule_params": {"warmup_frac": 0.1}, "metric_name": "val_f1",
     "final_metric": 0.8, "best_metric": 0.9, "source": "mine", "source_ref": "log 7", "run_id": "given-id",
     "target_value": 0.75, "steps": 100, "step_to_target": 40, "wall_time_s": 12.5, "device": "cpu"},
]
ROWS.append(dict(ROWS[0]))  # a duplicate: one run


def write(folder: Path, fmt: str, rows: list[dict]) -> Path:
    jsonl = folder / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if fmt == "jsonl":
        return jsonl
    if fmt == "parquet":
        out = folder / "rows.parquet"
        duckdb.connect().execute("COPY (SELECT * FROM read_json(?)) TO ? (FORMAT parquet)", [str(jsonl), str(out)])
        return out
    out, columns = folder / "rows.csv", sorted({k for r in rows for k in r})
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([json.dumps(r[k], ensure_ascii=False) if isinstance(r.get(k), (dict, list)) else
                          r.get(k, "") for k in columns] for r in rows)
    return out


def tables(con: duckdb.DuckDBPyConnection) -> dict[str, list]:
    return {"runs": con.execute("SELECT * EXCLUDE (created_at), created_at > '2025-01-01' FROM runs ORDER BY run_id"
                                ).fetchall(),
            "curves": con.execute("SELECT * FROM curves ORDER BY run_id, step, epoch").fetchall(),
            "tasks": con.execute("SELECT * FROM tasks ORDER BY task_id").fetchall(),
            "schedules": con.execute("SELECT * FROM schedules ORDER BY config_id").fetchall()}


def both_paths(path: Path, fmt: str, folder: Path) -> tuple[dict | None, dict | None]:
    """(the column-wise path's tables or None: declined, the row parser's tables or None: a row refused)."""
    parser = RowParser(fmt, text=fmt == "csv")
    scratch = scratch_connection(folder)
    batch = validate_file(fmt, path, parser, scratch, folder)
    if batch is not None:
        scratch.execute(f"USE memory.{batch.schema}")
    fast = None if batch is None else tables(scratch)
    try:
        slow_parser = RowParser(fmt, text=fmt == "csv")
        records = [slow_parser.parse(row, where) if not isinstance(row, LrrecError) else _raise(row)
                   for where, row in _reader(fmt, str(path), {})]
    except (LrrecError, TypeError, ValueError, ArithmeticError, RecursionError):
        return fast, None
    con = duckdb.connect()
    migrate(con, 0)
    write_records(con, records)
    return fast, tables(con)


def _raise(error: LrrecError) -> None:
    raise error


def test_duckdb_writes_a_double_as_python_repr():
    """Run ids hash JSON built in SQL: DuckDB must write every double as Python's repr does."""
    values = [0.1, 1.0, 1e16, 1e15 + 0.5, 1e-4, 1e-5, 5e-324, 1.7976931348623157e308, -0.0, 123456789.125, 2.0**60]
    values += [x * 10.0**e for x in (0.123456789, 0.3, 7.0) for e in range(-30, 30)]
    got = duckdb.connect().execute("SELECT list(x::VARCHAR ORDER BY i) FROM (SELECT unnest($1::DOUBLE[]) AS x, "
                                   "unnest(range(len($1::DOUBLE[]))) AS i)", [values]).fetchone()[0]
    assert got == [repr(x) for x in values]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_column_wise_stores_exactly_what_the_row_parser_stores(tmp_path, fmt):
    fast, slow = both_paths(write(tmp_path, fmt, ROWS), fmt, tmp_path)
    assert fast is not None and slow is not None
    assert fast == slow
    assert len(fast["runs"]) == 4 and len(fast["curves"]) == 4


NASTY = ["1e999", "-1", "0", "1.5", "3.0", "1e300", str(2**63), str(2**63 - 1), "12345678901234567890", "-0.0", "true",
         "null", '""', '"x"', '"0.5"', "[]", "{}", '[{"epoch": 1}]', '[{"epoch": "1"}]', '[{"step": 1.5}]', '[{"x": 1}]',
         '[{"epoch": 1, "extra": {"a": 1e20}}]', '{"a": 12345678901234567890}', '{"milestones": [0.5]}',
         '{"lr": 0.2}', '"2024-01-01T00:00:00"', '"cosine"', '"max"', '"min"', '"diverged"', '"val_loss"', "1e-400",
         '[null]', '[{"epoch": 1, "val_metric": 1.5}]', '{"warmup_frac": 2}', '"{\\"name\\": \\"a/b\\"}"']



def test_a_row_either_lands_the_same_or_goes_to_the_row_parser(tmp_path_factory):
    outcomes: Counter[tuple[str, str]] = Counter()

    @fuzz_settings(120, deadline=None)
    @given(st.sampled_from(["jsonl", "csv", "parquet"]), st.integers(0, len(ROWS) - 2),
           st.sampled_from(sorted(FIELDS)), st.sampled_from(NASTY))
    def run(fmt, index, key, raw):
        rows = [dict(r) for r in ROWS]
        rows[index][key] = json.loads(raw)
        folder = tmp_path_factory.mktemp("fuzz")
        try:
            path = write(folder, fmt, rows)
        except duckdb.Error:
            return  # DuckDB cannot write these values as Parquet
        fast, slow = both_paths(path, fmt, folder)
        assert fast is None or fast == slow
        outcomes[("declined" if fast is None else "accepted", "refused" if slow is None else "valid")] += 1

    run()
    # not vacuous: files accepted (and checked equal) and files with a refused row (declined) both occurred
    assert outcomes["accepted", "valid"] and outcomes["declined", "refused"]


def test_ingest_counts_runs_across_files_as_the_row_parser_does(tmp_path):
    first = write(tmp_path, "jsonl", ROWS)
    second = tmp_path / "again.jsonl"
    second.write_text(first.read_text() + "\n")  # a blank line: the row parser reads this one
    reports = []
    for row_by_row in (False, True):
        store = open_store(tmp_path / f"{row_by_row}.duckdb")
        with mock.patch("lrrec.store.ingest.validate_file", return_value=None) if row_by_row else nullcontext():
            reports.append(ingest(store, [str(first), str(second)]))
        again = ingest(store, [str(first)])
        assert (again.added, again.duplicates) == (0, 4)
    assert [(r.rows, r.added, r.duplicates) for r in reports] == [(10, 4, 0)] * 2


def test_files_validated_column_wise_are_written_together_as_the_row_parser_writes_them(tmp_path):
    """Each file's runs wait in their own schema of one in-memory DuckDB, and the store is attached to it to write
    them: runs shared across files count once, and the store holds what the row parser's store holds."""
    paths = [str(write(tmp_path, fmt, ROWS)) for fmt in ("parquet", "csv", "jsonl")]
    accepted = []

    def spy(*args):
        batch = validate_file(*args)
        accepted.append(batch is not None)
        return batch

    results = []
    for row_by_row in (False, True):
        store = open_store(tmp_path / f"{row_by_row}.duckdb")
        with mock.patch("lrrec.store.ingest.validate_file", side_effect=None if row_by_row else spy,
                        return_value=None):
            report = ingest(store, paths)
        again = ingest(store, paths[:1])
        con = duckdb.connect(str(store.path))
        results.append(((report.rows, report.added, report.duplicates, again.added, again.duplicates),
                        tables(con), con.execute("SELECT count(*) FROM ingest_batches").fetchone()))
        con.close()
    assert accepted == [True] * 3
    assert results[0] == results[1]
    rows, added, duplicates, added_again, duplicates_again = results[0][0]
    assert rows == 3 * len(ROWS) and 4 <= added < rows and duplicates == 0  # each file holds 4 runs; some shared
    assert (added_again, duplicates_again) == (0, 4) and results[0][2] == (added,)
