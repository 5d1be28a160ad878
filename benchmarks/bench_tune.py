"""Seeded vs cold TPE vs random search on built-in CPU tasks held out from the store.

For each task and seed: the search space is every schedule (categorical, conditional parameters); cold TPE
runs 30 trials and its best value B is the bar. Each method's figure is the number of trials it needs to reach
B (31 = never within 30). "Seeded-K" enqueues the recommender's top K suggestions (K = 1 and 5, the mix being
measured), computed from a store without the held-out task, then continues with TPE. Target: seeded needs 5x fewer trials than cold TPE (median), and is
not worse than cold TPE at 30 trials. Real training (no pruning), so every trial costs a run.
Run: python benchmarks/bench_tune.py [--tasks digits/mlp,wine/mlp] [--seeds 3] [--epochs 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import optuna

from lrrec.recommender.experience import load_experience
from lrrec.recommender.suggest import suggest
from lrrec.recommender.tune import draw_config, resolve_schedules, seed_study
from lrrec.runners.execute import task_fingerprint
from lrrec.runners.tasks import get_task
from lrrec.runners.train import train
from lrrec.schedules import ScheduleConfig
from lrrec.store import open_store

TRIALS = 30
SEED_TOPS = (1, 5)


def held_out_suggestions(task_name: str, folder: Path) -> list[ScheduleConfig]:
    """The recommender's top configs for a task, from the shipped corpus without that task's runs."""
    store = open_store(folder / f"{task_name.replace('/', '-')}.duckdb")
    with store.transaction() as con:
        con.execute("DELETE FROM curves WHERE run_id IN (SELECT run_id FROM runs JOIN tasks USING (task_id) "
                    "WHERE tasks.name = ?)", [task_name])
        con.execute("DELETE FROM runs WHERE task_id IN (SELECT task_id FROM tasks WHERE name = ?)", [task_name])
    task = get_task(task_name)
    target = task_fingerprint(task_name, None)
    rec = suggest(store, target, batch_size=task.budget.batch_size, top=max(SEED_TOPS),
                  experience=load_experience(store))
    return [ScheduleConfig.from_dict(s.config) for s in rec.suggestions]


def run_study(task_name: str, epochs: int, sampler: optuna.samplers.BaseSampler,
              seeds: list[ScheduleConfig]) -> list[float]:
    task = get_task(task_name)
    budget = replace(task.budget, epochs=epochs)
    schedules = resolve_schedules(None, None)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    seed_study(study, seeds, schedules)

    def objective(trial: optuna.Trial) -> float:
        outcome = train(task, draw_config(trial, schedules), budget, seed=0)
        return outcome.final_metric if outcome.status == "finished" and outcome.final_metric is not None else 0.0

    study.optimize(objective, n_trials=TRIALS)
    values = [t.value for t in sorted(study.trials, key=lambda t: t.number)]
    return [max(values[: i + 1]) for i in range(len(values))]


def trials_to_reach(best_so_far: list[float], bar: float) -> int:
    return next((i + 1 for i, v in enumerate(best_so_far) if v >= bar - 1e-12), TRIALS + 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", default="digits/mlp,breast_cancer/mlp,wine/mlp,mnist1d/mlp")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows = []
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for task_name in args.tasks.split(","):
            seeds_configs = held_out_suggestions(task_name, Path(tmp))
            for seed in range(args.seeds):
                curves = {"cold": run_study(task_name, args.epochs, optuna.samplers.TPESampler(seed=seed), [])}
                for k in SEED_TOPS:
                    curves[f"seeded{k}"] = run_study(task_name, args.epochs, optuna.samplers.TPESampler(seed=seed),
                                                     seeds_configs[:k])
                curves["random"] = run_study(task_name, args.epochs, optuna.samplers.RandomSampler(seed=seed), [])
                bar = curves["cold"][-1]
                row = {"task": task_name, "seed": seed, "bar": bar}
                for method, best_so_far in curves.items():
                    row[method] = trials_to_reach(best_so_far, bar)
                    row[f"{method}_at_30"] = best_so_far[-1]
                rows.append(row)
                print(f"{task_name:<18} seed {seed}: bar {bar:.4f}; trials to reach it: "
                      + ", ".join(f"{m} {row[m]}" for m in curves), flush=True)
    methods = ["cold", *(f"seeded{k}" for k in SEED_TOPS), "random"]
    med = {m: statistics.median(r[m] for r in rows) for m in methods}
    at30 = {m: statistics.median(r[f"{m}_at_30"] for r in rows) for m in methods}
    print("median trials to reach cold TPE's 30-trial best (31 = not within 30): "
          + ", ".join(f"{m} {med[m]}" for m in methods))
    print("median best value at 30 trials: " + ", ".join(f"{m} {at30[m]:.4f}" for m in methods)
          + f"; {len(rows)} studies per method in {time.time() - began:.0f} s")

if __name__ == "__main__":
    main()
