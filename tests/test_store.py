"""The DuckDB store: location, schema and migrations, the run API, export/import, bundled literature results."""

import json
from pathlib import Path

import duckdb
import pytest

from lrrec.errors import InvalidValueError, StoreError
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig
from lrrec.store import ingest, open_store, schema
from lrrec.store.store import default_store_path

LITERATURE = Path(__file__).resolve().parents[1] / "lrrec" / "data" / "literature"
TASK = TaskFingerprint(name="digits/mlp", dataset="digits", model="mlp", n_train=1437, n_classes=10)


def test_location_argument_beats_env_beats_user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("LRREC_STORE", raising=False)
    assert default_store_path() == tmp_path / "xdg" / "lrrec" / "store.duckdb"
    assert open_store().path == default_store_path() and default_store_path().is_file()
    monkeypatch.setenv("LRREC_STORE", str(tmp_path / "env.duckdb"))
    assert open_store().path == tmp_path / "env.duckdb"
    assert open_store(tmp_path / "arg.duckdb").path == tmp_path / "arg.duckdb"


def _bundled_corpus_runs() -> int:
    corpus = LITERATURE.parent / "corpus" / "runs.parquet"
    return duckdb.connect().execute("SELECT count(*) FROM read_parquet(?)", [str(corpus)]).fetchone()[0]


