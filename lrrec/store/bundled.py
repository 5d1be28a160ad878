"""Experience bundled with lrrec, loaded into every new store.

- `literature.jsonl` (source "literature"): published schedule outcomes with citations; each row says in `notes`
  which settings its source left unstated and which lrrec defaults stand in for them. A row's `created_at` is
  January 1 of its publication year, so every store holds identical literature rows.
- `corpus/<table>.parquet` (source "lrrec-corpus"): runs of `lrrec sweep` over the built-in CPU tasks with
  their curves, made by `scripts/build_corpus.py` from lrrec's own validated store tables; each run keeps its
  lrrec and library versions. DuckDB copies them straight into a new store (milliseconds, not a re-parse).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import Any

from lrrec.errors import IngestError, LrrecError
from lrrec.store.interchange import RowParser, RunRecord, strict_json

LITERATURE_FILE = "literature.jsonl"
CORPUS_TABLES = ("tasks", "schedules", "runs", "curves")


def _bundled(name: str, source: str) -> list[RunRecord]:
    resource = files("lrrec") / "data" / name
    if not resource.is_file():
        return []
    text = resource.read_text(encoding="utf-8")
    parser = RowParser(source, source_override=True)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            records.append(parser.parse(strict_json(line), f"{name}:{number}"))
        except LrrecError as exc:  # a packaging bug, not user input
            raise IngestError(f"bundled {name}:{number}: {exc}") from None
    return records


def literature_records() -> list[RunRecord]:
    """The bundled literature prior (source "literature")."""
    return _bundled(LITERATURE_FILE, "literature")


def load_corpus(con: Any) -> int:
    """Copy the bundled corpus tables into the (new) store behind `con`; returns the runs added."""
    folder = files("lrrec") / "data" / "corpus"
    if not folder.joinpath("runs.parquet").is_file():
        return 0
    before = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    for table in CORPUS_TABLES:
        with as_file(folder.joinpath(f"{table}.parquet")) as path:
            verb = "INSERT" if table == "curves" else "INSERT OR IGNORE"  # curves have no key; the store is new
            con.execute(f"{verb} INTO {table} SELECT * FROM read_parquet(?)", [str(path)])
    return con.execute("SELECT count(*) FROM runs").fetchone()[0] - before
