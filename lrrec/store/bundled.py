"""Experience bundled with lrrec, loaded into every new store.

- `literature/*.csv` (source "literature"): published schedule outcomes, one file per source, each row cited and
  checked against its source (see `lrrec.store.literature`).
- `corpus/<table>.parquet` (source "lrrec-corpus"): runs of `lrrec sweep` over the built-in CPU tasks with
  their curves, made by `scripts/build_corpus.py` from lrrec's own validated store tables; each run keeps its
  lrrec and library versions. DuckDB copies them straight into a new store (milliseconds, not a re-parse).
"""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import Any

from lrrec.store.cells import refresh_cells
from lrrec.store.literature import literature_records

__all__ = ["CORPUS_TABLES", "literature_records", "load_corpus"]
CORPUS_TABLES = ("tasks", "schedules", "runs", "curves")


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
    refresh_cells(con)
    return con.execute("SELECT count(*) FROM runs").fetchone()[0] - before
