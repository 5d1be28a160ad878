"""Recommendation quality out of sample, against the baselines measured in the same run (`lrrec evaluate`).

On a new store (shipped corpus + literature): leave-one-task-out on own experience and leave-one-source-out on
the literature. Prints each figure of issue 14's bar beside its baseline, with spreads:
- literature: mean shape-ranking Spearman (lrrec vs the fixed expert order), top-1 regret (median and mean),
  80 % interval coverage;
- own experience: median top-1 regret of lrrec vs every shape used as a fixed default, coverage.
Run: python benchmarks/bench_recommendation.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from lrrec.recommender.evaluate import Summary, evaluate
from lrrec.store import open_store


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp) / "bench.duckdb")
        began = time.perf_counter()
        report = evaluate(store)
        seconds = time.perf_counter() - began
    lit, own = Summary.of(report.literature), Summary.of(report.own)
    rho, q = lit.mean_spearman, lit.spearman_quartiles
    print(f"evaluate: {own.groups} own groups, {lit.groups} literature groups from "
          f"{len({r.origin for r in report.literature})} sources, in {seconds:.1f} s")
    print(f"literature, shape-ranking Spearman (mean; quartiles): lrrec {rho['lrrec']:+.3f} {q.get('lrrec')}, "
          f"expert order {rho['expert_order']:+.3f} {q.get('expert_order')}")
    for label, s in (("literature", lit), ("own", own)):
        regret = ", ".join(f"{m} {s.median_regret[m]:.3f}/{s.mean_regret[m]:.3f}"
                           for m in ("lrrec", "expert_order", "global_default", "random"))
        print(f"{label}, top-1 regret median/mean: {regret}; 80% interval coverage {s.coverage:.1%}")
    print("own, median top-1 regret on the groups where each shape ran (lrrec vs always that shape):")
    for method in sorted(m for m in own.median_regret if m.startswith("always_")):
        groups = [g for g in report.own if method in g.regret]
        mine, theirs = (statistics.median(g.regret[m] for g in groups) for m in ("lrrec", method))
        print(f"  {method:<20} {len(groups):>4} groups  lrrec {mine:.3f}  {method} {theirs:.3f}  "
              f"{'lrrec lower' if mine < theirs else 'NOT lower'}")

if __name__ == "__main__":
    main()
