"""The `cells` table: the recommender's summary of the runs, kept up to date in the same transaction as the runs.

A cell is one task's runs of one schedule config at one budget, batch size, optimizer and metric: the mean
finished metric, the finished and diverged counts, the first source and reference, and the cell's `score`
within its comparison group (its task, metric, epochs, batch size and optimizer): (m - worst) / (best - worst)
with the direction's sign, 0 for a cell whose every seed diverged, NULL where the group compares nothing (no
finite outcome, or every cell equal and none diverged). Scores depend only on the cells of one task, so a
write refreshes the cells of the tasks whose runs it changed, and `lrrec suggest` reads this table instead of
aggregating every run on each call.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import duckdb

from lrrec.store.access import has_table

CELL_COLUMNS = ("task_id", "config_id", "optimizer", "batch_size", "epochs", "metric_name", "direction", "metric",
                "n_finished", "n_diverged", "source", "proposed", "ref", "score")

_AGGREGATE_SQL = """
SELECT r.task_id, r.config_id, coalesce(r.optimizer, 'sgd') AS optimizer, r.batch_size, r.epochs, r.metric_name,
       r.direction, avg(coalesce(r.final_metric, r.best_metric)) FILTER (WHERE r.status = 'finished') AS metric,
       count(*) FILTER (WHERE r.status = 'finished') AS n_finished,
       count(*) FILTER (WHERE r.status = 'diverged') AS n_diverged, min(r.source) AS source,
       bool_or(coalesce(TRY_CAST(json_extract(r.extra, '$.proposed_by_source') AS BOOLEAN), false)) AS proposed,
       min(r.source_ref) AS ref
FROM runs r
WHERE r.status IN ('finished', 'diverged') AND {where}
GROUP BY r.task_id, r.config_id, coalesce(r.optimizer, 'sgd'), r.batch_size, r.epochs, r.metric_name, r.direction
"""

# Per comparison group: the sign of its direction (its first cell's, by config_id), the best and worst signed
# finite outcome, and whether every cell has one; then each cell's score as the docstring says.
_SCORED_SQL = """
WITH cell AS ({aggregate}),
signed AS (
    SELECT *, CASE WHEN arg_min(direction, config_id) OVER g = 'max' THEN 1.0 ELSE -1.0 END AS sign FROM cell
    WINDOW g AS (PARTITION BY task_id, metric_name, epochs, batch_size, optimizer)),
ranged AS (
    SELECT *, max(sign * metric) FILTER (WHERE isfinite(metric)) OVER g AS best,
           min(sign * metric) FILTER (WHERE isfinite(metric)) OVER g AS worst,
           bool_and(coalesce(isfinite(metric), false)) OVER g AS all_finite
    FROM signed WINDOW g AS (PARTITION BY task_id, metric_name, epochs, batch_size, optimizer))
SELECT {columns},
       CASE WHEN best IS NULL OR (best <= worst AND all_finite) THEN NULL
            WHEN metric IS NULL OR NOT isfinite(metric) THEN 0.0
            WHEN best <= worst THEN 1.0
            ELSE (sign * metric - worst) / (best - worst) END AS score
FROM ranged
"""


def scored_cells_sql(where: str = "true") -> str:
    """The cells of the runs matching `where` (on `runs r`), scored: what the `cells` table holds for them."""
    return _SCORED_SQL.format(aggregate=_AGGREGATE_SQL.format(where=where),
                              columns=", ".join(CELL_COLUMNS[:-1]))


def refresh_cells(con: duckdb.DuckDBPyConnection, task_ids: Sequence[str] | None = None) -> None:
    """Recompute the cells of `task_ids` (every task when None) from their runs, inside the caller's transaction.

    A store made before the table existed (schema version 2) gains it whole through its migration.
    """
    if not has_table(con, "cells"):
        return
    if task_ids is None:
        con.execute("DELETE FROM cells")
        con.execute(f"INSERT INTO cells {scored_cells_sql()}")
        return
    if not task_ids:
        return
    ids = list(dict.fromkeys(task_ids))
    con.execute("DELETE FROM cells WHERE task_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    con.execute(f"INSERT INTO cells {scored_cells_sql('r.task_id IN (SELECT unnest(?::VARCHAR[]))')}", [ids])


class ExperienceReader(Protocol):
    """What `Store.experience_rows` asks of the recommender as it reads, in this order: DuckDB summarises every
    task (`summary_sql`) while the recommender picks the tasks to read whole and builds their cells."""

    def configs(self, schedules: list[tuple[Any, ...]]) -> Mapping[str, tuple[str, str, bool]]:
        """Per config id (rows: config_id, name, family, lr, params JSON, warmup JSON): its shape, its schedule
        without a warmup, and whether it has one."""

    def near(self, tasks: list[tuple[Any, ...]], scored: set[str]) -> Collection[str]:
        """The ids of the tasks to read whole, given every task (task_id, fingerprint JSON) and the ids of those
        with scored cells."""

    def take(self, cells: list[tuple[Any, ...]]) -> None:
        """The scored cells of those tasks (`CELL_COLUMNS`, in key order)."""


def read_summaries(con: duckdb.DuckDBPyConnection, facts: Mapping[str, tuple[str, str, bool]]
                   ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every task's best cells per comparison group and shape, and its warmup gains (`summary_sql`), given the
    facts of `ExperienceReader.configs`."""
    parameters = _facts_parameters(facts)
    bests, gains = (con.execute(sql, parameters).fetchall() for sql in summary_sql())
    return bests, gains


