"""`lrrec run`, `lrrec probe` and `lrrec sweep`: train tasks, probe them, and record the runs in the store."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lrrec.cli.common import (
    budget_options,
    emit_json,
    open_cli_store,
    optimizer_options,
    parse_float,
    parse_settings,
    set_option,
    split_list,
)
from lrrec.errors import InvalidValueError
from lrrec.tuning.heartbeats import CELL_HEARTBEAT_S

if TYPE_CHECKING:
    from lrrec.runners.tasks import Budget, Task


@click.command("run")
@click.option("--task", "task_name", required=True, help="A task from `lrrec tasks list`, or module:function.")
@click.option("--schedule", "schedule_name", required=True, help="A schedule from `lrrec schedules list`.")
@set_option
@click.option("--seed", type=int, default=0, show_default=True)
@budget_options
def run_command(task_name: str, schedule_name: str, settings: tuple[str, ...], seed: int, epochs: int | None,
                batch_size: int | None, optimizer: str | None, momentum: float | None, weight_decay: float | None,
                device: str | None, data_root: str | None, store_path: str | None, as_json: bool) -> None:
    """Train a task under a schedule and record the run and its curve in the store."""
    from lrrec.runners.configs import config_for
    from lrrec.runners.execute import budget_for, run_one
    from lrrec.runners.tasks import get_task

    task = get_task(task_name)
    budget = budget_for(task, epochs, batch_size, optimizer, momentum, weight_decay)
    config = config_for(task, budget, schedule_name, parse_settings(settings), data_root)
    store = open_cli_store(store_path, announce=not as_json)
    try:
        result = run_one(store, task, config, budget, seed, data_root=data_root, device=device,
                         progress=not as_json)
    except KeyboardInterrupt:
        click.echo("interrupted: the run is recorded as interrupted with the epochs it finished", err=True)
        raise SystemExit(130) from None
    summary = result.to_dict()
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{summary['status']}: {task.name} {config.name} seed {seed}: {summary['metric']} final "
                   f"{summary['final_metric']} best {summary['best_metric']} in {summary['wall_time_s']} s "
                   f"on {summary['device']} (run {summary['run_id']})")


@click.command("probe")
@click.option("--task", "task_name", required=True, help="A task from `lrrec tasks list`, or module:function.")
@click.option("--method", type=click.Choice(["range", "curvature"]), default="range", show_default=True,
              help="range: the LR range test. curvature: gradient noise scale, best step and top Hessian "
                   "eigenvalue at initialisation (McCandlish et al. 2018).")
@click.option("--steps", type=click.IntRange(min=5), default=None, help="Optimizer updates (range; default 100).")
@click.option("--low", type=click.FloatRange(min=0, min_open=True), default=None,
              help="First LR (range; default 1e-5).")
@click.option("--high", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Last LR (range; default 10; the test stops earlier once the loss blows up).")
@click.option("--batches", type=click.IntRange(min=2), default=None,
              help="Minibatch gradients per estimate (curvature; default 32).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Also plot loss against LR to this PNG file (range).")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@optimizer_options
def probe_command(task_name: str, method: str, steps: int | None, low: float | None, high: float | None,
                  batches: int | None, seed: int, plot_path: str | None, quiet: bool, batch_size: int | None,
                  optimizer: str | None, momentum: float | None, weight_decay: float | None, device: str | None,
                  data_root: str | None, as_json: bool) -> None:
    """Probe a task before training it: an LR range test, or its gradient noise and curvature."""
    from lrrec.runners.execute import budget_for
    from lrrec.runners.tasks import get_task

    others: dict[str, dict[str, object]] = {"range": {"--batches": batches},
                                            "curvature": {"--steps": steps, "--low": low, "--high": high,
                                                          "--plot": plot_path}}
    unused = [option for option, value in others[method].items() if value is not None]
    if unused:
        raise InvalidValueError(f"{', '.join(unused)} belong(s) to the other probe; leave it out with --method "
                                f"{method}")
    task = get_task(task_name)
    budget = budget_for(task, None, batch_size, optimizer, momentum, weight_decay)
    if method == "curvature":
        _curvature_report(task, budget, batches=batches, seed=seed, data_root=data_root, device=device,
                          as_json=as_json, progress=not quiet)
        return
    from lrrec.runners.probes import lr_range_test

    if plot_path:
        from lrrec.plots import check_png_path

        check_png_path(plot_path, "--plot")  # before the work, not after it
    given: dict[str, Any] = {k: v for k, v in (("steps", steps), ("low", low), ("high", high)) if v is not None}
    result = lr_range_test(task, budget, seed=seed, data_root=data_root, device=device, progress=not quiet,
                           **given)
    if plot_path:
        from lrrec.plots import plot_range_test

        plot_range_test(result, plot_path)
    if as_json:
        emit_json(result.to_dict())
        return
    end = "stopped when the loss blew up" if result.stopped_early else "reached --high"
    found = (f"lowest loss at lr {result.min_loss_lr:.3g}, steepest descent at lr {result.steepest_lr:.3g}"
             if result.steepest_lr is not None else f"inconclusive: {result.note}")
    click.echo(f"{task.name}: {len(result.lrs)} updates from lr {result.lrs[0]:g} ({end} at lr "
               f"{result.lrs[-1]:.3g}); {found}")


def _curvature_report(task: Task, budget: Budget, *, batches: int | None, seed: int, data_root: str | None,
                      device: str | None, as_json: bool, progress: bool) -> None:
    from lrrec.runners.curvature import curvature_probe

    given = {"n_batches": batches} if batches is not None else {}
    result = curvature_probe(task, budget, seed=seed, data_root=data_root, device=device, progress=progress, **given)
    if as_json:
        emit_json(result.to_dict())
        return

    def fmt(value: float | None) -> str:
        return "undefined" if value is None else f"{value:.3g}"

    click.echo(f"{task.name} at initialisation, {result.batches} batches of {result.batch_size}: gradient noise scale "
               f"{fmt(result.noise_scale)}, best step along the gradient {fmt(result.max_step)}, top Hessian "
               f"eigenvalue {result.top_eigenvalue:.3g} (stable below lr {fmt(result.stable_lr)}); suggested lr "
               f"{fmt(result.lr)}" + (f" ({result.note})" if result.note else ""))


@click.command("sweep")
@click.option("--tasks", "task_names", required=True, help="Comma-separated task names.")
@click.option("--schedules", "schedule_names", required=True,
              help="Comma-separated schedule names, or 'families' for each family's default schedule.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Seeds 0..N-1 per config.")
@click.option("--lr-grid", default=None, help="Comma-separated initial LRs (default: each schedule's default LR).")
@click.option("--population", is_flag=True,
              help="Train all configs of a small norm-free task at once (torch.func.vmap); same outcomes.")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@click.option("--storage", default=None, help="Share the grid's cells with other workers through this Optuna "
              "storage (an RDB URL such as postgresql://..., or a journal file); needs --study.")
@click.option("--study", "study_name", default=None, help="The shared sweep's study name (with --storage).")
@click.option("--heartbeat", "heartbeat_s", type=click.IntRange(min=1), default=CELL_HEARTBEAT_S, show_default=True,
              help="With --storage: seconds between a cell's heartbeats; a cell silent for 3 is redone.")
@budget_options
def sweep_command(task_names: str, schedule_names: str, seeds: int, lr_grid: str | None, population: bool,
                  quiet: bool, storage: str | None, study_name: str | None, heartbeat_s: int, epochs: int | None,
                  batch_size: int | None, optimizer: str | None, momentum: float | None, weight_decay: float | None,
                  device: str | None, data_root: str | None, store_path: str | None, as_json: bool) -> None:
    """Train many runs, recording each as it finishes; a rerun skips what is already done. With --storage and
    --study, any number of workers share the grid's cells (README: Distributed sweeps)."""
    from lrrec.runners.execute import RunResult, SweepPlan, sweep
    from lrrec.schedules import FAMILY_DEFAULTS

    names = split_list(schedule_names)
    if names == ["families"]:
        names = list(FAMILY_DEFAULTS.values())
    grid = [parse_float(v, "--lr-grid") for v in split_list(lr_grid)] if lr_grid else None
    if (storage is None) != (study_name is None) or (storage and population):
        raise InvalidValueError("give --storage and --study together (a shared sweep trains one cell at a time: "
                                "no --population)")
    if storage:
        from lrrec.tuning.job import check_storage_url

        check_storage_url(storage)
    store = open_cli_store(store_path, announce=not as_json)
    lines: list[dict[str, Any]] = []

    def report(result: RunResult) -> None:
        summary = result.to_dict()
        lines.append(summary)
        if not as_json:
            final = "-" if summary["final_metric"] is None else f"{summary['final_metric']:.4g}"
            click.echo(f"{summary['status']:<9} {summary['task']:<18} {summary['schedule']['name']:<14} "
                       f"lr {summary['schedule']['lr']:<8.4g} seed {summary['seed']}  {summary['metric']} "
                       f"{final}  {summary['wall_time_s']:.3g} s")

    try:
        plan = SweepPlan(tasks=split_list(task_names), schedules=names, seeds=seeds, lr_grid=grid, epochs=epochs,
                         batch_size=batch_size, optimizer=optimizer, momentum=momentum, weight_decay=weight_decay,
                         data_root=data_root, device=device, population=population, progress=not quiet)
        if storage and study_name:  # both or neither, checked above
            from lrrec.tuning.cells import sweep_cells

            sweep_cells(store, plan, storage, study_name, heartbeat_s=heartbeat_s, on_result=report)
        else:
            sweep(store, plan, on_result=report, on_note=lambda m: click.echo(f"note: {m}", err=True))
    except KeyboardInterrupt:
        click.echo(f"interrupted after {len(lines)} runs; rerun the same command to continue", err=True)
        raise SystemExit(130) from None
    if as_json:
        emit_json(lines)
    else:
        click.echo(f"{len(lines)} runs recorded in {store.path}")
