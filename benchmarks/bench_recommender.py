"""`lrrec suggest` wall time on a store of 100,000 runs (target: under 1 s on 2 cores, no torch import).

The store is synthetic (the figure is about speed): 500 tasks with random fingerprints x 200 runs each over
every schedule and an LR grid. Printed against `lrrec --help` measured in the same run (process start-up).
Run: python benchmarks/bench_recommender.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lrrec.schedules import list_specs
from lrrec.store import ingest, open_store

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


def wall(args: list[str], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([LRRECS, *args], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    n = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        rows, store_path = Path(tmp) / "runs.jsonl", Path(tmp) / "store.duckdb"
        write_rows(rows, n)
        ingest(open_store(store_path), [str(rows)])
        startup = wall(["--help"])
        seconds = wall(["suggest", "--dataset", "cifar100", "--model", "wrn", "--store", str(store_path)])
    print(f"`lrrec suggest` on a {n:,}-run store: {seconds:.2f} s wall "
          f"(`lrrec --help`: {startup:.2f} s; suggest / start-up = {seconds / startup:.1f}x)")


if __name__ == "__main__":
    main()
