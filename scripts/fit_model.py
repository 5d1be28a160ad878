"""Select the ranking model's settings (`ModelSettings` defaults).

The ranking settings: coordinate search, one setting at a time over a small grid, minimising the mean top-1
regret of leave-one-task-out on the shipped corpus's own runs (the literature never takes part, so
leave-one-source-out rankings on it stay out of sample). The interval width `sd_scale`: the smallest whose 80 %
intervals cover 80 % of the held-out outcomes, own and literature counting equally -- a calibration on the outcomes
themselves, so the script also prints a nested figure: each source's coverage at the width calibrated on the
other sources and own experience. Prints the settings to paste into `lrrec/recommender/ranking.py` and the
similarity's `LENGTH_SCALES`.
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
STATE: dict[str, Experience] = {}  # "experience" (own) and "full", set before the worker processes fork


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


def hits(settings: ModelSettings) -> dict[str, tuple[int, int]]:
    """Per origin ("own" or a source): held-out outcomes inside their intervals, and all held-out outcomes."""
    report = evaluate(experience=STATE["full"], settings=settings)
    out: dict[str, tuple[int, int]] = {}
    for group in report.own + report.literature:
        covered, cells = out.get(group.origin, (0, 0))
        out[group.origin] = (covered + group.covered, cells + group.cells)
    return out


def _width(by_scale: dict[float, dict[str, tuple[int, int]]], origins: set[str], nominal: float) -> float:
    """The smallest sd_scale whose intervals cover `nominal` of the held-out outcomes of `origins`, own
    experience and the literature counting equally (own outcomes outnumber published ones 20 to 1)."""
    def rate(by_origin: dict[str, tuple[int, int]], part: set[str]) -> float:
        covered, cells = (sum(by_origin[o][i] for o in part) for i in (0, 1))
        return covered / cells if cells else 0.0

    parts = [part for part in (origins & {"own"}, origins - {"own"}) if part]
    for scale, by_origin in sorted(by_scale.items()):
        if sum(rate(by_origin, part) for part in parts) / len(parts) >= nominal:
            return scale
    return max(by_scale)


def calibrate(pool: Pool, settings: ModelSettings, nominal: float = 0.8) -> ModelSettings:
    """`sd_scale` calibrated on every held-out outcome; prints the nested per-source coverage."""
    scales = [step / 20 for step in range(10, 61)]
    by_scale = dict(zip(scales, pool.map(hits, [replace(settings, sd_scale=s) for s in scales])))
    origins = set(by_scale[scales[0]])
    nested = {}
    for source in sorted(origins - {"own"}):
        scale = _width(by_scale, origins - {source}, nominal)
        nested[source] = by_scale[scale][source]
    covered, cells = (sum(v[i] for v in nested.values()) for i in (0, 1))
    print(f"nested leave-one-source-out coverage of the 80% intervals: {covered / cells:.1%} of {cells} outcomes "
          f"(per source: {', '.join(f'{s} {c / n:.0%}' for s, (c, n) in nested.items())})", flush=True)
    return replace(settings, sd_scale=_width(by_scale, origins, nominal))


def main() -> None:
    began = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        STATE["full"] = load_experience(open_store(Path(tmp) / "fit.duckdb"))
        STATE["experience"] = own_only(STATE["full"])
    print(f"own experience: {len(STATE['experience'].by_task)} tasks", flush=True)
    with get_context("fork").Pool(2) as pool:
        settings = calibrate(pool, coordinate_search(pool, ModelSettings()))
    print(f"selected in {(time.time() - began) / 60:.0f} minutes: {settings}")


if __name__ == "__main__":
    main()
