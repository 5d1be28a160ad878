"""Store figures: ingest of 100,000 runs from JSONL, CSV and Parquet (runs/s), column-wise (the path `lrrec ingest`
takes) against row by row (the row parser alone, as before column-wise validation), in the same run; and
`lrrec store info` wall time.

Synthetic rows (this measures parsing and writing): 200 tasks x 6 schedules x seeds, each run with a 10-point
curve. Run: `python benchmarks/bench_store.py [--runs N]`.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

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


def write_csv(jsonl: Path, out: Path) -> None:
    """The same rows as CSV: nested fields as JSON text in their cells."""
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    columns = list(rows[0])
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        writer.writerows([json.dumps(row[c]) if isinstance(row[c], (dict, list)) else row[c] for c in columns]
                         for row in rows)


def cpu_seconds() -> float:
    """CPU time of this process, every thread (DuckDB's too): the figure a machine shared with other work keeps."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_ingest(path: Path, store_path: Path, row_by_row: bool = False) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one `ingest` call into a new store."""
    store = open_store(store_path)
    start, cpu = time.perf_counter(), cpu_seconds()
    if row_by_row:  # column-wise validation declines every file: the row parser reads it, as before
        with mock.patch("lrrec.store.ingest.validate_file", return_value=None):
            report = ingest(store, [str(path)])
    else:
        report = ingest(store, [str(path)])
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert report.skipped == [] and report.added == report.rows
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    n = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        jsonl, table, parquet = folder / "runs.jsonl", folder / "runs.csv", folder / "runs.parquet"
        write_rows(jsonl, n)
        con = duckdb.connect()
        con.execute("COPY (SELECT * FROM read_json(?)) TO ? (FORMAT parquet)", [str(jsonl), str(parquet)])
        write_csv(jsonl, table)
        print(f"ingest of {n:,} runs with 10-point curves, whole `ingest` call (store write included): runs/s of "
              f"wall time (CPU seconds of all threads)")
        print("| format | column-wise (lrrec ingest) | row by row (before) | ratio, wall (CPU) |\n|---|---|---|---|")
        for label, path in (("JSONL", jsonl), ("CSV", table), ("Parquet", parquet)):
            new, new_cpu = timed_ingest(path, folder / f"{label}.duckdb")
            old, old_cpu = timed_ingest(path, folder / f"{label}-rows.duckdb", row_by_row=True)
            print(f"| {label} | {n / new:,.0f} ({new_cpu:.2f} s) | {n / old:,.0f} ({old_cpu:.1f} s) | "
                  f"{old / new:.1f}x ({old_cpu / new_cpu:.1f}x) |")
        lrrec = str(Path(sys.executable).parent / "lrrec")
        info, startup = (min(_wall([lrrec, *args]) for _ in range(3))
                         for args in (["store", "info", "--store", str(folder / "JSONL.duckdb")], ["--help"]))
        print(f"`lrrec store info` on a {n:,}-run store: {info:.2f} s wall, best of 3 (`lrrec --help`: "
              f"{startup:.2f} s)")


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
