"""Test helpers on real stores."""

from __future__ import annotations

from lrrec.store.store import Store


def drop_all_runs(store: Store) -> Store:
    """`store` without any run (its bundled literature and corpus included), so a test sees only its own: the runs,
    their curves, and the cells they aggregate to."""
    with store.transaction() as con:
        for table in ("curves", "runs", "cells"):
            con.execute(f"DELETE FROM {table}")
    return store