def _facts_parameters(facts: Mapping[str, tuple[str, str, bool]]) -> list[list[Any]]:
    """The query parameters of `summary_sql`: the facts of `ExperienceReader.configs` as four columns (configs in
    id order), and each config's place in that order."""
    ids = sorted(facts)
    return [ids, [facts[i][0] for i in ids], [facts[i][1] for i in ids], [facts[i][2] for i in ids],
            list(range(len(ids)))]


_GROUP = "task_id, metric_name, epochs, batch_size, optimizer"  # a comparison group (`Cell.group`, per task)
KEY_ORDER = "task_id, config_id, optimizer, batch_size, epochs, metric_name, direction"
_SUMMARISED = """
WITH facts AS (SELECT unnest(?::VARCHAR[]) AS config_id, unnest(?::VARCHAR[]) AS shape,
                      unnest(?::VARCHAR[]) AS bare, unnest(?::BOOLEAN[]) AS warm, unnest(?::BIGINT[]) AS place),
scored AS (SELECT c.*, c.rowid AS cell, f.shape, f.bare, f.warm, f.place FROM cells c JOIN facts f USING (config_id)
           WHERE c.score IS NOT NULL)
"""


def summary_sql() -> tuple[str, str]:
    """Two queries over every task's scored cells, a summary of each task that is all the prior needs: each (task,
    comparison group, shape)'s best cell (the highest score, then the first in key order, as the recommender picks
    it), in key order; and per (task, group, schedule without warmup) that ran with and without one: (task_id,
    optimizer, best score with - best score without). Parameters: `_facts_parameters`."""
    first = "(score, -place, direction = 'max')"  # then config_id, direction ascending; the row id of the pick
    bests = (f"{_SUMMARISED}, best AS (SELECT arg_max(cell, {first}) AS cell FROM scored GROUP BY {_GROUP}, shape) "
             f"SELECT {', '.join(CELL_COLUMNS)} FROM cells WHERE rowid IN (SELECT cell FROM best) ORDER BY {KEY_ORDER}")
    gains = (f"{_SUMMARISED} SELECT task_id, optimizer, max(score) FILTER (WHERE warm) - max(score) FILTER "
             f"(WHERE NOT warm) FROM scored GROUP BY {_GROUP}, bare HAVING bool_or(warm) AND NOT bool_and(warm) "
             f"ORDER BY task_id, min(config_id)")
    return bests, gains


def stale_cells_sql() -> str:
    """How many cells differ from a rebuild from the runs (a key on one side only, a count, source, reference or
    flag that differs, or an outcome or score more than 1e-9 apart): 0 unless the runs were changed behind lrrec."""
    keys = " AND ".join(f"k.{c} IS NOT DISTINCT FROM b.{c}" for c in CELL_COLUMNS[:7])
    same = " AND ".join([*(f"k.{c} IS NOT DISTINCT FROM b.{c}" for c in ("n_finished", "n_diverged", "source",
                                                                         "proposed", "ref")),
                         *(f"coalesce(abs(k.{c} - b.{c}) <= 1e-9, k.{c} IS NULL AND b.{c} IS NULL)"
                           for c in ("metric", "score"))])
    return (f"SELECT count(*) FROM cells k FULL JOIN ({scored_cells_sql()}) b ON {keys} "
            f"WHERE k.task_id IS NULL OR b.task_id IS NULL OR NOT ({same})")
