"""SQL for `columnar.py`: a number field's checks as DuckDB expressions, and a column's curve points as a table.

Each builder takes the SQL of a column and how that column holds values (`json`: raw JSON text, `text`: a CSV
cell, else the native DuckDB type) and returns the SQL of the value as the row parser normalises it (`Number`:
a DOUBLE, or a BIGINT when whole) and of a flag that is true where the row parser could refuse it or read it
differently. The rules are `lrrec.fields.Number`'s: finite, whole where whole, at least `at_least`, within the
store's 64 bits (kept a little inside that bound, where a float's rounding would decide).
"""

from __future__ import annotations

import duckdb

from lrrec.fields import Number
from lrrec.store.columnar_load import numeric_type
from lrrec.store.interchange import CURVE_FIELDS

Sql = str
_JSON_NUMBERS = "('BIGINT', 'UBIGINT', 'DOUBLE')"
_CSV_NUMBER = r"'[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?'"  # `fields._number_text`, ASCII only
_FLOAT_WHOLE_LIMIT = 9.2e18  # below 2**63 - 1, where a float compares unambiguously


class Decline(Exception):
    """The file might hold a row the row parser refuses or reads differently: leave it to the row parser."""


def number_sql(expr: Sql, holds: str, kind: Number) -> tuple[Sql, Sql]:
    """(value, bad) SQL for a number field held as `holds`; a missing value is NULL and not bad."""
    if holds == "json":
        missing = f"({expr} IS NULL OR json_type({expr}) = 'NULL')"
        wrong = f"json_type({expr}) NOT IN {_JSON_NUMBERS}"
        as_int = f"CASE WHEN json_type({expr}) <> 'DOUBLE' THEN TRY_CAST({expr} AS BIGINT) END"
        floating = f"json_type({expr}) = 'DOUBLE'"
    elif holds == "text":
        missing = f"({expr} IS NULL OR {expr} = '')"
        wrong = f"(length({expr}) > 300 OR NOT regexp_full_match({expr}, {_CSV_NUMBER}))"
        as_int = f"CASE WHEN NOT regexp_matches({expr}, '[.eE]') THEN TRY_CAST({expr} AS BIGINT) END"
        floating = f"regexp_matches({expr}, '[.eE]')"
    elif numeric_type(holds):
        missing, wrong = f"({expr} IS NULL)", "false"
        integral = holds not in ("FLOAT", "DOUBLE")
        as_int = f"TRY_CAST({expr} AS BIGINT)" if integral else "NULL::BIGINT"
        floating = "false" if integral else "true"
    else:
        raise Decline  # a Parquet column of text, booleans or decimals where a number goes
    real = f"TRY_CAST({expr} AS DOUBLE)"
    if kind.whole:
        from_float = (f"CASE WHEN isfinite({real}) AND {real} = trunc({real}) AND abs({real}) < {_FLOAT_WHOLE_LIMIT} "
                      f"THEN TRY_CAST({real} AS BIGINT) END")
        value = f"(CASE WHEN {floating} THEN {from_float} ELSE {as_int} END)"
        out_of_range = f"{value} = -9223372036854775808"
    else:
        value, out_of_range = f"(CASE WHEN isfinite({real}) THEN {real} END)", "false"
    below = "false" if kind.at_least is None else f"{value} < {kind.at_least!r}"
    value_sql = f"(CASE WHEN {missing} THEN NULL ELSE {value} END)"
    bad = f"(NOT {missing} AND ({wrong} OR {value} IS NULL OR {out_of_range} OR {below}))"
    return value_sql, bad


