"""Readers for the interchange files (JSONL, CSV, Parquet): each yields `(where, row)` pairs.

`where` is `path:line` (for Parquet, the 1-based row number); a row that cannot even be read is yielded as the
`LrrecError` that describes it, so the caller reports it like any invalid row. A file that cannot be opened
at all raises `IngestError`.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrrec.errors import IngestError, InvalidValueError, LrrecError
from lrrec.store.interchange import strict_json

Rows = Iterator[tuple[str, Any]]


def read_jsonl(path: Path) -> Rows:
    """One JSON object per line; blank lines are ignored."""
    with _open(path, binary=True) as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield f"{path}:{number}", strict_json(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield f"{path}:{number}", InvalidValueError("not UTF-8 text")
            except LrrecError as exc:
                yield f"{path}:{number}", exc


def read_csv(path: Path) -> Rows:
    """A header row of field names, then one run per row; nested fields are JSON text in their cell."""
    with _open(path) as handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = next(reader, None)
            if not header:
                return
            start = reader.line_num + 1
            for cells in reader:
                where, start = f"{path}:{start}", reader.line_num + 1
                if not cells:
                    continue
                if len(cells) != len(header):
                    yield where, InvalidValueError(f"row has {len(cells)} cells but the header has {len(header)}")
                    continue
                yield where, dict(zip(header, cells))
        except UnicodeDecodeError:
            yield f"{path}:{reader.line_num + 1}", InvalidValueError("not UTF-8 text")
        except csv.Error as exc:
            yield f"{path}:{reader.line_num}", InvalidValueError(f"malformed CSV ({exc})")


def read_parquet(path: Path) -> Rows:
    """A Parquet file with the interchange columns (nested fields as structs/lists or JSON text)."""
    import duckdb

    from lrrec.store.access import duckdb_connection

    _open(path).close()
    con = duckdb_connection()
    try:
        with tempfile.TemporaryDirectory() as folder:  # DuckDB reads a name as a glob: give it one without * ? [
            plain = Path(folder) / "input.parquet"
            plain.symlink_to(path.resolve())
            cursor = con.execute("SELECT * FROM read_parquet(?)", [str(plain)])
            names = [d[0] for d in cursor.description]
            number = 0
            while batch := cursor.fetchmany(10_000):
                for values in batch:
                    number += 1
                    yield f"{path}:{number}", {k: _present(v) for k, v in zip(names, values)}
    except duckdb.Error as exc:
        raise IngestError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0]}); "
                          f"nothing was ingested") from None
    finally:
        con.close()


def _present(value: Any) -> Any:
    """Drop null struct fields: Parquet gives every row of a struct column the union of all rows' keys."""
    if isinstance(value, dict):
        return {k: _present(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value


def _open(path: Path, binary: bool = False) -> Any:
    try:
        return open(path, "rb") if binary else open(path, encoding="utf-8", newline="")
    except OSError as exc:
        raise IngestError(f"{path}: cannot read ({exc.strerror}); nothing was ingested") from None
