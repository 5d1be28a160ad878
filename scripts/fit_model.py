"""Select the ranking model's settings (`ModelSettings` defaults) on lrrec's own experience only.

Coordinate search, one setting at a time over a small grid, minimising the mean top-1 regret of leave-one-task-out
on the shipped corpus (own runs; the literature is never used here, so leave-one-source-out on it stays out of
sample); then `sd_scale` is set so that the 80 % intervals cover 80 % of the held-out own outcomes. Prints the
settings to paste into `lrrec/recommender/ranking.py` and the similarity's `LENGTH_SCALES`.
Run from the repository root on a new store's experience: python scripts/fit_model.py   (about 10-20 minutes)
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

from lrrec.recommender.evaluate import EvaluationReport, Summary, evaluate
from lrrec.recommender.experience import Experience, load_experience
from lrrec.recommender.ranking import ModelSettings
from lrrec.store import open_store

GRID = {"bandwidth": (0.5, 0.75, 1.0, 1.5), "shrink": (0.25, 0.5, 1.0, 2.0), "lr_penalty": (0.05, 0.1, 0.2, 0.4),
        "budget_scale": (0.5, 1.0, 2.0), "missing": (0.5, 1.0, 2.0)}
SCALE_STEPS = (0.5, 1.0, 2.0)  # multipliers tried for each feature's length scale


def own_only(experience: Experience) -> Experience:
    return experience.without({t for t in experience.by_task if experience.origin(t) != "own"})


def loss(experience: Experience, settings: ModelSettings) -> tuple[float, EvaluationReport]:
    report = evaluate(experience=experience, settings=settings, literature=False)
    return Summary.of(report.own).mean_regret["lrrec"], report


def coordinate_search(experience: Experience, settings: ModelSettings) -> ModelSettings:
    best, _ = loss(experience, settings)
    for name, values in GRID.items():
        for value in values:
            trial = replace(settings, **{name: value})
            score, _ = loss(experience, trial)
            if score < best - 1e-4:
                best, settings = score, trial
        print(f"{name} = {getattr(settings, name)}  (mean regret {best:.4f})", flush=True)
    for feature, scale in dict(settings.length_scales).items():
        for step in SCALE_STEPS:
            trial = replace(settings, length_scales={**settings.length_scales, feature: scale * step})
            score, _ = loss(experience, trial)
            if score < best - 1e-4:
                best, settings = score, trial
        print(f"length scale {feature} = {settings.length_scales[feature]}  (mean regret {best:.4f})", flush=True)
    return settings


def calibrate(experience: Experience, settings: ModelSettings, nominal: float = 0.8) -> ModelSettings:
    """The smallest sd_scale (in 5 % steps) whose intervals cover `nominal` of the held-out own outcomes."""
    for step in range(10, 61):
        trial = replace(settings, sd_scale=step / 20)
        coverage = Summary.of(loss(experience, trial)[1].own).coverage or 0.0
        if coverage >= nominal:
            return trial
    return settings


def main() -> None:
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        experience = own_only(load_experience(open_store(Path(tmp) / "fit.duckdb")))
    print(f"own experience: {len(experience.by_task)} tasks", flush=True)
    settings = calibrate(experience, coordinate_search(experience, ModelSettings()))
    print(f"selected in {(time.time() - began) / 60:.0f} minutes: {settings}")


if __name__ == "__main__":
    main()
