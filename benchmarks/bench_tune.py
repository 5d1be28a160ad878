"""Seeded and transferred TPE vs cold TPE vs random search on built-in CPU tasks held out from the store.

For each task and seed: cold TPE searches the library space (every schedule as a categorical, conditional
parameters) for 30 trials, and its best value B is the bar. Each method's figure is the number of trials it
needs to reach B (31 = never within 30); a method that runs an LR range test first is charged its 100 updates
as a fraction of one trial's updates. The recommender's suggestions come from the shipped corpus without
the held-out task's runs. "seeded-1" enqueues the top suggestion, then TPE over the library space;
"transferred-5" enqueues the top 5 and runs TPE over the space `lrrec tune` builds from them (their schedules,
LR within 3x of theirs); "probed-5" (`lrrec tune`'s default) also runs an LR range test first and enqueues the
top 5 at its steepest-descent LR. Target: a seeded method needs 5x fewer trials than cold
TPE (median), and is not worse than cold TPE at 30 trials. Real training (seed 0, no pruning), so every trial
costs a full run. wine/mlp is left out: its 36 validation samples put 1.0 within 3 random trials of any method.
Run: python benchmarks/bench_tune.py [--tasks digits/mlp,mnist1d/mlp] [--seeds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import optuna
from held_out import held_out_store

from lrrec.runners import probes
from lrrec.runners.execute import task_fingerprint
from lrrec.runners.tasks import get_task, load_data
from lrrec.runners.train import steps_per_epoch
from lrrec.schedules import ScheduleConfig
from lrrec.tuning.job import TuneJob, resolve_schedules
from lrrec.tuning.space import draw_config, plan_study, seed_study

TRIALS = 30
TASKS = "digits/mlp,digits/cnn,mnist1d/mlp,mnist1d/cnn1d,breast_cancer/mlp"
METHODS = {"cold": (0, "library", False), "seeded-1": (1, "library", False),
           "transferred-5": (5, "transferred", False), "probed-5": (5, "transferred", True),
           "random": (0, "library", False)}  # suggestions enqueued, space, LR range test first
Plan = tuple[tuple[str, ...], Any, list[ScheduleConfig], float]  # schedules, LR range, enqueued, probe cost


def held_out_plans(task_name: str, folder: Path, methods: list[str]) -> dict[str, Plan]:
    """Each method's search space and seeds, planned from the shipped corpus without the task's runs."""
    store = held_out_store(task_name, folder)
    job = TuneJob(task_name, resolve_schedules(None, None), "unused", "bench", str(store.path))
    task = get_task(task_name)
    plans = {}
    for method in methods:
        top, space, probe = METHODS[method]
        planned, seeds = plan_study(job, store, task_fingerprint(task_name, None),
                                    task.budget, top, space,
                                    (lambda: probes.lr_range_test(task, task.budget).steepest_lr) if probe else None)
        trial_steps = task.budget.epochs * steps_per_epoch(load_data(task, None), task.budget.batch_size)
        plans[method] = (planned.schedules, planned.lr_range, seeds, probes.STEPS / trial_steps if probe else 0.0)
    return plans


def run_study(task_name: str, method: str, plan: Plan, seed: int) -> list[float]:
    """Best value so far after each of the study's trials."""
    import torch

    from lrrec.runners.train import train

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    schedules, lr_range, seeds, _ = plan
    sampler = optuna.samplers.RandomSampler(seed=seed) if method == "random" else optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    seed_study(study, seeds, schedules, lr_range)
    task = get_task(task_name)

    def objective(trial: optuna.Trial) -> float:
        outcome = train(task, draw_config(trial, schedules, lr_range), task.budget, seed=0)
        return outcome.final_metric if outcome.status == "finished" and outcome.final_metric is not None else 0.0

    study.optimize(objective, n_trials=TRIALS)
    values = [t.value for t in sorted(study.trials, key=lambda t: t.number)]
    return [max(values[: i + 1]) for i in range(len(values))]


def trials_to_reach(best_so_far: list[float], bar: float) -> int:
    return next((i + 1 for i, v in enumerate(best_so_far) if v >= bar - 1e-12), TRIALS + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--methods", default=",".join(METHODS), help="cold is always run (it sets the bar)")
    parser.add_argument("--workers", type=int, default=2, help="studies run in parallel, one CPU thread each")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    began = time.time()
    methods = list(dict.fromkeys(["cold", *args.methods.split(",")]))
    with tempfile.TemporaryDirectory() as tmp:
        plans = {name: held_out_plans(name, Path(tmp), methods) for name in args.tasks.split(",")}
    for name, by_method in plans.items():
        for method, (schedules, lr_range, seeds, _) in by_method.items():
            if lr_range:
                print(f"{name} {method}: {', '.join(schedules)}, lr {lr_range[0]:.3g} to {lr_range[1]:.3g}, "
                      f"enqueued at lr {', '.join(f'{c.lr:.3g}' for c in seeds)}")
    jobs = [(name, method, plan, seed) for name, by_method in plans.items() for seed in range(args.seeds)
            for method, plan in by_method.items()]
    with ProcessPoolExecutor(args.workers) as pool:
        curves = dict(zip(((n, m, s) for n, m, _, s in jobs), pool.map(run_study, *zip(*jobs))))
    rows = []
    for name, by_method in plans.items():
        for seed in range(args.seeds):
            bar = curves[name, "cold", seed][-1]
            row = {"task": name, "seed": seed, "bar": bar}
            for method in methods:
                row[method] = trials_to_reach(curves[name, method, seed], bar) + by_method[method][3]
                row[f"{method}_at_30"] = curves[name, method, seed][-1]
            rows.append(row)
            print(f"{name:<18} seed {seed}: bar {bar:.4f}; trials to reach it: "
                  + ", ".join(f"{m} {row[m]:.3g}" for m in methods), flush=True)
    med = {m: statistics.median(r[m] for r in rows) for m in methods}
    at30 = {m: statistics.median(r[f"{m}_at_30"] for r in rows) for m in methods}
    print("median trials to reach cold TPE's 30-trial best (31 = not within 30): "
          + ", ".join(f"{m} {med[m]:.3g}" for m in methods))
    for name in plans:
        print(f"{name:<18} median trials: " + ", ".join(
            f"{m} {statistics.median(r[m] for r in rows if r['task'] == name):.3g}" for m in methods))
    print("speed-up over cold TPE (median trials): "
          + ", ".join(f"{m} {med['cold'] / med[m]:.2f}x" for m in methods if m != "cold"))
    print("median best value at 30 trials: " + ", ".join(f"{m} {at30[m]:.4f}" for m in methods)
          + f"; {len(rows)} studies per method in {time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
