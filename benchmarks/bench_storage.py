"""Distributed tuning's storage, past this machine: trial claims/s and trial writes/s on a real PostgreSQL server
with 1, 4 and 16 local worker processes that train nothing.

Each worker opens the study as `lrrec tune`'s workers do (`study_settings`: RDB storage with heartbeats, TPE,
median pruner) and loops for `--seconds`: claim a trial (`study.ask()`, which pops an enqueued trial or creates
one, as a worker starting a trial does, after the stale-trial check a heartbeat storage runs first), report
`--reports` intermediate values (`trial.report`, one per epoch) and end it (`study.tell`). A claim is one
ask; a write is one report or tell. The first phase claims enqueued trials (as `lrrec tune`'s seeds and retries)
without sampling, the second samples each trial's parameters with TPE from the history, as tuning does.

Run: `python benchmarks/bench_storage.py [--url postgresql://...] [--seconds 10]` (without --url it starts a
server as the tests do, tests/postgres_server.py).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

WORKERS = (1, 4, 16)


def worker(url: str, study: str, seconds: float, reports: int, sample: bool, out: multiprocessing.Queue) -> None:
    import optuna
    from optuna.storages import fail_stale_trials

    from lrrec.tuning.job import TuneJob, study_settings

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    job = TuneJob("wine/mlp", ("cosine",), url, study, "unused.duckdb", heartbeat_s=60)
    handle = optuna.load_study(**study_settings(job))
    claims = writes = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        fail_stale_trials(handle)  # what a worker runs before each trial on a storage with heartbeats
        trial = handle.ask()
        lr = trial.suggest_float("lr", 1e-4, 1.0, log=True) if sample else 0.1
        claims += 1
        for epoch in range(reports):
            trial.report(lr * epoch, epoch)
        handle.tell(trial, lr)
        writes += reports + 1
    out.put((claims, writes, time.perf_counter() - start))


def measure(url: str, n: int, seconds: float, reports: int, sample: bool) -> tuple[float, float]:
    """(claims/s, writes/s) of `n` worker processes on a new study."""
    import optuna

    name = f"bench-{n}-{'tpe' if sample else 'fixed'}-{time.time_ns()}"
    optuna.create_study(storage=url, study_name=name, direction="maximize")
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(url, name, seconds, reports, sample, queue))
             for _ in range(n)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    wall = max(r[2] for r in results)
    return sum(r[0] for r in results) / wall, sum(r[1] for r in results) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default=None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--reports", type=int, default=10, help="intermediate values per trial (epochs)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from postgres_server import postgres_server

    with nullcontext(args.url) if args.url else postgres_server() as url:
        print(f"PostgreSQL storage, {args.reports} reports per trial, {args.seconds:g} s per cell")
        print("| workers | claims/s (no sampling) | writes/s (no sampling) | claims/s (TPE) | writes/s (TPE) |")
        print("|---|---|---|---|---|")
        for n in WORKERS:
            fixed = measure(url, n, args.seconds, args.reports, sample=False)
            sampled = measure(url, n, args.seconds, args.reports, sample=True)
            print(f"| {n} | {fixed[0]:,.1f} | {fixed[1]:,.0f} | {sampled[0]:,.1f} | {sampled[1]:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
