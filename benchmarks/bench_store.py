"""Store figures: ingest of 100,000 runs from JSONL and from Parquet (runs/s), and `lrrec store info` wall time.

Synthetic rows (this measures parsing and writing): 200 tasks x 6 schedules x seeds, each run with a 10-point
curve. Run: `python benchmarks/bench_store.py [--runs N]`.
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

import duckdb

from lrrec.store import ingest, open_store

SCHEDULES = [("cosine", {}), ("step", {"gamma": 0.2}), ("multistep", {"milestones": [0.5, 0.75]}),
             ("sgdr", {"t0_frac": 0.1}), ("warmup_cosine", {"warmup_frac": 0.05}), ("constant", {})]


def write_rows(path: Path, n: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as out:
        for i in range(n):
            name, params = SCHEDULES[i % len(SCHEDULES)]
            acc = rng.random()
            out.write(json.dumps({
                "task": f"data{i % 200}/model{i % 7}", "schedule": name, "lr": 10 ** rng.uniform(-3, 0),
                "schedule_params": params, "seed": i, "optimizer": "sgd", "optimizer_params": {"momentum": 0.9},
                "batch_size": 128, "epochs": 10, "steps": 3910, "metric_name": "val_accuracy", "final_metric": acc,
                "curves": [{"epoch": e, "val_metric": acc * e / 10, "train_loss": 1 / e} for e in range(1, 11)],
            }) + "\n")


def timed_ingest(path: Path, store_path: Path) -> float:
    store = open_store(store_path)
    start = time.perf_counter()
    report = ingest(store, [str(path)])
    elapsed = time.perf_counter() - start
    assert report.skipped == [] and report.added == report.rows
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    n = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jsonl, parquet = folder / "runs.jsonl", folder / "runs.parquet"
        write_rows(jsonl, n)
        duckdb.connect().execute("COPY (SELECT * FROM read_json(?)) TO ? (FORMAT parquet)", [str(jsonl), str(parquet)])
        for label, path in (("JSONL", jsonl), ("Parquet", parquet)):
            seconds = timed_ingest(path, folder / f"{label}.duckdb")
            print(f"ingest {n:,} runs from {label}: {seconds:.1f} s = {n / seconds:,.0f} runs/s")
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "lrrec"), "store", "info", "--store",
                        str(folder / "JSONL.duckdb")], check=True, capture_output=True)
        print(f"`lrrec store info` on a {n:,}-run store: {time.perf_counter() - start:.2f} s wall "
              f"(whole process, including Python start-up)")


if __name__ == "__main__":
    main()
