"""Select the ranking model's settings (`ModelSettings` defaults) on lrrec's own experience only.

Coordinate search, one setting at a time over a small grid, minimising the mean top-1 regret of leave-one-task-out
on the shipped corpus (own runs; the literature is never used here, so leave-one-source-out on it stays out of
sample); then `sd_scale` is set so that the 80 % intervals cover 80 % of the held-out own outcomes. Prints the
settings to paste into `lrrec/recommender/ranking.py` and the similarity's `LENGTH_SCALES`.
Run from the repository root (two processes): python scripts/fit_model.py   (about 10 minutes)
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from multiprocessing import get_context
from multiprocessing.pool import Pool
from pathlib import Path

from lrrec.recommender.evaluate import EvaluationReport, Summary, evaluate
from lrrec.recommender.experience import Experience, load_experience
from lrrec.recommender.ranking import ModelSettings
from lrrec.store import open_store

# `missing` is not searched: own tasks have every feature, so own experience cannot tell how much an unknown costs
GRID = {"bandwidth": (0.5, 0.75, 1.0, 1.5), "shrink": (0.25, 0.5, 1.0, 2.0), "lr_penalty": (0.05, 0.1, 0.2, 0.4),
        "budget_scale": (0.5, 1.0, 2.0)}
SCALE_STEPS = (0.5, 2.0)  # multipliers tried for each feature's length scale
STATE: dict[str, Experience] = {}  # each worker process's experience (set by the pool's initializer)


def own_only(experience: Experience) -> Experience:
    return experience.without({t for t in experience.by_task if experience.origin(t) != "own"})


def report_of(settings: ModelSettings) -> EvaluationReport:
    return evaluate(experience=STATE["experience"], settings=settings, literature=False)


def loss(settings: ModelSettings) -> float:
    return Summary.of(report_of(settings).own).mean_regret["lrrec"]


def best_of(pool: Pool, trials: list[ModelSettings], settings: ModelSettings,
            best: float) -> tuple[ModelSettings, float]:
    for trial, score in zip(trials, pool.map(loss, trials)):
        if score < best - 1e-4:
            best, settings = score, trial
    return settings, best


def coordinate_search(pool: Pool, settings: ModelSettings) -> ModelSettings:
    best = loss(settings)
    for name, values in GRID.items():
        settings, best = best_of(pool, [replace(settings, **{name: v}) for v in values], settings, best)
        print(f"{name} = {getattr(settings, name)}  (mean regret {best:.4f})", flush=True)
    for feature, scale in dict(settings.length_scales).items():
        trials = [replace(settings, length_scales={**settings.length_scales, feature: scale * step})
                  for step in SCALE_STEPS]
        settings, best = best_of(pool, trials, settings, best)
        print(f"length scale {feature} = {settings.length_scales[feature]}  (mean regret {best:.4f})", flush=True)
    return settings


def coverage(settings: ModelSettings) -> float:
    return Summary.of(report_of(settings).own).coverage or 0.0


def calibrate(pool: Pool, settings: ModelSettings, nominal: float = 0.8) -> ModelSettings:
    """The smallest sd_scale (in 5 % steps from 0.5 to 3) whose intervals cover `nominal` of the held-out own
    outcomes."""
    trials = [replace(settings, sd_scale=step / 20) for step in range(10, 61)]
    for trial, covered in zip(trials, pool.map(coverage, trials)):
        if covered >= nominal:
            return trial
    return settings


def main() -> None:
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        STATE["experience"] = own_only(load_experience(open_store(Path(tmp) / "fit.duckdb")))
    print(f"own experience: {len(STATE['experience'].by_task)} tasks", flush=True)
    with get_context("fork").Pool(2, initializer=STATE.update, initargs=(STATE,)) as pool:
        settings = calibrate(pool, coordinate_search(pool, ModelSettings()))
    print(f"selected in {(time.time() - began) / 60:.0f} minutes: {settings}")


if __name__ == "__main__":
    main()
