"""The store's schema: its version, and one migration per version step (the only DDL in lrrec).

`MIGRATIONS[i]` takes a store from version `i` to `i + 1`; a new store runs all of them, so every step is
exercised. Never edit a released step: append a new one and bump nothing else (SCHEMA_VERSION follows).
"""

from __future__ import annotations

from typing import Any

from lrrec.store.access import has_table
from lrrec.store.cells import scored_cells_sql

_V1 = [
    "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE tasks (
        task_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, dataset VARCHAR NOT NULL, model VARCHAR NOT NULL,
        task_kind VARCHAR NOT NULL, n_train BIGINT, n_classes BIGINT, input_numel BIGINT, input_shape JSON,
        class_balance DOUBLE, data_hash VARCHAR, n_params BIGINT, forward_flops DOUBLE, depth BIGINT,
        has_norm BOOLEAN, has_residual BOOLEAN, fingerprint JSON NOT NULL)""",
    """CREATE TABLE schedules (
        config_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, family VARCHAR NOT NULL, lr DOUBLE NOT NULL,
        params JSON NOT NULL, warmup JSON, config JSON NOT NULL)""",
    """CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY, task_id VARCHAR NOT NULL, config_id VARCHAR NOT NULL, seed BIGINT,
        optimizer VARCHAR, optimizer_params JSON, batch_size BIGINT, epochs BIGINT, steps BIGINT,
        status VARCHAR NOT NULL, metric_name VARCHAR NOT NULL, direction VARCHAR NOT NULL,
        final_metric DOUBLE, best_metric DOUBLE, target_value DOUBLE, time_to_target_s DOUBLE,
        step_to_target BIGINT, wall_time_s DOUBLE, device VARCHAR, lrrec_version VARCHAR,
        library_versions JSON, source VARCHAR NOT NULL, source_ref VARCHAR, created_at TIMESTAMP NOT NULL,
        notes VARCHAR, extra JSON)""",
    """CREATE TABLE curves (
        run_id VARCHAR NOT NULL, step BIGINT, epoch DOUBLE, lr DOUBLE, train_loss DOUBLE, val_loss DOUBLE,
        val_metric DOUBLE, extra JSON)""",
    "CREATE INDEX curves_run ON curves (run_id)",
]

# v2: store-local bookkeeping, kept out of `runs` so exports and imports carry the same rows.
_V2 = [
    # the process that is writing each running run (deleted when the run ends): tells a live run from a stale one
    """CREATE TABLE run_owners (
        run_id VARCHAR PRIMARY KEY, host VARCHAR NOT NULL, pid BIGINT NOT NULL, heartbeat_at TIMESTAMP NOT NULL)""",
    # the `lrrec ingest` call that added each run, so a wrong ingest can be removed whole
    """CREATE TABLE ingest_batches (
        run_id VARCHAR PRIMARY KEY, batch_id VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL)""",
]

# v3: the recommender's summary of the runs (`lrrec.store.cells`), filled from the runs a store already has;
# every write keeps it up to date from then on.
_V3 = [
    """CREATE TABLE cells (
        task_id VARCHAR NOT NULL, config_id VARCHAR NOT NULL, optimizer VARCHAR NOT NULL, batch_size BIGINT,
        epochs BIGINT, metric_name VARCHAR NOT NULL, direction VARCHAR NOT NULL, metric DOUBLE,
        n_finished BIGINT NOT NULL, n_diverged BIGINT NOT NULL, source VARCHAR NOT NULL, proposed BOOLEAN NOT NULL,
        ref VARCHAR, score DOUBLE)""",
    f"INSERT INTO cells {scored_cells_sql()}",
]

# v4: no index on the curve points' run_id. It made a store 16 % larger and an ingest of 100,000 runs about 10 %
# slower, to read one run's curve (rarely needed: `Store.curves`) in 1.2 instead of 2.8 ms among 1.3 million points.
_V4 = ["DROP INDEX IF EXISTS curves_run"]

MIGRATIONS: list[list[str]] = [_V1, _V2, _V3, _V4]
CELLS_VERSION = 3  # the first version with the cells table
SCHEMA_VERSION = len(MIGRATIONS)

def schema_version(con: Any) -> int:
    """The version of the store behind `con` (0 for an empty database)."""
    if not has_table(con, "meta"):
        return 0
    row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: Any, current: int) -> None:
    """Apply every migration after `current` inside the caller's transaction and record the new version."""
    for statements in MIGRATIONS[current:]:
        for statement in statements:
            con.execute(statement)
    con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(len(MIGRATIONS))])
