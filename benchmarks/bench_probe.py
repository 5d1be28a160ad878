"""Do probes of the task pick a better LR for the top suggestion than transfer from similar tasks?

For each built-in CPU task held out from the store: the recommender's top suggestion (schedule and its
transferred LR), then the same schedule at LRs read off an LR range test of the task (seed 0): the
lowest-loss LR / 10 (fastai's classic rule), / 3, and the steepest-descent LR; and at the LR of the
curvature probe (McCandlish et al. 2018: eps_max / (1 + B_noise / B) * (1 - momentum)). Each is trained for the task's
default budget over several seeds; the figure is the mean final validation accuracy per task and the median,
over tasks, of each rule's gain over the transferred LR.
Run: python benchmarks/bench_probe.py [--tasks digits/mlp,wine/mlp] [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from held_out import held_out_store

from lrrec.recommender.suggest import suggest
from lrrec.runners.curvature import curvature_probe
from lrrec.runners.execute import task_fingerprint
from lrrec.runners.probes import lr_range_test
from lrrec.runners.tasks import get_task
from lrrec.runners.train import train
from lrrec.schedules import ScheduleConfig

TASKS = "digits/mlp,digits/cnn,mnist1d/mlp,mnist1d/cnn1d,breast_cancer/mlp,wine/mlp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    gains: dict[str, list[float]] = {}
    probe_s: list[float] = []
    curvature_s: list[float] = []
    began = time.time()
    for name in args.tasks.split(","):
        task = get_task(name)
        with tempfile.TemporaryDirectory() as tmp:
            rec = suggest(held_out_store(name, Path(tmp)), task_fingerprint(name, None),
                          batch_size=task.budget.batch_size, top=1)
        top = ScheduleConfig.from_dict(rec.suggestions[0].config)
        started = time.perf_counter()
        probe = lr_range_test(task, task.budget)
        probe_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        curvature = curvature_probe(task, task.budget)
        curvature_s.append(time.perf_counter() - started)
        lrs = {"transferred": top.lr, "lowest/10": probe.min_loss_lr / 10, "lowest/3": probe.min_loss_lr / 3,
               "steepest": probe.steepest_lr, "noise": curvature.lr}
        means = {}
        for rule, lr in lrs.items():
            config = top.with_settings({"lr": lr})
            scores = [train(task, config, task.budget, seed=s) for s in range(args.seeds)]
            means[rule] = statistics.mean(o.final_metric or 0.0 if o.status == "finished" else 0.0 for o in scores)
        for rule in lrs:
            gains.setdefault(rule, []).append(means[rule] - means["transferred"])
        print(f"{name:<18} {top.name:<14} " + ", ".join(f"{rule} lr {lrs[rule]:.3g}: {means[rule]:.4f}"
                                                        for rule in lrs), flush=True)
        print(f"{'':<18} noise scale {curvature.noise_scale:.3g} (batch {task.budget.batch_size}), eps_max "
              f"{curvature.max_step:.3g}, lambda_max {curvature.top_eigenvalue:.3g}: stable below lr "
              f"{curvature.stable_lr:.3g}", flush=True)
    print("median gain over the transferred LR (accuracy): "
          + ", ".join(f"{rule} {statistics.median(g):+.4f} (better on {sum(x > 0 for x in g)}/{len(g)})"
                      for rule, g in gains.items() if rule != "transferred"))
    print(f"LR range test: median {statistics.median(probe_s):.2f} s per task; curvature probe: median "
          f"{statistics.median(curvature_s):.2f} s; total {time.time() - began:.0f} s")


if __name__ == "__main__":
    main()