def test_new_store_holds_the_cited_literature_prior_and_the_corpus(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    runs = store.runs(source="literature")
    corpus = store.runs(source="lrrec-corpus")
    assert len(runs) == sum(len(p.read_text().splitlines()) - 1 for p in LITERATURE.glob("*.csv")) >= 250
    assert len(corpus) == _bundled_corpus_runs() > 1000 and store.info().runs == len(runs) + len(corpus)
    assert {"digits/mlp", "mnist1d/cnn1d", "surface/rosenbrock"} <= {r["task"] for r in corpus}
    assert all(r["lrrec_version"] and r["library_versions"] for r in corpus)  # provenance kept
    assert all(r["source_ref"] and r["notes"] and r["final_metric"] is not None for r in runs)
    by = {(r["task"], r["schedule"], r["source_ref"].split(",")[0]): r["final_metric"] for r in runs}
    assert by[("cifar10/resnet-50", "htd", "Hsueh")] == 0.9358  # 93.58 % in the HTD authors' README
    sgdr = [r for r in runs if r["task"] == "cifar100/wrn-28-20" and r["schedule"] == "sgdr"]
    assert max(r["final_metric"] for r in sgdr) == 0.813  # SGDR Table 1: 18.70 % error, T0=10, Tmult=2
    assert {json.loads(r["schedule_config"])["params"]["t0_frac"] for r in sgdr} >= {0.05, 0.25}
    assert json.loads(sgdr[0]["extra"])["table"] == "Table 1"  # the source's table travels with each row
    open_store(tmp_path / "s.duckdb")  # reopening loads nothing twice
    assert store.info().runs == len(runs) + len(corpus)


def test_finished_run_records_metrics_curves_and_target(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    cfg = ScheduleConfig.create("cosine", lr=0.05)
    with store.start_run(TASK, cfg, seed=3, optimizer="sgd", optimizer_params={"momentum": 0.9}, batch_size=64,
                         epochs=3, steps=69, target_value=0.8, device="cpu") as run:
        assert store.runs(source="lrrec")[0]["status"] == "running"
        for epoch, acc in enumerate([0.5, 0.85, 0.82], start=1):
            run.log_metrics({"train_loss": 1.0 / epoch, "val_accuracy": acc, "lr": 0.05, "grad_norm": 2.0},
                            step=23 * epoch, epoch=epoch)
    (row,) = store.runs(source="lrrec")
    assert row["status"] == "finished" and row["final_metric"] == 0.82 and row["best_metric"] == 0.85
    assert row["step_to_target"] == 46 and row["time_to_target_s"] <= row["wall_time_s"]
    assert json.loads(row["optimizer_params"]) == {"momentum": 0.9} and row["seed"] == 3
    assert json.loads(row["schedule_config"]) == cfg.to_dict() and row["lrrec_version"]
    assert "duckdb" in json.loads(row["library_versions"])
    curve = store.curves(row["run_id"])
    assert [p["val_metric"] for p in curve] == [0.5, 0.85, 0.82]
    assert json.loads(curve[0]["extra"]) == {"grad_norm": 2.0}


@pytest.mark.parametrize("error, status", [(ValueError("boom"), "failed"), (KeyboardInterrupt(), "interrupted")])
def test_escaping_exception_ends_run_and_keeps_what_was_logged(tmp_path, error, status):
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(type(error)):
        with store.start_run("digits/mlp", "step", metric_name="val_loss") as run:
            run.log_metrics({"val_loss": 0.7}, step=1)
            run.log_metrics({"val_loss": 0.6}, step=2)
            raise error
    (row,) = store.runs(source="lrrec")
    assert row["status"] == status and row["best_metric"] == 0.6 and row["direction"] == "min"
    assert len(store.curves(row["run_id"])) == 2 and type(error).__name__ in row["notes"]
    assert [(p["val_loss"], p["val_metric"]) for p in store.curves(row["run_id"])] == [(0.7, 0.7), (0.6, 0.6)]


def test_non_finite_loss_marks_the_run_diverged(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    with store.start_run("digits/mlp", "constant") as run:
        run.log_metrics({"train_loss": 2.0, "val_accuracy": 0.3}, step=1)
        run.log_metrics({"train_loss": float("nan"), "val_accuracy": 0.1}, step=2)
    (row,) = store.runs(source="lrrec")
    assert row["status"] == "diverged" and store.curves(row["run_id"])[1]["train_loss"] is None


def test_run_settings_are_validated_before_anything_is_written(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    with pytest.raises(InvalidValueError, match="batch_size"):
        store.start_run("digits/mlp", "cosine", batch_size=0)
    with pytest.raises(InvalidValueError, match="better high or low"):
        store.start_run("digits/mlp", "cosine", metric_name="score2")
    assert store.runs(source="lrrec") == []


def test_newer_schema_is_refused_and_other_files_are_reported(tmp_path):
    path = tmp_path / "s.duckdb"
    open_store(path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    store = open_store(path)  # the version is checked by the first transaction, on its own connection
    for use in (store.runs, store.info, lambda: store.add_records([])):
        with pytest.raises(StoreError, match="version 99.*upgrade lrrec"):
            use()
    (tmp_path / "notes.txt").write_text("not a database\n" * 100)
    with pytest.raises(StoreError, match="notes.txt is not an lrrec store"):
        open_store(tmp_path / "notes.txt")


def test_a_version_1_store_gains_the_bookkeeping_tables_and_keeps_its_runs(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    with monkeypatch.context() as old:  # a store made by the lrrec that had only the first migration
        old.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
        old.setattr("lrrec.store.store.SCHEMA_VERSION", 1)
        runs = open_store(path).runs()
    store = open_store(path)
    assert store.info().schema_version == schema.SCHEMA_VERSION == 4 and store.runs() == runs
    with store.start_run(TASK, "cosine") as run:
        run.log_metrics({"val_accuracy": 0.5}, step=1)
    assert store.runs(source="lrrec")[0]["status"] == "finished"


def test_a_later_migration_upgrades_an_existing_store_in_place(tmp_path, monkeypatch):
    path = tmp_path / "s.duckdb"
    before = open_store(path).info().runs
    step = ["ALTER TABLE runs ADD COLUMN note2 VARCHAR"]
    later = schema.SCHEMA_VERSION + 1
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, step])
    monkeypatch.setattr("lrrec.store.store.SCHEMA_VERSION", later)
    store = open_store(path)
    assert store.info().schema_version == later and store.info().runs == before
    assert "note2" in store.runs()[0]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_importing_an_export_reproduces_the_store(tmp_path, fmt, deepobs_dir):
    """Bundled runs + DeepOBS files + live runs, exported and imported into a new store."""
    src = open_store(tmp_path / "a.duckdb")
    ingest(src, [str(p) for p in sorted(deepobs_dir.glob("*.json"))])
    with src.start_run(TASK, "sgdr", seed=1) as run:
        run.log_metrics({"val_accuracy": 0.4, "train_loss": 1 / 3}, step=10, epoch=0.5)
    with pytest.raises(RuntimeError), src.start_run(TASK, "wsd", metric_name="val_loss") as run:
        raise RuntimeError("x")
    out = tmp_path / f"runs.{fmt}"
    assert src.export(out, fmt) == src.info().runs
    dst = open_store(tmp_path / "b.duckdb")
    report = ingest(dst, [str(out)])
    assert report.duplicates == len(src.runs(source="literature")) + len(src.runs(source="lrrec-corpus"))
    assert _tables(dst) == _tables(src)
    assert ingest(dst, [str(out)]).added == 0


def _tables(store) -> dict:
    con = duckdb.connect(str(store.path), read_only=True)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
                for t in ("tasks", "schedules", "runs", "curves")}
    finally:
        con.close()


def test_suggest_reads_through_one_connection_and_a_reading_block_refuses_writes(tmp_path, monkeypatch):
    from lrrec.catalog import catalog_fingerprint
    from lrrec.recommender.suggest import suggest

    open_store(tmp_path / "s.duckdb")  # made, with the literature and the corpus
    store = open_store(tmp_path / "s.duckdb")  # opened again: nothing read yet, the schema unchecked
    opened, real = [], duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *args, **kwargs: opened.append(args) or real(*args, **kwargs))
    rec = suggest(store, catalog_fingerprint("cifar100", "wrn"))
    assert len(opened) == 1 and rec.suggestions and all(s.evidence for s in rec.suggestions)
    with store.reading():
        assert store.runs(source="literature") and len(opened) == 2
        with pytest.raises(RuntimeError, match="write inside"):
            store.add_records([])
    assert store.add_records([]) == (0, 0)
