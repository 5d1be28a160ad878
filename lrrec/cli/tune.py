"""`lrrec tune`: an Optuna study over a schedule's hyperparameters, seeded by the recommendation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from lrrec.cli.common import budget_options, emit_json, open_cli_store
from lrrec.tuning.heartbeats import TRIAL_HEARTBEAT_S

if TYPE_CHECKING:
    from lrrec.schedules import ScheduleConfig


@click.command("tune")
@click.option("--task", "task_name", default=None, help="A task from `lrrec tasks list` / module:function.")
@click.option("--dataset", default=None, help="Or a catalog dataset with a built-in task (with --model).")
@click.option("--model", default=None, help="Catalog model (with --dataset).")
@click.option("--schedule", default=None, help="Tune one schedule's hyperparameters.")
@click.option("--families", default=None, help="Or search these families (comma-separated; default: all).")
@click.option("--n-trials", type=click.IntRange(min=1), default=None, help="Trials for the whole study.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds per worker.")
@click.option("--seed-top", type=click.IntRange(min=0), default=5, show_default=True,
              help="Enqueue the top K suggested configs first (and build a transferred space from them).")
@click.option("--space", type=click.Choice(["transferred", "library"]), default="transferred", show_default=True,
              help="transferred: the top suggestions' schedules, LR within 3x of theirs; library: every "
              "parameter's full library range.")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Run an LR range test first and enqueue the suggestions at its steepest-descent LR.")
@click.option("--storage", default=None, help="Optuna storage: a journal file (one machine) or an RDB URL "
              "(several machines). Default: OUT/study.journal.")
@click.option("--study", "study_name", default=None, help="Study name (reuse it to resume).")
@click.option("--n-jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--heartbeat", "heartbeat_s", type=click.IntRange(min=1), default=TRIAL_HEARTBEAT_S, show_default=True,
              help="RDB storages: seconds between a trial's heartbeats; a trial silent for 3 is failed and retried.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the figures and summary (default: tune-STUDY).")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@budget_options
def tune_command(task_name: str | None, dataset: str | None, model: str | None, schedule: str | None,
                 families: str | None, n_trials: int | None, timeout: float | None, seed_top: int, space: str,
                 probe: bool, storage: str | None, study_name: str | None, n_jobs: int, heartbeat_s: int,
                 out_dir: str | None,
                 quiet: bool, epochs: int | None, batch_size: int | None, optimizer: str | None,
                 momentum: float | None, weight_decay: float | None, device: str | None, data_root: str | None,
                 store_path: str | None, as_json: bool) -> None:
    """Tune a schedule's hyperparameters with Optuna, seeded by the recommendation; trials go to the store."""
    from pathlib import Path

    from lrrec.recommender.targets import target_fingerprint, trainable_task
    from lrrec.tuning.job import TuneJob
    from lrrec.tuning.summary import write_figures
    from lrrec.tuning.tune import tune

    task = trainable_task(task_name, dataset, model)
    target = target_fingerprint(dataset, model, task_name, data_root)
    job = TuneJob.for_task(task, schedule=schedule, families=families, study=study_name, storage=storage,
                           out=out_dir, store_path=store_path, epochs=epochs, batch_size=batch_size,
                           optimizer=optimizer, data_root=data_root, device=device, momentum=momentum,
                           weight_decay=weight_decay, heartbeat_s=heartbeat_s)
    store = open_cli_store(store_path, announce=not as_json)
    try:
        summary = tune(job, target, n_trials=n_trials, timeout=timeout, seed_top=seed_top, space=space,
                       probe=probe, n_jobs=n_jobs, progress=not quiet)
    except KeyboardInterrupt:
        click.echo(f"interrupted; rerun with --study {job.study} to resume", err=True)
        raise SystemExit(130) from None
    assert job.out is not None  # for_task names the folder
    figures = write_figures(summary, store, Path(job.out))
    if as_json:
        emit_json({**summary.to_dict(), "figures": figures})
        return
    click.echo(f"study {summary.study} ({summary.storage}): " +
               ", ".join(f"{n} {state}" for state, n in summary.trials.items()) +
               (" (suggested configs beyond --n-trials: they run first when the study is resumed)"
                if summary.trials.get("waiting") else ""))
    searched = summary.space
    lr_range = searched["lr_range"]
    click.echo(f"{searched['kind']} space: {', '.join(searched['schedules'])}"
               + (f"; lr {lr_range[0]:.3g} to {lr_range[1]:.3g}" if lr_range else ""))
    if summary.resumed:
        click.echo("resumed: the study keeps the space it began with (--space, --schedule, --families and "
                   "--seed-top shape new studies only)")
    if summary.probe:
        probed = summary.probe
        click.echo(f"LR range test: steepest descent at lr {probed.steepest_lr:.3g}" if probed.steepest_lr
                   else f"LR range test inconclusive ({probed.note}); suggested LRs kept")
    for config in summary.seeded:
        click.echo(f"seeded: {_described(config)}")
    if summary.best:
        best = summary.best
        click.echo(f"best: trial {best.trial} value {best.value:.4g}: {_described(best.config)} (run {best.run_id})")
    click.echo(f"figures in {job.out}")


def _described(config: ScheduleConfig) -> str:
    """A config in one line: `cosine lr=0.05 min_lr_ratio=0.01 warmup=linear:0.05`."""
    params = "".join(f" {k}={v:.4g}" if isinstance(v, float) else f" {k}={v}" for k, v in config.params.items())
    warmup = config.warmup
    return f"{config.name} lr={config.lr:.4g}{params}" + (
        f" warmup={warmup.kind}:{warmup.frac:.4g}" if warmup else "")
