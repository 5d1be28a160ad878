"""Stale runs (their process is gone) and removing runs: `store info`, `store repair`, `store rm`."""

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.store import open_store
from lrrec.store.interchange import utc_now
from lrrec.store.upkeep import STALE_AFTER_S

STARTER = """
import sys
from lrrec.store import open_store
run = open_store(sys.argv[1]).start_run("digits/mlp", "cosine", source="killed")
run.log_metrics({"val_accuracy": 0.5}, step=1)
run.flush()
print(run.run_id, flush=True)
sys.stdin.readline()  # holds the run open until killed
"""


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_a_killed_run_is_stale_and_repair_marks_it_interrupted_keeping_its_points(tmp_path):
    path = tmp_path / "s.duckdb"
    store = open_store(path)
    proc = subprocess.Popen([sys.executable, "-c", STARTER, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    run_id = proc.stdout.readline().strip()  # the event: its run is recorded and flushed
    assert store.info().stale_runs == 0  # its process is alive
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    with store.start_run("digits/mlp", "cosine") as live:  # a run of this live process is never stale
        info = json.loads(run("store", "info", "--store", str(path), "--json").output)
        assert info["stale_runs"] == 1 and info["by_status"]["running"] == 2
        assert "1 stale runs" in run("store", "info", "--store", str(path)).output
        live.log_metrics({"val_accuracy": 0.6}, step=1)
        repaired = json.loads(run("store", "repair", "--store", str(path), "--json").output)
    assert [r["run_id"] for r in repaired] == [run_id] and f"process {proc.pid}" in repaired[0]["reason"]
    (killed,) = store.runs(source="killed")
    assert killed["status"] == "interrupted" and "marked interrupted by lrrec store repair" in killed["notes"]
    assert len(store.curves(run_id)) == 1
    assert store.info().stale_runs == 0 and store.runs(source="lrrec")[0]["status"] == "finished"


@pytest.mark.parametrize(("age_s", "stale"), [(STALE_AFTER_S + 60, True), (60, False)])
def test_a_run_on_another_host_is_stale_after_an_hour_without_heartbeat(tmp_path, age_s, stale):
    store = open_store(tmp_path / "s.duckdb")
    live = store.start_run("digits/mlp", "cosine")
    with store.transaction() as con:
        con.execute("UPDATE run_owners SET host = 'elsewhere', heartbeat_at = ? WHERE run_id = ?",
                    [utc_now() - timedelta(seconds=age_s), live.run_id])
    assert store.info().stale_runs == int(stale)
    live.flush()  # a heartbeat from the run itself
    assert store.info().stale_runs == 0


def _ingest(path, tmp_path, name, seeds):
    rows = tmp_path / f"{name}.jsonl"
    rows.write_text("".join(json.dumps({"task": "t/m", "schedule": "cosine", "lr": 0.1, "seed": s,
                                        "metric_name": "val_loss", "final_metric": 0.5,
                                        "curves": [{"epoch": 1, "val_metric": 0.6}]}) + "\n" for s in seeds))
    return json.loads(run("ingest", str(rows), "--store", str(path), "--json", "--source", name).output)


def test_store_rm_removes_one_ingest_batch_whole_after_a_dry_run(tmp_path):
    path = tmp_path / "s.duckdb"
    first, second = _ingest(path, tmp_path, "first", range(3)), _ingest(path, tmp_path, "second", range(3, 5))
    before = open_store(path).info()
    dry = run("store", "rm", "--batch", first["batch"], "--dry-run", "--store", str(path))
    assert dry.exit_code == 0 and "3 runs would be removed" in dry.output and open_store(path).info() == before
    removed = json.loads(run("store", "rm", "--batch", first["batch"], "--store", str(path), "--json").output)
    assert removed["removed"] and {r["source"] for r in removed["runs"]} == {"first"}
    store = open_store(path)
    assert store.runs(source="first") == [] and len(store.runs(source="second")) == 2
    assert store.info().curve_points == before.curve_points - 3
    assert second["batch"] != first["batch"]
    assert "t/m" in {t["name"] for t in store.tasks()}  # still used by the second batch


def test_store_rm_by_id_and_source_and_its_mistakes(tmp_path):
    path = tmp_path / "s.duckdb"
    _ingest(path, tmp_path, "mine", range(2))
    store = open_store(path)
    one, other = (r["run_id"] for r in store.runs(source="mine"))
    assert run("store", "rm", "--run", one, "--store", str(path)).exit_code == 0
    assert [r["run_id"] for r in store.runs(source="mine")] == [other]
    for args, message in ((["--run", "nope"], "no run nope matches"), ([], "name the runs to remove"),
                          (["--source", "nobody"], "no run in")):
        result = run("store", "rm", *args, "--store", str(path))
        assert result.exit_code == 1 and message in result.output and len(result.output.splitlines()) == 1
    assert run("store", "rm", "--source", "mine", "--store", str(path)).exit_code == 0
    assert store.runs(source="mine") == [] and "t/m" not in {t["name"] for t in store.tasks()}
