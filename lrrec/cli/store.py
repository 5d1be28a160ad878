"""`lrrec store` (inspect, check, export, create, repair and prune the experience store) and `lrrec ingest`."""

from __future__ import annotations

import os

import click

from lrrec.cli.common import LrrecGroup, emit_json, json_option, open_cli_store, store_option
from lrrec.errors import InvalidValueError

_LISTED = 20  # runs listed one per line by `store rm`

@click.group(cls=LrrecGroup)
def store() -> None:
    """Inspect, check, export, create, repair and prune the experience store."""


@store.command("info")
@store_option
@json_option
def store_info(store_path: str | None, as_json: bool) -> None:
    """Counts of runs by source, task, schedule family and status, and stale runs."""
    info = open_cli_store(store_path, reading=True, announce=not as_json).info()
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"{info.path} (schema {info.schema_version}): {info.runs} runs, {info.tasks} tasks, "
               f"{info.schedule_configs} schedule configs, {info.curve_points} curve points")
    if info.stale_runs:
        click.echo(f"{info.stale_runs} stale runs (running, but their process is gone): "
                   f"`lrrec store repair` marks them interrupted")
    for label, runs in (("by source", info.by_source), ("by status", info.by_status), ("by family", info.by_family),
                        ("by task", info.by_task)):
        click.echo(f"{label}:")
        for name, count in runs.items():
            click.echo(f"  {count:>8}  {name}")


@store.command("init")
@store_option
def store_init(store_path: str | None) -> None:
    """Make a new store (with the bundled corpus and literature results); an existing one is left as it is."""
    made = open_cli_store(store_path, announce=False)
    click.echo(f"{'created a new store' if made.created else 'a store exists already'} at {made.path}")


@store.command("check")
@store_option
@json_option
def store_check(store_path: str | None, as_json: bool) -> None:
    """Read every row of the store and cross-check runs, tasks, configs and curves; exit 1 on damage."""
    from lrrec.store.check import check_store
    from lrrec.store.store import chosen_store_path

    result = check_store(chosen_store_path(store_path))
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(f"{result.path}: " + ", ".join(f"{n} {table}" for table, n in result.rows.items())
                   + f"; {result.runs_with_curves} runs with curves")
        for problem in result.problems:
            click.echo(f"problem: {problem}")
        click.echo("ok" if result.ok else f"damaged: {len(result.problems)} problem(s); restore the store from a "
                                          f"backup, or move it aside and lrrec starts a new one")
    if not result.ok:
        raise SystemExit(1)


@store.command("export")
@click.argument("out")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl", "mlflow"]), default=None,
              help="File format of OUT (default: from its suffix; interchange rows that `lrrec ingest OUT` reads "
                   "back); mlflow: log the runs into the MLflow tracking server OUT.")
@click.option("--experiment", default=None, help="mlflow: the experiment to log into (default: lrrec).")
@click.option("--source", default=None, help="Only the runs of this source (e.g. lrrec, user, literature).")
@store_option
def store_export(out: str, fmt: str | None, experiment: str | None, source: str | None,
                 store_path: str | None) -> None:
    """Export every run (with its curves) to OUT in the interchange format, or into an MLflow tracking server."""
    from lrrec.store.store import export_format

    if fmt == "mlflow":
        from lrrec.store.mlflow_runs import export_mlflow

        experiment = experiment or "lrrec"
        count = export_mlflow(open_cli_store(store_path, reading=True), out, experiment, source)
        click.echo(f"logged {count} runs into MLflow experiment {experiment} at {out}")
        return
    if experiment is not None:
        raise InvalidValueError("--experiment names an MLflow experiment: it goes with --format mlflow (a file "
                                "export has none)")
    export_format(out, fmt)  # a bad destination is named before the store is opened
    if os.path.isdir(out):
        raise InvalidValueError(f"{out} is a folder: name the file to write (an MLflow folder takes --format mlflow)")
    count = open_cli_store(store_path, reading=True).export(out, fmt, source)
    click.echo(f"exported {count} runs to {out}")


