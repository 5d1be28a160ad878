"""Figures and the Markdown report of `lrrec bench survey`, written into a folder all at once."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.paths import writable_folder
from lrrec.plots import pyplot, save_and_close
from lrrec.survey.survey import ProtocolResult, Stat, SurfaceResult, SurveyResult

REPORT = "report.md"


def surface_figure_name(result: SurfaceResult) -> str:
    """The PNG of one surface case."""
    return f"surface-{result.case.key}.png"


def protocol_figure_name(result: ProtocolResult) -> str:
    """The PNG of the protocol on one task."""
    return f"protocol-{result.task.replace('/', '-').replace(':', '-')}.png"


def plot_surface_case(result: SurfaceResult, out: str | os.PathLike[str]) -> None:
    """Trajectories over the surface's contours, LR over steps, and loss over steps (Figures 3 and 5-7)."""
    import numpy as np
    import torch

    from lrrec.runners.surfaces import SURFACES

    plt = pyplot()
    case = result.case
    xmin, xmax, ymin, ymax = result.window
    xs, ys = np.linspace(xmin, xmax, 200), np.linspace(ymin, ymax, 200)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), axis=-1), dtype=torch.float64)
    z = SURFACES[case.surface].fn(grid).numpy()
    fig, (ax_path, ax_lr, ax_loss) = plt.subplots(1, 3, figsize=(15, 4.5))
    ax_path.contourf(xs, ys, np.log1p(z - z.min()), levels=30, cmap="viridis", alpha=0.8)
    for run in result.runs:
        path = np.asarray(run.trajectory)
        steps = np.arange(len(run.lrs))
        line, = ax_path.plot(path[:, 0], path[:, 1], lw=1.3, label=run.schedule)
        ax_path.plot(path[-1, 0], path[-1, 1], "o", color=line.get_color(), ms=5)
        ax_lr.plot(steps, run.lrs, color=line.get_color(), label=run.schedule)
        ax_loss.plot(np.arange(len(run.losses)), run.losses, color=line.get_color(), label=run.schedule)
    ax_path.plot(*case.start, "k*", ms=10, label="start")
    ax_path.set(xlim=(xmin, xmax), ylim=(ymin, ymax), xlabel="x", ylabel="y", title=case.title)
    ax_lr.set(xlabel="step", ylabel="learning rate", title=f"LR over steps (initial {case.lr:g})")
    ax_loss.axhline(result.threshold, color="grey", ls="--", lw=0.8, label="threshold")
    if min(min(r.losses) for r in result.runs) > 0:
        ax_loss.set_yscale("log")
    ax_loss.set(xlabel="step", ylabel="loss", title="loss over steps")
    ax_path.legend(fontsize=7, loc="best")
    for ax in (ax_lr, ax_loss):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    save_and_close(fig, out)


def plot_protocol(result: ProtocolResult, out: str | os.PathLike[str]) -> None:
    """Per family: final and best metric (mean +- std over seeds), and the mean validation curve."""
    plt = pyplot()
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(12, 4.5))
    _protocol_bars(ax_bar, result)
    _protocol_curves(ax_curve, result)
    fig.tight_layout()
    save_and_close(fig, out)


def _protocol_bars(ax: Any, result: ProtocolResult) -> None:
    """Final and best metric per family as bars of the mean over seeds, with the std as error bars."""
    import numpy as np

    names = [f.schedule for f in result.families]
    at = np.arange(len(names))
    for offset, label, stat_of in ((-0.2, "final", lambda f: f.final), (0.2, "best", lambda f: f.best)):
        stats = [stat_of(f) for f in result.families]
        ax.bar(at + offset, [_or_nan(s.mean) for s in stats], 0.4,
               yerr=[s.std or 0.0 for s in stats], capsize=3, label=f"{label} {result.metric}")
    means = [f.final.mean for f in result.families if f.final.mean is not None]
    if means and result.direction == "max":
        ax.set_ylim(max(0.0, min(means) - 0.1), min(1.0, max(means) + 0.05))
    ax.set_xticks(at, names, rotation=15)
    ax.set(ylabel=result.metric, title=f"{result.task}: mean +- std over {result.n_seeds} seeds")
    ax.legend(fontsize=8)


def _protocol_curves(ax: Any, result: ProtocolResult) -> None:
    """Each family's validation metric per epoch, averaged over its seeded reruns, and the target."""
    for fam in result.families:
        epochs = sorted({e for r in fam.seeds for e, _ in r.curve})
        curve = [Stat.of([dict(r.curve).get(e) for r in fam.seeds]).mean for e in epochs]
        ax.plot(epochs, [_or_nan(v) for v in curve], label=f"{fam.schedule} (lr {fam.best_lr:.3g})")
    if result.target is not None:
        ax.axhline(result.target, color="grey", ls="--", lw=0.8, label="target")
    ax.set(xlabel="epoch" if result.metric != "final_loss" else "step", ylabel=result.metric,
           title="mean validation curve of the seeded reruns")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _or_nan(value: float | None) -> float:
    """`value`, or nan (a gap in a plot) when it is missing."""
    return math.nan if value is None else value


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _stat(stat: Stat | None, digits: int = 4) -> str:
    if stat is None or stat.mean is None:
        return "-"
    return f"{stat.mean:.{digits}g} ± {_num(stat.std, 2)}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _surface_section(result: SurfaceResult) -> list[str]:
    case = result.case
    lines = [f"### {case.title}", "",
             (f"Start {case.start}, momentum {case.momentum:g}, initial LR {case.lr:g} for every schedule, "
              f"{case.steps} steps, threshold {result.threshold:g}."), "",
             f"![{case.key}]({surface_figure_name(result)})", ""]
    rows = [[r.family, r.schedule, f"{r.final_loss:.4g}", _num(r.steps_to_threshold), r.status] for r in result.runs]
    return lines + _table(["family", "schedule", "final loss", "steps to threshold", "status"], rows) + [""]


