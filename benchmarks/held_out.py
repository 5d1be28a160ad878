"""A new store (shipped corpus included) without one task's runs: the setting of a task lrrec has not seen."""

from __future__ import annotations

from pathlib import Path

from lrrec.store import Store, open_store
from lrrec.store.cells import refresh_cells


def held_out_store(task_name: str, folder: Path) -> Store:
    """A store in `folder` holding the shipped corpus minus `task_name`'s runs and curves."""
    store = open_store(folder / f"{task_name.replace('/', '-').replace(':', '-')}.duckdb")
    with store.transaction() as con:
        con.execute("DELETE FROM curves WHERE run_id IN (SELECT run_id FROM runs JOIN tasks USING (task_id) "
                    "WHERE tasks.name = ?)", [task_name])
        con.execute("DELETE FROM runs WHERE task_id IN (SELECT task_id FROM tasks WHERE name = ?)", [task_name])
        refresh_cells(con)
    return store