def build_points(con: duckdb.DuckDBPyConnection, holds: str | None) -> dict[str, str]:
    """Make `pts` (`_row`, `_idx`, `_bad`, then one column per curve field the file has) of raw's curves (a table
    where the points are parsed from JSON text, read twice);
    returns how each curve field is held. `cbad` lists the rows (`_row`) whose curves are not a list."""
    if holds is None:
        con.execute("CREATE VIEW pts AS SELECT 0::BIGINT AS _row, 0::BIGINT AS _idx, false AS _bad WHERE false")
        con.execute("CREATE VIEW cbad AS SELECT _row FROM raw WHERE false")
        return {}
    if holds.endswith("[]"):  # a list of structs (Parquet; JSONL, whose points then hold raw JSON)
        con.execute("CREATE VIEW cbad AS SELECT _row FROM raw WHERE false")
        con.execute("""CREATE VIEW listed AS SELECT _row, unnest(curves) AS p,
                       unnest(range(len(curves))) AS _idx FROM raw WHERE curves IS NOT NULL""")
        described = con.execute("DESCRIBE SELECT unnest(p) FROM listed").fetchall()
        fields = {name: "json" if kind == "JSON" else kind for name, kind, *_ in described}
        picks = "".join(f", p.{name} AS {name}" for name in fields)
        con.execute(f"CREATE VIEW pts AS SELECT _row, _idx, p IS NULL AS _bad{picks} FROM listed")
        return fields
    if holds == "json":
        src, bad = "curves", "curves IS NOT NULL AND json_type(curves) NOT IN ('ARRAY', 'NULL')"
    else:  # JSON text: a CSV cell (blank is missing) or a Parquet string
        empty = "curves IS NULL" + (" OR curves = ''" if holds == "text" else "")
        src = f"CASE WHEN {empty} THEN NULL WHEN json_valid(curves) THEN curves::JSON END"
        bad = f"NOT ({empty}) AND (NOT json_valid(curves) OR json_type(curves::JSON) <> 'ARRAY')"
    con.execute(f"CREATE VIEW cbad AS SELECT _row FROM raw WHERE {bad}")
    shape = ", ".join(f'"{name}": "JSON"' for name in CURVE_FIELDS)
    picks = ", ".join(f"p.{name} AS {name}" for name in CURVE_FIELDS)
    known = ", ".join(f"'{name}'" for name in CURVE_FIELDS)
    con.execute(f"""CREATE TABLE pts AS
        SELECT _row, _idx, json_type(j) <> 'OBJECT' OR NOT list_has_all([{known}], json_keys(j))
                   OR len(json_keys(j)) <> len(list_distinct(json_keys(j))) AS _bad, {picks}
        FROM (SELECT _row, _idx, j, json_transform(j, '{{{shape}}}') AS p
              FROM (SELECT _row, unnest(json_extract(src, '$[*]')) AS j,
                           unnest(range(json_array_length(src)::BIGINT)) AS _idx
                    FROM (SELECT _row, {src} AS src FROM raw) WHERE json_type(src) = 'ARRAY'))""")
    return dict.fromkeys(CURVE_FIELDS, "json")


def curves_json_sql() -> Sql:
    """A run's curve points (table `pv`, grouped by run) as the canonical JSON of the row parser's point dicts."""
    text = {k: f"coalesce({k}::VARCHAR, 'null')" for k in CURVE_FIELDS}
    text["extra"] = "coalesce(extra, 'null')"
    point = ", ".join(f"'{',' if i else '{'}\"{k}\":', {text[k]}" for i, k in enumerate(sorted(CURVE_FIELDS)))
    return f"concat('[', array_to_string(list(concat({point}, '}}') ORDER BY _idx), ','), ']')"  # string_agg: slower


def content_sql() -> Sql:
    """The canonical JSON that `interchange._content_id` hashes, from table `c`'s columns (numbers `n_<field>`,
    JSON pieces `p_<field>`, the defaulted best metric `best`, the curves' JSON, the task and config ids)."""
    num = {k: f"coalesce(n_{k}::VARCHAR, 'null')" for k in ("batch_size", "epochs", "final_metric", "seed",
                                                            "step_to_target", "steps", "target_value",
                                                            "time_to_target_s", "wall_time_s")}
    parts = [("batch_size", num["batch_size"]), ("best_metric", "coalesce(best::VARCHAR, 'null')"),
             ("curves", "curves"), ("device", "p_device"), ("direction", "'\"' || direction || '\"'"),
             ("epochs", num["epochs"]), ("extra", "p_extra"), ("final_metric", num["final_metric"]),
             ("library_versions", "p_library_versions"), ("lrrec_version", "p_lrrec_version"),
             ("metric_name", "p_metric_name"), ("notes", "p_notes"), ("optimizer", "p_optimizer"),
             ("optimizer_params", "p_optimizer_params"), ("schedule", "'\"' || config_id || '\"'"),
             ("seed", num["seed"]), ("status", "'\"' || status || '\"'"), ("step_to_target", num["step_to_target"]),
             ("steps", num["steps"]), ("target_value", num["target_value"]), ("task", "'\"' || task_id || '\"'"),
             ("time_to_target_s", num["time_to_target_s"]), ("wall_time_s", num["wall_time_s"])]
    pieces = [f"'{',' if i else '{'}\"{key}\":', {sql}" for i, (key, sql) in enumerate(parts)]
    pieces.insert(2, "p_created_at")  # sorted keys: created_at (when given) comes before curves
    return f"concat({', '.join(pieces)}, '}}')"
