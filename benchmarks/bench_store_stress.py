"""Concurrent writers on one store: does every committed run arrive, with every curve point?

    python benchmarks/bench_store_stress.py                  # 16 writers x 200 runs + 2 suggest readers, 10 rounds
    python benchmarks/bench_store_stress.py --rounds 2 --runs 50

Each round starts from a new store. Writers are real processes recording runs through `Store.start_run` (4 curve
points each, flushed at the end); readers call `suggest` in a loop until the last writer ends. A round passes
when the store holds every run each writer printed, finished, with all 4 points.

The baseline, measured in the same run: plain DuckDB with the same access pattern and no lrrec lock (each
process connects, inserts one row in a transaction, commits and closes, retrying DuckDB's lock error), so the
figures show what the lock prevents on the duckdb installed here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WRITER = """
import sys
from lrrec.store import open_store
store = open_store(sys.argv[1])
for i in range(int(sys.argv[3])):
    with store.start_run("digits/mlp", "cosine", seed=i, source=sys.argv[2], flush_interval_s=3600) as run:
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
target = catalog_fingerprint("cifar100", "wrn")
done = 0
while sys.stdin.readline():  # the parent writes a line per request and closes stdin when the writers end
    suggest(store, target, top=3)
    done += 1
    print(done, flush=True)
"""

PLAIN = """
import random, sys, time
import duckdb
path, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    delay = 0.005
    while True:
        try:
            con = duckdb.connect(path)
            break
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)
    con.execute("BEGIN"); con.execute("INSERT INTO t VALUES (?, ?)", [worker, i]); con.execute("COMMIT")
    con.close()
"""


def lrrec_round(folder: Path, writers: int, runs: int, readers: int) -> tuple[int, int, int, float]:
    """(runs complete in the store, runs the writers reported, suggest calls made, seconds)."""
    from lrrec.store import open_store

    path = folder / "s.duckdb"
    open_store(path)
    (folder / "w.py").write_text(WRITER)
    (folder / "r.py").write_text(READER)
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(folder / "w.py"), str(path), f"w{i}", str(runs)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(writers)]
    reads = [subprocess.Popen([sys.executable, str(folder / "r.py"), str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(readers)]
    calls = 0
    while any(p.poll() is None for p in procs):  # keep the readers asking while any writer runs
        for reader in reads:
            reader.stdin.write("go\n")
            reader.stdin.flush()
            calls += int(reader.stdout.readline() != "")
    outputs = [p.communicate() for p in procs]
    for reader in reads:
        reader.communicate()
    seconds = time.perf_counter() - start
    failed = [err.strip().splitlines()[-1] for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
    if failed:
        print("  writer failures:", failed[:3])
    store = open_store(path)
    reported = [run_id for out, _ in outputs for run_id in out.split()]
    runs_by_id = {r["run_id"]: r for r in store.runs()}
    with store.transaction(write=False) as con:
        points = dict(con.execute("SELECT run_id, count(*) FROM curves GROUP BY run_id").fetchall())
    complete = sum(1 for run_id in reported
                   if run_id in runs_by_id and runs_by_id[run_id]["status"] == "finished" and points.get(run_id) == 4)
    return complete, writers * runs, calls, seconds


def plain_round(folder: Path, writers: int, commits: int) -> tuple[int, int, float]:
    """(rows in the table, commits made, seconds) for plain DuckDB without the lock."""
    import duckdb

    path = folder / "plain.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE t (w INTEGER, i INTEGER)")
    con.close()
    (folder / "p.py").write_text(PLAIN)
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, str(folder / "p.py"), str(path), str(i), str(commits)])
             for i in range(writers)]
    codes = [p.wait() for p in procs]
    seconds = time.perf_counter() - start
    con = duckdb.connect(str(path))
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    return rows, writers * commits if not any(codes) else -1, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--runs", type=int, default=200, help="runs per writer")
    parser.add_argument("--readers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--no-baseline", action="store_true", help="skip the plain-DuckDB rounds")
    args = parser.parse_args()
    import duckdb

    print(f"duckdb {duckdb.__version__}; {args.writers} writers x {args.runs} runs, {args.readers} readers, "
          f"{args.rounds} rounds")
    passed = 0
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            complete, expected, calls, seconds = lrrec_round(Path(tmp), args.writers, args.runs, args.readers)
        passed += complete == expected
        print(f"lrrec round {number}: {complete} of {expected} runs complete, {calls} suggest calls alongside, "
              f"{seconds:.0f} s", flush=True)
    print(f"lrrec: {passed} of {args.rounds} rounds lost nothing")
    if args.no_baseline:
        return
    lossy = 0
    lost = 0
    for number in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory() as tmp:
            rows, expected, seconds = plain_round(Path(tmp), args.writers, args.runs)
        lossy += rows != expected
        lost += expected - rows
        print(f"plain duckdb round {number}: {rows} of {expected} commits arrived, {seconds:.0f} s", flush=True)
    print(f"plain duckdb (baseline): {lossy} of {args.rounds} rounds lost commits, {lost} commits lost in all")


if __name__ == "__main__":
    main()
