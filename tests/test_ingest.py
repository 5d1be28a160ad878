"""Ingest of interchange files (JSONL/CSV/Parquet) and DeepOBS result files: mapping, atomicity, dedup."""

import json
from pathlib import Path

import duckdb
import pytest

from lrrec.errors import IngestError, InvalidValueError
from lrrec.store import ingest, open_store

ROWS = [  # the README's hand-written example
    {"task": "cifar10/resnet18", "schedule": "cosine", "lr": 0.1, "metric_name": "val_accuracy",
     "final_metric": 0.942, "epochs": 30, "seed": 0},
    {"task": "cifar10/resnet18", "schedule": "multistep", "lr": 0.1,
     "schedule_params": {"milestones": [0.5, 0.75]}, "metric_name": "val_accuracy", "final_metric": 0.936,
     "epochs": 30, "seed": 0, "curves": [{"epoch": 1, "val_metric": 0.41}, {"epoch": 30, "val_metric": 0.936}]},
]


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "s.duckdb")


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def lrrec_runs(store, source):
    return sorted(store.runs(source=source), key=lambda r: r["run_id"])


def test_deepobs_files_map_task_schedule_and_curves(store, deepobs_dir):
    report = ingest(store, [str(p) for p in sorted(deepobs_dir.glob("*.json"))])
    assert report.added == 4 and report.skipped == []
    runs = {json.loads(r["schedule_config"])["name"]: r for r in store.runs(source="deepobs")}
    assert set(runs) == {"constant", "cosine", "sgdr", "trapezoid"}
    sgdr = json.loads(runs["sgdr"]["schedule_config"])["params"]
    assert (sgdr["t0_frac"], sgdr["t_mult"]) == (0.1, 2)
    trap = json.loads(runs["trapezoid"]["schedule_config"])["params"]
    assert (trap["warmup_frac"], trap["decay_frac"]) == (0.1, 0.1)
    for name, run in runs.items():
        prefix = {"constant": "none", "sgdr": "cosine_wr", "trapezoid": "ltr"}.get(name, name)
        raw = json.loads(next(deepobs_dir.glob(f"{prefix}__*")).read_text())
        assert run["task"] == "digits/softmax" and run["seed"] == raw["random_seed"] and run["epochs"] == 40
        assert run["final_metric"] == raw["valid_accuracies"][-1] and run["best_metric"] == max(raw["valid_accuracies"])
        assert run["optimizer"] == "sgd" and run["batch_size"] == 128
        curve = store.curves(run["run_id"])
        assert [p["train_loss"] for p in curve] == raw["train_losses"]
        assert json.loads(curve[-1]["extra"])["test_accuracy"] == raw["test_accuracies"][-1]
    (task,) = [t for t in store.tasks() if t["name"] == "digits/softmax"]
    assert task["task_kind"] == "classification" and task["n_classes"] is None  # not a DeepOBS dataset
    assert ingest(store, [str(p) for p in deepobs_dir.glob("*.json")]).added == 0


def test_deepobs_datasets_bring_their_facts():
    from lrrec.store.deepobs import _task

    task = _task("fmnist_2c2d", has_accuracy=True)
    assert (task["name"], task["n_classes"], task["input_shape"], task["input_numel"]) == ("fmnist/2c2d", 10,
                                                                                        [1, 28, 28], 784)


def test_deepobs_diverged_and_unrecognised_runs(store, tmp_path, deepobs_dir):
    """Result files edited the way the benchmark marks divergence, and with a schedule lrrec lacks."""
    raw = json.loads(next(deepobs_dir.glob("none__*")).read_text())
    for key in ("train_losses", "valid_losses", "test_losses"):
        raw[key][24:] = [raw[key][0]] * 17
    (tmp_path / "div.json").write_text(json.dumps(raw))
    ingest(store, [str(tmp_path / "div.json")])
    (run,) = store.runs(source="deepobs")
    assert run["status"] == "diverged" and run["final_metric"] is None and len(store.curves(run["run_id"])) == 24
    raw["training_params"] = {"lr_sched_epochs": [12, 24], "lr_sched_factors": [0.1, 0.01]}
    (tmp_path / "step.json").write_text(json.dumps(raw))
    with pytest.raises(IngestError, match=r"step\.json: unrecognised LR schedule"):
        ingest(store, [str(tmp_path / "step.json")])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_the_same_runs_in_any_format_are_the_same_runs(store, tmp_path, fmt):
    """CSV holds nested fields as JSON text; Parquet and JSONL as native nested values."""
    ingest(store, [str(write_jsonl(tmp_path / "a.jsonl", ROWS))])
    first = lrrec_runs(store, "jsonl")
    assert len(first) == 2 and len(store.curves(first[0]["run_id"]) + store.curves(first[1]["run_id"])) == 2
    con = duckdb.connect()
    target = tmp_path / f"b.{fmt}"
    option = {"jsonl": "FORMAT json", "csv": "FORMAT csv, HEADER", "parquet": "FORMAT parquet"}[fmt]
    nested = " REPLACE (to_json(curves) AS curves, to_json(schedule_params) AS schedule_params)" * (fmt == "csv")
    con.execute(f"COPY (SELECT *{nested} FROM read_json(?)) TO ? ({option})", [str(tmp_path / "a.jsonl"), str(target)])
    report = ingest(store, [str(target)])
    assert (report.added, report.duplicates) == (0, 2)