def _protocol_section(result: ProtocolResult) -> list[str]:
    low, high = result.lr_range
    lines = [f"### {result.task}", "",
             (f"{result.metric} ({'higher' if result.direction == 'max' else 'lower'} is better), {result.epochs} "
              f"epochs, {result.trials} search trials per family (initial LR log-uniform in [{low:g}, {high:g}], "
              f"seed 0), best LR rerun with seeds 0-{result.n_seeds - 1}. Target {_num(result.target)}: "
              f"{result.target_rule}."), "",
             f"![{result.task}]({protocol_figure_name(result)})", ""]
    rows = []
    for fam in result.families:
        searched = ", ".join(f"{t.lr:.3g}→{_num(t.final_metric, 3)}" for t in fam.search)
        reached = fam.epochs_to_target
        to_target = f"{_stat(reached, 3)} ({reached.n}/{len(fam.seeds)})" if reached else "-"
        diverged = sum(r.status == "diverged" for r in fam.seeds)
        rows.append([fam.family, fam.schedule, f"{fam.best_lr:.3g}", _stat(fam.final), _stat(fam.best), to_target,
                     str(diverged), searched])
    header = ["family", "schedule", "best LR", f"final {result.metric}", f"best {result.metric}",
              "epochs to target (seeds reaching it)", "diverged", "search: LR→final"]
    return lines + _table(header, rows) + [""]


def markdown(result: SurveyResult, command: str) -> str:
    """The report: settings, then the 4.1 tables and the protocol tables, each beside its figure."""
    lines = ["# Reproducing the survey's experiments (section 4)", "",
             (f"Generated by `{command}` in {result.wall_time_s:.0f} s. Every schedule is its family's "
              "representative (constant, step, cosine, SGDR, linear-warmup cosine) at its default parameters; "
              "only the initial LR changes."), ""]
    if result.surfaces:
        lines += ["## 4.1 Optimisation on 2-D surfaces", "",
                  ("SGD with the stated momentum; all five schedules share one initial LR per case. *Steps to "
                   "threshold* is the first step whose loss is at or below the surface's threshold (- = never). "
                   "These runs are not recorded in the store."), ""]
        for surface in result.surfaces:
            lines += _surface_section(surface)
    if result.protocols:
        lines += ["## 4.2-4.3 Random search, then seeds", "",
                  ("Per family: random search over the initial LR with one seed, then the best LR rerun with every "
                   "seed (the search run is reused as seed 0). Mean ± sample standard deviation over the seeds; "
                   "every run is recorded in the store (`lrrec store info`)."), ""]
        for proto in result.protocols:
            lines += _protocol_section(proto)
    return "\n".join(lines)


def report_data(result: SurveyResult, out: str) -> dict[str, Any]:
    """The report's tables as data, without trajectories or curves (`lrrec bench survey --json`)."""
    def stat(s: Stat | None) -> dict[str, Any] | None:
        return None if s is None else {"mean": s.mean, "std": s.std, "n": s.n}

    return {
        "out": out, "wall_time_s": round(result.wall_time_s, 1), "settings": result.settings,
        "surfaces": [{"case": s.case.key, "surface": s.case.surface, "start": list(s.case.start),
                      "momentum": s.case.momentum, "lr": s.case.lr, "steps": s.case.steps,
                      "threshold": s.threshold,
                      "runs": [{"family": r.family, "schedule": r.schedule, "status": r.status,
                                "final_loss": r.final_loss, "steps_to_threshold": r.steps_to_threshold}
                               for r in s.runs]} for s in result.surfaces],
        "protocols": [{"task": p.task, "metric": p.metric, "epochs": p.epochs, "trials": p.trials,
                       "seeds": p.n_seeds, "target": p.target, "target_rule": p.target_rule,
                       "families": [{"family": f.family, "schedule": f.schedule, "best_lr": f.best_lr,
                                     "final": stat(f.final), "best": stat(f.best),
                                     "epochs_to_target": stat(f.epochs_to_target),
                                     "run_ids": [r.run_id for r in f.seeds],
                                     "search": [{"lr": t.lr, "final": t.final_metric, "run_id": t.run_id}
                                                for t in f.search]} for f in p.families]}
                      for p in result.protocols],
    }


def check_out(out: str | os.PathLike[str]) -> Path:
    """`out` as a path, if it is new, empty or an older report (checked before the study runs)."""
    target = Path(out)
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not (target / REPORT).exists())):
        raise InvalidValueError(f"--out {target} exists and is not a survey report folder; choose another --out")
    writable_folder(target.parent, "--out")
    return target


def write_survey(result: SurveyResult, out: str | os.PathLike[str], command: str) -> list[Path]:
    """Write every figure and `report.md` into a fresh folder, then move it to `out` (replacing an older report)."""
    target = check_out(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".survey-", dir=target.parent))
    staging.chmod(0o755)
    try:
        for surface in result.surfaces:
            plot_surface_case(surface, staging / surface_figure_name(surface))
        for proto in result.protocols:
            plot_protocol(proto, staging / protocol_figure_name(proto))
        (staging / REPORT).write_text(markdown(result, command) + "\n")
        old = target.with_name(f".{target.name}.old") if target.exists() else None
        if old:
            target.rename(old)
        staging.rename(target)
        if old:
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return sorted(target.iterdir())
