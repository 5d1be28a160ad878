"""Time to evaluate 1,000,000 steps of every schedule in one vectorised call (target: well under 1 s each).

Prints seconds per schedule and the ratio against a baseline measured in the same run: one numpy cosine over
the same 1,000,000 steps (the cost floor of any closed-form schedule). Run: python benchmarks/bench_schedules.py
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from lrrec.schedules import ScheduleConfig, Warmup, list_specs

STEPS = 1_000_000
REPEATS = 5


def best_time(fn) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    t = np.arange(STEPS)
    baseline = best_time(lambda: 0.5 * (1 + np.cos(np.pi * t / STEPS)))
    print(f"baseline numpy cosine over {STEPS:,} steps: {baseline * 1e3:.1f} ms")
    print(f"{'schedule':<18} {'ms':>8} {'x baseline':>11}   (+ linear warmup: ms)")
    worst = 0.0
    for spec in list_specs():
        config = ScheduleConfig.create(spec.name)
        seconds = best_time(partial(config.lrs, t, STEPS))
        warm = "" if spec.includes_warmup else ScheduleConfig.create(spec.name, warmup=Warmup("linear", 0.05))
        warm_s = best_time(partial(warm.lrs, t, STEPS)) if warm else float("nan")
        worst = max(worst, seconds, 0.0 if np.isnan(warm_s) else warm_s)
        print(f"{spec.name:<18} {seconds * 1e3:8.1f} {seconds / baseline:11.1f}   {warm_s * 1e3:8.1f}")
    print(f"slowest: {worst * 1e3:.1f} ms for {STEPS:,} steps (target < 1000 ms)")


if __name__ == "__main__":
    main()
