"""Real processes: concurrent writers (with readers), and writers killed with SIGKILL at arbitrary moments."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrrec.store import open_store

WRITER = """
import sys
from lrrec.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[3])):
    with store.start_run("digits/mlp", "cosine", seed=i, source=sys.argv[2], flush_interval_s=0.0) as run:
        for epoch in range(4):
            run.log_metrics({"train_loss": 1.0 / (epoch + 1), "val_accuracy": 0.2 * epoch}, step=epoch, epoch=epoch)
    print(run.run_id, flush=True)
"""


READER = """
import sys
from lrrec.catalog import catalog_fingerprint
from lrrec.recommender.suggest import suggest
from lrrec.store import open_store
store = open_store(sys.argv[1])
while sys.stdin.readline():
    suggest(store, catalog_fingerprint("cifar100", "wrn"), top=3)
    print("ok", flush=True)
"""


def _spawn(tmp_path: Path, *args: str) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    if not script.exists():  # rewriting it while an earlier writer starts would hand that one an empty script
        script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def test_four_writer_processes_lose_no_run(tmp_path):
    path = str(tmp_path / "s.duckdb")
    workers = [_spawn(tmp_path, path, f"worker{i}", "6") for i in range(4)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err for _, err in outputs]
    store = open_store(path)
    for i, (out, _) in enumerate(outputs):
        runs = store.runs(source=f"worker{i}")
        assert sorted(r["run_id"] for r in runs) == sorted(out.split())
        assert all(r["status"] == "finished" and r["final_metric"] == pytest.approx(0.6) for r in runs)
        assert all(len(store.curves(r["run_id"])) == 4 for r in runs)


def test_sixteen_writers_with_readers_lose_no_run(tmp_path):
    """The stress benchmark's pattern at test size: every reported run arrives finished with all 4 points."""
    path = str(tmp_path / "s.duckdb")
    open_store(path)
    (tmp_path / "reader.py").write_text(READER)
    readers = [subprocess.Popen([sys.executable, str(tmp_path / "reader.py"), path], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True) for _ in range(2)]
    writers = [_spawn(tmp_path, path, f"worker{i}", "6") for i in range(16)]
    reads = 0
    while any(w.poll() is None for w in writers):  # readers keep asking while any writer runs
        for reader in readers:
            reader.stdin.write("go\n")
            reader.stdin.flush()
            reads += int(reader.stdout.readline().strip() == "ok")
    outputs = [w.communicate(timeout=120) for w in writers]
    for reader in readers:
        reader.communicate(timeout=60)
    assert all(w.returncode == 0 for w in writers), [err for _, err in outputs]
    assert all(r.returncode == 0 for r in readers) and reads >= 1
    store = open_store(path)
    reported = {run_id for out, _ in outputs for run_id in out.split()}
    runs = {r["run_id"]: r for r in store.runs() if r["source"].startswith("worker")}
    assert len(reported) == 96 and set(runs) == reported
    assert all(runs[r]["status"] == "finished" and len(store.curves(r)) == 4 for r in reported)


def test_sigkill_leaves_a_readable_store_with_every_finished_run(tmp_path):
    path = str(tmp_path / "s.duckdb")
    open_store(path)
    finished: list[str] = []
    for kills, wait_for in enumerate((1, 3, 6), start=1):  # kill at different points of the write cycle
        proc = _spawn(tmp_path, path, "killed", "1000")
        finished += [proc.stdout.readline().strip() for _ in range(wait_for)]  # runs it reported as finished
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        finished += out.split()
        store = open_store(path)  # readable and writable again
        runs = {r["run_id"]: r for r in store.runs(source="killed")}
        assert set(finished) <= set(runs)
        for run_id in finished:
            assert runs[run_id]["status"] == "finished" and len(store.curves(run_id)) == 4
        # unreported runs: the one cut short ("running"), or one that committed just before the kill landed
        # ahead of its printed id ("finished"); never anything half-written
        unreported = [runs[r]["status"] for r in set(runs) - set(finished)]
        assert set(unreported) <= {"running", "finished"} and unreported.count("running") <= kills


def test_sigkill_during_a_bulk_ingest_leaves_all_or_nothing(tmp_path):
    """Synthetic rows (this is about atomicity, not content): 30,000 runs in one file."""
    path = str(tmp_path / "s.duckdb")
    before = open_store(path).info().runs
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(f'{{"task": "t/m", "schedule": "cosine", "lr": 0.1, "seed": {i}, '
                            f'"metric_name": "val_loss", "final_metric": {i / 7}}}\n' for i in range(30000)))
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from lrrec.store import open_store, ingest; "
                             "ingest(open_store(sys.argv[1]), [sys.argv[2]])", path, str(rows)])
    copy = tmp_path / f".s.duckdb.swap-{proc.pid}"
    while not copy.exists() and proc.poll() is None:  # the event: the ingest has begun writing its copy
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert open_store(path).info().runs in (before, before + 30000)
    open_store(path).add_records([], copy_first=True)  # the next bulk writer clears the killed one's copy
    assert not copy.exists()
