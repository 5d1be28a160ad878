"""Loading an interchange file (JSONL, CSV, Parquet) into DuckDB columns for `columnar.py`, or declining to.

`load(con, kind, path, folder)` makes the view `raw` (`_row`: the row's 0-based position, `_line`: the number
the row parser names it by, `_given_ref`: whether the row names its source_ref, even as null, then one column per
interchange field the file holds) and returns a `Loaded` saying
how each column holds its values: `json` (raw JSON text), `text` (a CSV cell) or `native` (a Parquet type). It
returns None (declines) wherever DuckDB might read the file differently from the row parser (`tabular.py` and
`strict_json`): `\\u` escapes, trailing commas, blank lines, lines that are not objects, duplicate or unknown
keys, a CSV cell spanning lines, a file DuckDB refuses.
The row parser then reads the file and names any bad row, so declining is always safe, only slower.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lrrec.store.interchange import CURVE_FIELDS, FIELDS

# what DuckDB's JSON reader (yyjson) accepts and Python's json refuses: trailing commas (looked for with white
# space removed); the rest of its differences surface as values the checks refuse (NaN, inf) or as errors
_SPACE = b" \t\r\n"
_NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "FLOAT",
                  "DOUBLE")


@dataclass(frozen=True)
class Loaded:
    """The columns `load` put in `raw` (field -> `json`, `text` or a native DuckDB type) and the rows read."""

    columns: dict[str, str]
    rows: int


def load(con: duckdb.DuckDBPyConnection, kind: str, path: Path, folder: Path) -> Loaded | None:
    """Fill `raw` from `path` (`kind`: jsonl, csv or parquet), or return None to leave the file to the row parser.
    `folder` is a scratch folder (DuckDB reads the file through a link in it)."""
    try:
        if kind == "parquet":
            return _load_parquet(con, _glob_safe(path, folder))
        data = path.read_bytes()
        lines = data.count(b"\n") + (not data.endswith(b"\n"))
        if _screened_out(data, kind, lines):
            return None
        if kind == "jsonl":
            return _load_jsonl(con, _glob_safe(path, folder), lines)
        return _load_csv(con, data.decode("utf-8"), lines)
    except (duckdb.Error, OSError, UnicodeDecodeError, csv.Error):
        return None


def _screened_out(data: bytes, kind: str, lines: int) -> bool:
    """Whether the file holds what DuckDB and the row parser might read differently (or nothing)."""
    packed = data.translate(None, b" \t\r")
    if not packed or packed.isspace() or b",}" in packed or b",]" in packed or b"\\u" in data:
        return True
    if b"\n\n" in packed or packed.startswith(b"\n"):
        return True  # blank lines: the row parser skips them, and counts them
    if kind == "csv":
        return data.count(b"\r") != data.count(b"\r\n")  # a lone carriage return ends a line for Python alone
    return packed.count(b"\n{") + packed.startswith(b"{") != lines  # a line that does not start an object


def _glob_safe(path: Path, folder: Path) -> str:
    """DuckDB reads a file name as a glob: name the file through a symlink without * ? [."""
    plain = folder / f"input{path.suffix}"
    plain.unlink(missing_ok=True)
    plain.symlink_to(path.resolve())
    return str(plain)


def _load_jsonl(con: duckdb.DuckDBPyConnection, plain: str, lines: int) -> Loaded | None:
    """Each field as raw JSON, the curves as a list of structs of raw JSON where every row's are."""
    described = con.execute("DESCRIBE SELECT * FROM read_json(?, format='newline_delimited', maximum_depth=3, "
                            "sample_size=-1)", [plain]).fetchall()
    types = {name: kind for name, kind, *_ in described}
    if not set(types) <= set(FIELDS):
        return None
    curves = types.get("curves", "")
    columns = dict.fromkeys(types, "JSON")
    if re.fullmatch(r"STRUCT\((\w+ JSON(, )?)+\)\[\]", curves):
        columns["curves"] = curves
    con.execute("CREATE TABLE file AS SELECT * FROM read_json(?, format='newline_delimited', columns=?)",
                [plain, columns])
    given = "false"
    if "source_ref" in columns:  # a null source_ref stays null, a missing one becomes file:line
        con.execute("CREATE TABLE refs AS SELECT json_exists(json, '$.source_ref') AS given "
                    "FROM read_json_objects(?, format='newline_delimited')", [plain])
        given = "(SELECT given FROM refs WHERE refs.rowid = file.rowid)"
    con.execute(f"CREATE VIEW raw AS SELECT rowid AS _row, rowid + 1 AS _line, {given} AS _given_ref, * "
                f"FROM file")
    rows = _count(con, "raw")
    if rows != lines:
        return None
    return Loaded({k: "json" if v == "JSON" else v for k, v in columns.items()}, rows)


def _load_csv(con: duckdb.DuckDBPyConnection, text: str, lines: int) -> Loaded | None:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header = next(reader, None)
    if not header or len(set(header)) != len(header) or not set(header) <= set(FIELDS):
        return None
    rows = list(reader)
    if not rows or lines != len(rows) + 1 or any(len(cells) != len(header) for cells in rows):
        return None  # blank rows, cells spanning lines and short rows: the row parser names them
    columns = list(zip(*rows))
    picks = ", ".join(f"unnest(${i}::VARCHAR[]) AS {name}" for i, name in enumerate(header, start=1))
    con.execute(f"CREATE TABLE file AS SELECT {picks}", [list(column) for column in columns])
    con.execute(f"CREATE VIEW raw AS SELECT rowid AS _row, rowid + 2 AS _line, {'source_ref' in header} AS "
                f"_given_ref, * FROM file")
    return Loaded(dict.fromkeys(header, "text"), len(rows))


def _load_parquet(con: duckdb.DuckDBPyConnection, plain: str) -> Loaded | None:
    con.execute("CREATE TABLE file AS SELECT * FROM read_parquet(?)", [plain])
    described = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                            "WHERE table_name = 'file' ORDER BY ordinal_position").fetchall()
    columns = dict(described)
    con.execute(f"CREATE VIEW raw AS SELECT rowid AS _row, rowid + 1 AS _line, {'source_ref' in columns} AS "
                f"_given_ref, * FROM file")
    if not set(columns) <= set(FIELDS) or not _count(con, "raw"):
        return None
    curves = columns.get("curves")
    if curves is not None and curves != "VARCHAR" and not _is_point_list(curves):
        return None
    return Loaded(columns, _count(con, "raw"))


def _is_point_list(kind: str) -> bool:
    """A Parquet curves column of structs whose fields are curve fields."""
    match = re.fullmatch(r"STRUCT\((.*)\)\[\]", kind)
    if match is None:
        return False
    names = re.findall(r"(?:^|, )\"?(\w+)\"? ", match.group(1))
    return bool(names) and set(names) <= set(CURVE_FIELDS)


def numeric_type(kind: str) -> bool:
    """Whether a native column type holds plain numbers (what the row parser reads as int or float)."""
    return kind in _NUMERIC_TYPES


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # type: ignore[index]
