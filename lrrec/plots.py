"""Figures (matplotlib, Agg backend, imported on demand). Files are written atomically."""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lrrec.errors import LrrecError
from lrrec.paths import writable_folder
from lrrec.schedules.config import ScheduleConfig

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SLICE_PARAMS = 6  # parameters in the slice figure, the most important first


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed), imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_png_path(out: str | os.PathLike[str], option: str = "--out") -> Path:
    """`out` as a path, if it names a .png file in an existing, writable folder (else a one-line error)."""
    path = Path(out)
    if path.suffix.lower() != ".png":
        raise LrrecError(f"{option} must be a .png file, got {path.name!r}")
    if not path.parent.exists():
        raise LrrecError(f"folder {path.parent} does not exist; create it or choose another {option}")
    writable_folder(path.parent, option)
    return path


def save_figure(fig: Figure, out: str | os.PathLike[str]) -> None:
    """Save a matplotlib figure to `out` via a temporary file, so a failure leaves no partial file."""
    path = check_png_path(out)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=120)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp's file is private (0600); a figure gets a new file's mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def plot_schedules(configs: Sequence[ScheduleConfig], total_steps: int, out: str | os.PathLike[str]) -> None:
    """Plot the LR of each config over `total_steps` steps on one figure."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(8, 4.5))
    steps = range(total_steps)
    for config in configs:
        ax.plot(steps, config.lrs(steps, total_steps), label=f"{config.name} ({config.family})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"LR schedules over {total_steps} steps")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_and_close(fig, out)


def plot_regrets(report: dict, out: str | os.PathLike[str]) -> None:
    """Top-1 normalised regret per method over the held-out groups, one panel per evaluation (the `lrrec evaluate`
    figure): boxes show the spread, not just the median."""
    from lrrec.recommender.evaluate import BASELINES

    plt = pyplot()

    panels = [(key, title) for key, title in (("own", "leave-one-task-out (own)"),
                                              ("literature", "leave-one-source-out (literature)")) if report[key]]
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
    for ax, (key, title) in zip(axes[0], panels):
        groups = [g for g in report["groups"] if (g["origin"] == "own") == (key == "own")]
        methods = ["lrrec", *BASELINES]
        ax.boxplot([[g["regret"][m] for g in groups if m in g["regret"]] for m in methods], showmeans=True)
        ax.set_xticks(range(1, len(methods) + 1), methods, rotation=20, fontsize=8)
        ax.set_ylabel("normalised regret of the top-1 pick")
        ax.set_title(f"{title}: {len(groups)} groups, lower is better", fontsize=9)
    fig.tight_layout()
    save_and_close(fig, out)


def plot_tuning(study: Any, curves: dict[str, list[dict]], best: ScheduleConfig, steps: int,
                out_dir: str | os.PathLike[str], *, task: str, metric: str, unit: str = "epoch") -> list[str]:
    """The `lrrec tune` figures: the study's (see `study_figures`), the best config's LR over `steps` updates,
    and the curves of the validation `metric` per `unit` (epoch; step on a 2-D surface)."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    folder = Path(out_dir)
    written = [save_and_close(fig, folder / name) for name, fig in study_figures(study, metric).items()]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(best.lrs(range(steps), steps))
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.set_title(f"best config: {best.name}, lr {best.lr:.4g}")
    fig.tight_layout()
    written.append(save_and_close(fig, folder / "best_lr.png"))
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, points in curves.items():
        ax.plot([p["epoch"] for p in points], [p["val_metric"] for p in points], marker="o", ms=3, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(unit)
    ax.set_ylabel(metric)
    ax.set_title(f"{task}: {metric} per {unit}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(save_and_close(fig, folder / "curves.png"))
    return written


def study_figures(study: Any, metric: str) -> dict[str, Figure]:
    """Optuna's figures of a study, by file name: `history.png` (complete trials, and the best so far in the
    study's direction), and from two complete trials `importances.png` and `slices.png` (of the
    `SLICE_PARAMS` most important parameters)."""
    import optuna
    from optuna.visualization import matplotlib as optuna_plots

    pyplot()
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    complete, pruned = states.count("COMPLETE"), states.count("PRUNED")
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the plots are experimental; importances warn about few trials
            history = optuna_plots.plot_optimization_history(study, target_name=metric)
            history.set_title(f"{study.study_name}: {complete} complete trials" +
                              (f" ({pruned} pruned, not shown)" if pruned else ""), fontsize=10)
            figures = {"history.png": _figure(history)}
            figures["history.png"].set_size_inches(8, 4.5)
            if complete >= 2:
                ranked = list(optuna.importance.get_param_importances(study))
                figures["importances.png"] = _figure(optuna_plots.plot_param_importances(study, target_name=metric))
                slices = optuna_plots.plot_slice(study, params=ranked[:SLICE_PARAMS], target_name=metric)
                figures["slices.png"] = _figure(slices)
            for fig in figures.values():
                fig.tight_layout()
    finally:
        optuna.logging.set_verbosity(verbosity)
    return figures


def _figure(axes: Axes | np.ndarray) -> Figure:
    """The figure an Optuna plot drew on, from its axes or the first of an array of them."""
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    fig = (axes if isinstance(axes, Axes) else axes.flat[0]).figure
    assert isinstance(fig, Figure)  # Optuna draws on a new figure of its own, never on a subfigure
    return fig


def plot_range_test(result: Any, out: str | os.PathLike[str]) -> None:
    """The LR range test's smoothed loss against LR, with the two LRs read off it."""
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(result.lrs, result.losses, marker="." if len(result.lrs) < 10 else None)
    if result.steepest_lr is not None:
        ax.axvline(result.min_loss_lr, color="C1", ls="--", label=f"lowest loss, lr {result.min_loss_lr:.3g}")
        ax.axvline(result.steepest_lr, color="C2", ls=":", label=f"steepest descent, lr {result.steepest_lr:.3g}")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title(f"LR range test: {result.task}" + ("" if result.steepest_lr is not None else " (inconclusive)"))
    fig.tight_layout()
    save_and_close(fig, out)


def save_and_close(fig: Figure, out: str | os.PathLike[str]) -> str:
    """Save the figure atomically (see `save_figure`) and release it, even when saving fails."""
    import matplotlib.pyplot as plt

    try:
        save_figure(fig, out)
    finally:
        plt.close(fig)
    return str(out)
