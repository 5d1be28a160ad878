"""Property-based: malformed input never escapes as anything but `IngestError`, and never changes the store.
The same inputs on every run; `LRREC_FUZZ=explore` draws new ones (tests/fuzzing.py)."""

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from fuzzing import fuzz_settings
from hypothesis import example, given
from hypothesis import strategies as st

from lrrec.errors import IngestError
from lrrec.store import ingest, open_store

VALID = {"task": "cifar10/resnet18", "schedule": "cosine", "lr": 0.1, "metric_name": "val_accuracy",
         "final_metric": 0.9, "epochs": 30, "curves": [{"epoch": 1, "val_metric": 0.5}]}
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=3), max_leaves=6)
SETTINGS = fuzz_settings(40, deadline=None)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A new store, made once: each example gets a copy (a new store holds the literature prior, 16 MB)."""
    return open_store(tmp_path_factory.mktemp("template") / "store.duckdb").path


@contextmanager
def fresh_store(template: Path):
    """A copy of the new store `template` for one example, removed afterwards with the files beside it."""
    folder = Path(tempfile.mkdtemp(prefix="lrrec-property-"))
    try:
        shutil.copyfile(template, folder / "store.duckdb")
        yield open_store(folder / "store.duckdb"), folder
    finally:
        shutil.rmtree(folder)


def _check(store, path):
    before = store.info()
    try:
        report = ingest(store, [str(path)])
    except IngestError as exc:
        assert store.info() == before
        assert str(path) in str(exc)
        return None
    assert store.info().runs == before.runs + report.added
    return report


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".csv", ".parquet", ".json"]))
def test_arbitrary_bytes_are_rejected_cleanly(template, data, suffix):
    with fresh_store(template) as (store, folder):
        path = folder / f"input{suffix}"
        path.write_bytes(data)
        _check(store, path)


@SETTINGS
@given(key=st.sampled_from(sorted(VALID) + ["seed", "status", "direction", "optimizer_params"]), value=JSON_VALUES)
@example(key="epochs", value=2**63)  # beyond DuckDB's BIGINT: found by hypothesis, once a crash
@example(key="seed", value=-1.7e38)
def test_one_field_replaced_by_any_json_value(template, key, value):
    with fresh_store(template) as (store, folder):
        path = folder / "rows.jsonl"
        path.write_text(json.dumps(VALID) + "\n" + json.dumps({**VALID, key: value, "seed": 1}) + "\n")
        report = _check(store, path)
        if report is None:
            ingest(store, [str(path)], skip_invalid=True)
            assert len(store.runs(source="jsonl")) == 1


@SETTINGS
@given(cut=st.integers(min_value=1, max_value=len(json.dumps(VALID)) - 1))
def test_any_truncation_of_the_last_line_is_reported_at_that_line(template, cut):
    with fresh_store(template) as (store, folder):
        path = folder / "rows.jsonl"
        path.write_text(json.dumps(VALID) + "\n" + json.dumps({**VALID, "seed": 2})[:cut])
        try:
            ingest(store, [str(path)])
        except IngestError as exc:
            assert "rows.jsonl:2: " in str(exc)
        else:  # only a cut that leaves valid JSON of a valid row can pass, and then nothing is lost silently
            assert len(store.runs(source="jsonl")) == 2
