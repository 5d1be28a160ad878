"""`ingest`: read files or Optuna studies in any supported format, validate every row, write all or nothing."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from lrrec.errors import IngestError, InvalidValueError, LrrecError
from lrrec.store.columnar import scratch_connection, validate_file
from lrrec.store.deepobs import read_deepobs
from lrrec.store.interchange import TABLE_SUFFIXES, RowParser, RunRecord
from lrrec.store.store import Store
from lrrec.store.tabular import read_csv, read_jsonl, read_parquet
from lrrec.store.tensorboard import read_tensorboard
from lrrec.store.upkeep import utc_now

FORMATS = ("auto", "jsonl", "csv", "parquet", "optuna", "deepobs", "tensorboard", "mlflow")
_SUFFIXES = {**TABLE_SUFFIXES, ".json": "deepobs", ".db": "optuna", ".sqlite": "optuna", ".sqlite3": "optuna",
             ".log": "optuna", ".journal": "optuna"}
_SHOWN_PROBLEMS = 20


def check_regular_file(target: str) -> None:
    """Refuse a folder, a FIFO or a device before anything reads it (reading would fail or hang)."""
    if "://" in target:
        return
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return  # missing or unreadable: the reader names it
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe" if stat.S_ISFIFO(mode) else "not a regular file"
        raise IngestError(f"{target}: {kind}; give a file to ingest (save piped rows to a file first)")


def detect_format(target: str) -> str:
    """The format of `target` from its URL scheme or suffix; a `.jsonl` holding an Optuna journal is optuna."""
    if target.startswith(("http://", "https://")) or Path(target, "0", "meta.yaml").is_file():
        return "mlflow"  # a tracking server, or an mlruns folder (its default experiment 0)
    if "://" in target:
        return "optuna"
    if ".tfevents." in Path(target).name or Path(target).is_dir():
        return "tensorboard"  # an event file, or a log folder of them
    fmt = _SUFFIXES.get(Path(target).suffix.lower())
    if fmt is None:
        raise IngestError(f"cannot tell the format of {target} from its name; pass --format "
                          f"{'|'.join(FORMATS[1:])}")
    if fmt == "jsonl" and _is_journal(Path(target)):
        return "optuna"
    return fmt


def _is_journal(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            first = json.loads(handle.readline() or b"null")
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(first, dict) and "op_code" in first


@dataclass(frozen=True)
class InputFile:
    """One target read: its path or URL, its format and the rows in it."""

    path: str
    format: str
    rows: int


@dataclass
class ValidatedInput:
    """Every target read and validated: the good records, the invalid rows (`where: reason`), the files; `parts`
    holds the runs to write in input order: lists of records (read row by row) and the schemas of `con` (an
    in-memory DuckDB spilling to the folder `scratch`) holding runs validated column-wise, kept until written
    (`add_validated` discards them)."""

    records: list[RunRecord]
    problems: list[str]
    files: list[InputFile]
    parts: list[list[RunRecord] | str] = field(default_factory=list)
    scratch: Path | None = None
    con: duckdb.DuckDBPyConnection | None = None

    def batch_space(self) -> tuple[duckdb.DuckDBPyConnection, Path]:
        """`con` and `scratch`, made on first use."""
        if self.con is None or self.scratch is None:
            self.scratch = Path(tempfile.mkdtemp(prefix="lrrec-ingest-"))
            self.con = scratch_connection(self.scratch)
        return self.con, self.scratch

    def discard(self) -> None:
        """Drop the column-wise validated runs."""
        if self.con is not None:
            self.con.close()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did (`lrrec ingest` prints it); `batch` names the runs added (None: none were)."""

    store: str
    files: list[InputFile]
    rows: int
    added: int
    duplicates: int
    skipped: list[str]  # the invalid rows left out (with `skip_invalid`), as `where: reason`
    batch: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ingest(store: Store, targets: Sequence[str], *, fmt: str = "auto", source: str | None = None,
           skip_invalid: bool = False, **optuna_options: str | None) -> IngestReport:
    """Validate every row of every target, then add the new runs in one transaction.

    Any invalid row rejects the whole call (nothing is written) unless `skip_invalid`, which adds the good
    rows and reports the others. Runs already in the store are counted as duplicates, not added again.
    `optuna_options` (study, schedule, task, metric) apply to Optuna storages only.
    """
    return add_validated(store, read_inputs(targets, fmt=fmt, source=source, skip_invalid=skip_invalid,
                                            **optuna_options))


