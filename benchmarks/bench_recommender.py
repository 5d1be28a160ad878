"""`lrrec suggest` and `lrrec store info` wall time (whole process) on stores of 100,000 and 1,000,000 runs.

Targets (2 cores): suggest under 0.3 s at 100,000 runs and under 1 s at 1,000,000; store info under 0.5 s at
1,000,000. The stores are synthetic (the figures are about speed): 500 tasks with random fingerprints, every
schedule, an LR grid, 5 % diverged. Printed beside, in the same run: `lrrec --help` (process start-up), and
in-process: what each suggest did before the store kept its `cells` table (aggregating every run,
`cells.scored_cells_sql()`), reading every scored cell, and what suggest reads now (the tasks near the target
whole, the others as summaries).
With `--against DIR` (another lrrec source tree, e.g. `git worktree add /tmp/lrrec-before <commit>`), that lrrec's
`suggest` and `store info` are timed on the same stores, alternating with this one's (a store made by that
lrrec; this lrrec reads its own copy, migrated by a warm-up call).
Run: python benchmarks/bench_recommender.py [--runs N [N ...]] [--against DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from lrrec.catalog import catalog_fingerprint
from lrrec.recommender.experience import load_experience
from lrrec.recommender.ranking import ModelSettings, near_tasks
from lrrec.schedules import list_specs
from lrrec.store import ingest, open_store
from lrrec.store.cells import scored_cells_sql

LRRECS = str(Path(sys.executable).parent / "lrrec")


def write_rows(path: Path, n: int, tasks: int = 500) -> None:
    rng = random.Random(0)
    names = [spec.name for spec in list_specs()]
    fingerprints = []
    for i in range(tasks):
        params = int(10 ** rng.uniform(4, 8))
        fingerprints.append({"name": f"data{i}/model{i % 9}", "dataset": f"data{i}", "model": f"model{i % 9}",
                             "n_train": int(10 ** rng.uniform(3, 6)), "n_classes": rng.choice([2, 10, 100, 1000]),
                             "input_numel": rng.choice([40, 64, 784, 3072, 150528]), "n_params": params,
                             "forward_flops": 2.0 * params * rng.uniform(1, 300), "depth": rng.randint(2, 60),
                             "has_norm": rng.random() < 0.6, "has_residual": rng.random() < 0.5})
    with open(path, "w") as out:
        for i in range(n):
            task = fingerprints[i % tasks]
            out.write(json.dumps({
                "task": task, "schedule": names[(i // tasks) % len(names)], "lr": rng.choice([0.01, 0.03, 0.1, 0.3]),
                "seed": i, "optimizer": "sgd", "batch_size": 128, "epochs": 20, "metric_name": "val_accuracy",
                "final_metric": rng.random(), "status": "finished" if rng.random() > 0.05 else "diverged",
            }) + "\n")


def best_of(work: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def process(*args: str, source: Path | None = None) -> Callable[[], object]:
    """`lrrec ARGS` as a new process: this lrrec, or the one in the source tree `source`."""
    if source is None:
        return lambda: subprocess.run([LRRECS, *args], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(source)}
    return lambda: subprocess.run([sys.executable, "-m", "lrrec", *args], check=True, capture_output=True, env=env,
                                  cwd=source)


def alternating(this: Callable[[], object], other: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """Best wall times of two commands run in turn (so that both see the same machine)."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for work, out in ((this, times[0]), (other, times[1])):
            out.append(best_of(work, repeats=1))
    return min(times[0]), min(times[1])


def compare(n: int, folder: Path, source: Path) -> None:
    """This lrrec against the one in `source`, on a store of `n` runs that lrrec made (this one reads a copy)."""
    rows, theirs, ours = folder / f"runs-{n}.jsonl", folder / f"before-{n}.duckdb", folder / f"now-{n}.duckdb"
    write_rows(rows, n)
    process("ingest", str(rows), "--store", str(theirs), source=source)()
    rows.unlink()
    shutil.copyfile(theirs, ours)
    for args in (["suggest", "--dataset", "cifar100", "--model", "wrn"], ["store", "info"]):
        process(*args, "--store", str(ours))()  # warm-up (and this lrrec's migration of its copy)
        now, before = alternating(process(*args, "--store", str(ours)),
                                  process(*args, "--store", str(theirs), source=source))
        print(f"{n:>9,} runs: `lrrec {' '.join(args)}` {now:.2f} s, the lrrec in {source}: {before:.2f} s "
              f"({before / now:.2f}x)")


def measure(n: int, folder: Path) -> None:
    rows, store_path = folder / f"runs-{n}.jsonl", folder / f"store-{n}.duckdb"
    write_rows(rows, n)
    store = open_store(store_path)
    ingest(store, [str(rows)])
    rows.unlink()
    process("suggest", "--dataset", "cifar100", "--model", "wrn", "--store", str(store_path))()  # warm-up
    startup = best_of(process("--help"), repeats=5)
    suggest = best_of(process("suggest", "--dataset", "cifar100", "--model", "wrn", "--store", str(store_path)),
                      repeats=5)
    info = best_of(process("store", "info", "--store", str(store_path)), repeats=5)
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        aggregate = best_of(lambda: con.execute(scored_cells_sql()).fetchall())
    finally:
        con.close()
    every = best_of(lambda: load_experience(store))
    near = near_tasks(catalog_fingerprint("cifar100", "wrn"), ModelSettings())
    nearby = best_of(lambda: load_experience(store, near))
    read = load_experience(store, near)
    print(f"{n:>9,} runs: `lrrec suggest` {suggest:.2f} s, `lrrec store info` {info:.2f} s (`lrrec --help` "
          f"{startup:.2f} s)\n    in-process: aggregating every run into cells (each suggest before the cells "
          f"table) {aggregate:.3f} s; reading every scored cell ({read.n_tasks} tasks) {every:.3f} s; reading the "
          f"{len(read.by_task)} tasks near cifar100/wrn whole and the rest as summaries (suggest now) {nearby:.3f} s "
          f"({every / nearby:.1f}x less than every cell)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--against", type=Path, default=None, help="another lrrec source tree to time beside")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in options.runs:
            measure(n, Path(tmp))
            if options.against is not None:
                compare(n, Path(tmp), options.against.resolve())
            for leftover in Path(tmp).iterdir():
                leftover.unlink()


if __name__ == "__main__":
    main()
