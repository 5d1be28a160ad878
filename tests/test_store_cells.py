"""The store's `cells` table: kept equal to what its runs aggregate to through every kind of write, and scored as
the recommender's `normalise` scores cells; a store made before the table gains it whole; reading only the tasks
near a target whole (the others as summaries) changes no recommendation."""

import dataclasses
import json

import duckdb
import pytest

from lrrec.catalog import catalog_fingerprint
from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.experience import Experience, load_experience
from lrrec.recommender.ranking import ModelSettings, near_tasks
from lrrec.recommender.suggest import suggest
from lrrec.store import ingest, open_store, schema
from lrrec.store.cells import CELL_COLUMNS, scored_cells_sql
from lrrec.store.upkeep import remove_runs

TASK = {"name": "toy/mlp", "dataset": "toy", "model": "mlp", "n_train": 500, "n_classes": 3}


def _rows() -> list[dict]:
    """Runs in several comparison groups: two budgets, a loss to minimise, a diverged seed and an all-diverged
    config, a group whose cells tie, and a duplicate config over seeds."""
    accuracy = [{"task": TASK, "schedule": "cosine", "lr": lr, "seed": seed, "epochs": epochs,
                 "metric_name": "val_accuracy", "final_metric": None if acc is None else acc + epochs / 100,
                 "status": "diverged" if acc is None else "finished"}
                for seed in (0, 1) for lr, acc in ((0.01, 0.6), (0.1, 0.7 + 0.01 * seed), (1.0, None))
                for epochs in (5, 20)]
    loss = [{"task": TASK, "schedule": name, "lr": 0.1, "seed": seed, "epochs": 5, "metric_name": "val_loss",
             "direction": "min", "final_metric": value, "status": "finished"}
            for seed in (0, 1) for name, value in (("step", 0.5 - 0.1 * seed), ("constant", 0.2))]
    tie = [{"task": {**TASK, "name": "tie/mlp", "dataset": "tie"}, "schedule": name, "lr": 0.1, "seed": seed,
            "epochs": 5, "metric_name": "val_accuracy", "final_metric": 0.5, "status": "finished"}
           for seed in (0, 1) for name in ("cosine", "linear")]  # two configs that tie: the group compares nothing
    return accuracy + loss + tie


def _table(con) -> list[tuple]:
    return sorted(con.execute(f"SELECT {', '.join(CELL_COLUMNS)} FROM cells").fetchall(), key=repr)


def _rebuilt(con) -> list[tuple]:
    return sorted(con.execute(scored_cells_sql()).fetchall(), key=repr)


def _check(store) -> list[tuple]:
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        kept, rebuilt = _table(con), _rebuilt(con)
    finally:
        con.close()
    assert kept == rebuilt and kept
    return kept


def test_every_write_keeps_the_cells_equal_to_their_runs(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    before = _check(store)  # the bundled literature and corpus
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    report = ingest(store, [str(path)])
    after_ingest = _check(store)
    assert len(after_ingest) > len(before)
    with store.start_run(TASK, {"name": "linear", "lr": 0.1}, epochs=5, seed=3) as run:  # a live run: no cell until it ends
        assert _check(store) == after_ingest
        run.log_metrics({"val_accuracy": 0.99}, step=1)
    assert len(_check(store)) == len(after_ingest) + 1
    remove_runs(store, batch=report.batch)  # the live run's cell stays, alone in its group now
    after_removal = _check(store)
    assert set(before) < set(after_removal) and len(after_removal) == len(before) + 1


def test_the_table_scores_as_the_recommender_normalises(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    ingest(store, [str(path)])
    stored = load_experience(store)
    everything = [dataclasses.replace(c, score=None) for c in stored.cells]
    unscored = store.experience_rows()
    with duckdb.connect(str(store.path), read_only=True) as con:  # the cells the table leaves out (score NULL)
        unscored_cells = con.execute("SELECT count(*) FROM cells WHERE score IS NULL").fetchone()[0]
    assert unscored_cells >= 2 and len(unscored.cells) == len(stored.cells)  # the tie group is left out
    normalised = Experience(stored.tasks, everything)
    assert {(c.task_id, c.config_id, c.group): c.score for c in normalised.cells} == \
        {(c.task_id, c.config_id, c.group): c.score for c in stored.cells}
    scores = {(c.schedule, c.lr, c.epochs, c.metric_name): c.score for c in stored.cells if c.task_id in
              {t for t, f in stored.tasks.items() if f.name == "toy/mlp"}}
    assert scores[("cosine", 1.0, 5, "val_accuracy")] == 0.0  # every seed diverged
    assert scores[("cosine", 0.1, 20, "val_accuracy")] == 1.0 and scores[("cosine", 0.01, 20, "val_accuracy")] == 0.0
    assert scores[("constant", 0.1, 5, "val_loss")] == 1.0 and scores[("step", 0.1, 5, "val_loss")] == 0.0  # min


def test_a_version_2_store_gains_its_cells_on_opening(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    with monkeypatch.context() as old:  # a store made by the lrrec that had two migrations
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:2])
        old.setattr("lrrec.store.store.SCHEMA_VERSION", 2)
        runs = open_store(path).info().runs
    from lrrec.store.check import check_store

    assert check_store(path).ok  # `store check` reads a store an earlier lrrec made without upgrading it
    store = open_store(path)
    assert store.info().schema_version == schema.SCHEMA_VERSION and store.info().runs == runs
    assert len(_check(store)) > 100 and load_experience(store).by_task


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_reading_only_the_near_tasks_whole_recommends_exactly_as_reading_every_cell(tmp_path, optimizer):
    store = open_store(tmp_path / "s.duckdb")  # the bundled literature and corpus: tasks near and far
    full = load_experience(store)
    odd = TaskFingerprint(name="odd/x", dataset="odd", model="x", n_train=10, n_classes=2, input_numel=7,
                          n_params=50, depth=1)  # like nothing in the store: ranked by the prior
    for target in (catalog_fingerprint("digits", "mlp"), catalog_fingerprint("cifar100", "wrn"), odd):
        near = load_experience(store, near_tasks(target, ModelSettings()))
        assert 0 < len(near.by_task) < len(full.by_task) == near.n_tasks  # the others read as summaries only
        assert _by_shape(near.shapes) == _by_shape(full.shapes) and near.warmups == full.warmups
        assert suggest(store, target, optimizer=optimizer).to_dict() == \
            suggest(store, target, optimizer=optimizer, experience=full).to_dict()


def _by_shape(shapes: dict) -> dict:
    return {tid: sorted(results, key=lambda r: (repr(r.group), r.shape)) for tid, results in shapes.items()}