def read_inputs(targets: Sequence[str], *, fmt: str = "auto", source: str | None = None, skip_invalid: bool = False,
                **optuna_options: str | None) -> ValidatedInput:
    """Read and validate every row of every target (see `ingest`), touching no store."""
    if fmt not in FORMATS:
        raise InvalidValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if not targets:
        raise InvalidValueError("nothing to ingest; give one or more files or storage URLs")
    validated = ValidatedInput([], [], [])
    try:
        for target in targets:
            _read_target(target, fmt, source, optuna_options, validated)
    except BaseException:
        validated.discard()
        raise
    problems = validated.problems
    if problems and not skip_invalid:
        shown = problems[:_SHOWN_PROBLEMS]
        more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        validated.discard()
        raise IngestError(f"{len(problems)} invalid row(s); nothing was ingested (fix them, or pass "
                          f"--skip-invalid to ingest the valid rows):\n  " + "\n  ".join(shown) + more, problems)
    return validated


def _read_target(target: str, fmt: str, source: str | None, optuna_options: dict[str, str | None],
                 validated: ValidatedInput) -> None:
    """Read and validate one target into `validated`: column-wise where it can be (`columnar.py`), else row by row."""
    if fmt not in ("auto", "tensorboard", "mlflow") or not os.path.isdir(target):  # logs may be folders
        check_regular_file(target)
    kind = detect_format(target) if fmt == "auto" else fmt
    if kind != "optuna" and any(optuna_options.values()):
        raise InvalidValueError("--study/--schedule/--task/--metric apply only to Optuna storages")
    parser = RowParser(source or kind, text=kind == "csv", source_override=source is not None)
    if kind in ("jsonl", "csv", "parquet") and os.path.isfile(target):
        batch = validate_file(kind, Path(target), parser, *validated.batch_space())
        if batch is not None:
            validated.parts.append(batch.schema)
            validated.files.append(InputFile(target, kind, batch.rows))
            return
    start = len(validated.records)
    count = sum(_validate(parser, where, row, validated) for where, row in _reader(kind, target, optuna_options))
    if count == 0:
        raise IngestError(f"{target}: no runs in it (empty or truncated {kind} input); nothing was ingested")
    validated.parts.append(validated.records[start:])
    validated.files.append(InputFile(target, kind, count))


def _validate(parser: RowParser, where: str, row: Any, into: ValidatedInput) -> int:
    """Add one row's record, or its problem as `where: reason`, to `into`; returns 1 (a row was read)."""
    try:
        if isinstance(row, LrrecError):
            raise row
        into.records.append(parser.parse(row, where))
    except LrrecError as exc:
        into.problems.append(_one_line(f"{where}: {exc}"))
    except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:  # input no check foresaw
        into.problems.append(_one_line(f"{where}: cannot read this row ({type(exc).__name__}: {str(exc)[:200]})"))
    return 1


def _one_line(problem: str) -> str:
    """A problem as one printable line, however the data it quotes is written (line breaks, NULs and other
    unprintable characters escaped as Python writes them: \\n, \\x00, \\u2028)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in problem)


def add_validated(store: Store, validated: ValidatedInput) -> IngestReport:
    """Add the validated runs as one ingest batch (all or nothing); the report `lrrec ingest` prints."""
    batch = f"{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    try:
        added, duplicates = store.add_parts(validated.parts, batch_id=batch, scratch=validated.con)
    finally:
        validated.discard()
    return IngestReport(str(store.path), validated.files, sum(f.rows for f in validated.files), added, duplicates,
                        validated.problems, batch if added else None)


def _reader(kind: str, target: str, optuna_options: dict[str, str | None]) -> Iterator[tuple[str, Any]]:
    if kind == "optuna":
        from lrrec.store.optuna_study import read_optuna

        return read_optuna(target, **optuna_options)
    if kind == "mlflow":
        from lrrec.store.mlflow_runs import read_mlflow

        return read_mlflow(target)
    readers: dict[str, Callable[[Path], Iterator[tuple[str, Any]]]] = {
        "jsonl": read_jsonl, "csv": read_csv, "parquet": read_parquet, "deepobs": read_deepobs,
        "tensorboard": read_tensorboard}
    return readers[kind](Path(target))