@store.command("repair")
@store_option
@json_option
def store_repair(store_path: str | None, as_json: bool) -> None:
    """Mark stale runs (running, but their process is gone) interrupted, keeping what they logged, and rebuild the
    recommender's cells from the runs."""
    from lrrec.store.upkeep import repair

    fixed = repair(open_cli_store(store_path, reading=True, announce=not as_json))
    if as_json:
        emit_json([{"run_id": r.run_id, "task": r.task, "reason": r.reason} for r in fixed])
        return
    for run in fixed:
        click.echo(f"interrupted {run.run_id} ({run.task}): {run.reason}")
    click.echo(f"{len(fixed)} stale runs marked interrupted")


@store.command("rm")
@click.option("--run", "run_ids", multiple=True, metavar="ID", help="A run id (repeatable).")
@click.option("--source", default=None, help="Every run of this source (e.g. jsonl, deepobs, lrrec).")
@click.option("--batch", default=None, help="Every run one `lrrec ingest` added (its report names the batch).")
@click.option("--dry-run", is_flag=True, help="List the runs the selection matches; remove nothing.")
@store_option
@json_option
def store_rm(run_ids: tuple[str, ...], source: str | None, batch: str | None, dry_run: bool,
             store_path: str | None, as_json: bool) -> None:
    """Remove runs (with their curves) matching every selector given; all or nothing."""
    from lrrec.store.upkeep import remove_runs

    removal = remove_runs(open_cli_store(store_path, reading=True, announce=not as_json), run_ids, source, batch,
                          dry_run)
    if as_json:
        emit_json(removal.to_dict())
        return
    for run in removal.runs[:_LISTED]:
        click.echo(f"{run['run_id']}  {run['task']}  {run['schedule']}  {run['source']}  {run['status']}")
    if len(removal.runs) > _LISTED:
        click.echo(f"... and {len(removal.runs) - _LISTED} more")
    verb = "removed" if removal.removed else "would be removed (dry run; nothing was removed)"
    click.echo(f"{len(removal.runs)} runs {verb}")


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jsonl", "csv", "parquet", "optuna", "deepobs", "tensorboard", "mlflow"]),
              help="Input format; auto goes by suffix (.jsonl .csv .parquet .json=DeepOBS, URL/.db/.log=Optuna, "
                   "a folder or events.out.tfevents.*=TensorBoard, http(s):// or an mlruns folder=MLflow).")
@click.option("--source", default=None, help="Source name recorded on every run (default: the format).")
@click.option("--skip-invalid", is_flag=True, help="Ingest the valid rows and report the invalid ones.")
@click.option("--study", default=None, help="Optuna: study name (needed when the storage holds several).")
@click.option("--schedule", default=None, help="Optuna, foreign study: the lrrec schedule its trials used.")
@click.option("--task", default=None, help="Optuna, foreign study: the task as DATASET/MODEL.")
@click.option("--dataset", default=None, help="Optuna, foreign study: dataset (with --model, instead of --task).")
@click.option("--model", default=None, help="Optuna, foreign study: model (with --dataset).")
@click.option("--metric", default=None, help="Optuna, foreign study: name of the objective (default objective).")
@store_option
@json_option
def ingest_command(paths: tuple[str, ...], fmt: str, source: str | None, skip_invalid: bool, study: str | None,
                   schedule: str | None, task: str | None, dataset: str | None, model: str | None,
                   metric: str | None, store_path: str | None, as_json: bool) -> None:
    """Add runs from interchange files, Optuna studies, DeepOBS result files, TensorBoard logs or MLflow; all or
    nothing per call."""
    from lrrec.store.ingest import add_validated, read_inputs

    if (dataset is None) != (model is None) or (task and dataset):
        raise InvalidValueError("give either --task DATASET/MODEL or both --dataset and --model")
    task = task or (f"{dataset}/{model}" if dataset else None)
    validated = read_inputs(list(paths), fmt=fmt, source=source, skip_invalid=skip_invalid, study=study,
                            schedule=schedule, task=task, metric=metric)  # before a new store is made
    report = add_validated(open_cli_store(store_path, announce=not as_json), validated)
    if as_json:
        emit_json(report.to_dict())
        return
    for problem in report.skipped:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"{report.added} runs added, {report.duplicates} already present, "
               f"{len(report.skipped)} skipped ({report.rows} rows from {len(report.files)} inputs) "
               f"-> {report.store}" + (f" (batch {report.batch}; undo with `lrrec store rm --batch "
                                       f"{report.batch}`)" if report.batch else ""))