def test_a_bad_row_rejects_the_file_and_skip_invalid_keeps_the_rest(store, tmp_path):
    bad = {**ROWS[0], "seed": 7, "final_metric": "high"}
    path = write_jsonl(tmp_path / "mixed.jsonl", [ROWS[0], bad, ROWS[1]])
    before = store.info()
    with pytest.raises(IngestError, match=rf"{path}:2: final_metric must be a number") as err:
        ingest(store, [str(path)])
    assert err.value.problems == [f"{path}:2: final_metric must be a number, got str 'high'"]
    assert store.info() == before
    report = ingest(store, [str(path)], skip_invalid=True)
    assert report.added == 2 and report.skipped == err.value.problems


def test_the_report_as_json_keeps_its_keys_in_order_and_names_no_batch_when_nothing_was_added(store, tmp_path):
    path = str(write_jsonl(tmp_path / "a.jsonl", ROWS))
    first = ingest(store, [path]).to_dict()
    assert list(first) == ["store", "files", "rows", "added", "duplicates", "skipped", "batch"] and first["batch"]
    again = ingest(store, [path]).to_dict()
    assert again == {"store": str(store.path), "files": [{"path": path, "format": "jsonl", "rows": 2}], "rows": 2,
                     "added": 0, "duplicates": 2, "skipped": [], "batch": None}
    assert json.loads(json.dumps(again)) == again


@pytest.mark.parametrize("line, reason", [
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss", "final_metric": NaN}', "NaN is not allowed"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss", "final_metric": 1e999}', "finite number, got inf"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss"', "invalid JSON"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss", "final_metric": 1, "epochs": 2.5}',
     "whole number"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss", "final_metric": 1, "seeds": 1}',
     "unknown interchange field 'seeds'"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "speed", "final_metric": 1}', "direction"),
    ('{"task": "a/b", "schedule": "cosine", "lr": -1, "metric_name": "val_loss", "final_metric": 1}', "lr"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss"}', "needs final_metric"),
    ('[1, 2]', "must be a JSON object"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "acc", "final_metric": 1, "direction": "up"}',
     "direction 'up' is not max or min"),
    ('{"task": "a/b", "schedule": "cosine", "metric_name": "val_loss", "final_metric": 1, "curves": "oops"}',
     "curves: invalid JSON"),
])
def test_each_kind_of_bad_row_is_named(store, tmp_path, line, reason):
    path = write_jsonl(tmp_path / "bad.jsonl", [ROWS[0], line])
    with pytest.raises(IngestError, match=rf"bad\.jsonl:2: .*{reason}"):
        ingest(store, [str(path)])
    assert store.runs(source="jsonl") == []


def test_empty_truncated_and_unreadable_files_change_nothing(store, tmp_path):
    before = store.info()
    (tmp_path / "empty.jsonl").write_text("\n\n")
    with pytest.raises(IngestError, match="empty.jsonl: no runs"):
        ingest(store, [str(tmp_path / "empty.jsonl")])
    text = (write_jsonl(tmp_path / "full.jsonl", ROWS)).read_text()
    (tmp_path / "cut.jsonl").write_text(text[:-25])
    with pytest.raises(IngestError, match="cut.jsonl:2: invalid JSON"):
        ingest(store, [str(tmp_path / "cut.jsonl")])
    duckdb.connect().execute("COPY (SELECT * FROM read_json(?)) TO ? (FORMAT parquet)",
                             [str(tmp_path / "full.jsonl"), str(tmp_path / "full.parquet")])
    data = (tmp_path / "full.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="cut.parquet: not a readable Parquet file"):
        ingest(store, [str(tmp_path / "cut.parquet")])
    (tmp_path / "cut.csv").write_text('task,schedule,metric_name,final_metric\na/b,cosine,val_loss,"0.5\n')
    with pytest.raises(IngestError, match="cut.csv:2: malformed CSV"):
        ingest(store, [str(tmp_path / "cut.csv")])
    with pytest.raises(IngestError, match="missing.jsonl: cannot read"):
        ingest(store, [str(tmp_path / "missing.jsonl")])
    with pytest.raises(IngestError, match="pass --format"):
        ingest(store, [str(tmp_path / "runs.txt")])
    assert store.info() == before


def test_csv_cells_are_typed_and_nested_fields_are_json(store, tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text('task,schedule,lr,schedule_params,metric_name,final_metric,seed,optimizer_params\n'
                    'digits/mlp,step,0.05,"{""gamma"": 0.5}",val_loss,0.31,4,"{""momentum"": 0.9}"\n'
                    'digits/mlp,step,0.05,,val_loss,nan,5,\n')
    with pytest.raises(IngestError, match=r"runs\.csv:3: final_metric must be a finite number"):
        ingest(store, [str(path)])
    ingest(store, [str(path)], skip_invalid=True, source="mine")
    (run,) = store.runs(source="mine")
    assert json.loads(run["schedule_config"])["params"]["gamma"] == 0.5 and run["seed"] == 4
    assert run["source_ref"] == f"{path}:2"


def test_options_are_checked(store, tmp_path):
    with pytest.raises(InvalidValueError, match="unknown format"):
        ingest(store, ["x"], fmt="xml")
    with pytest.raises(InvalidValueError, match="only to Optuna"):
        ingest(store, [str(write_jsonl(tmp_path / "a.jsonl", ROWS))], study="s")
