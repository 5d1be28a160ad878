"""`lrrec bench survey`: rerun the survey's section 4 (commands that reproduce published studies)."""

from __future__ import annotations

from typing import Any

import click

from lrrec.cli.common import (
    LrrecGroup,
    data_root_option,
    emit_json,
    json_option,
    open_cli_store,
    split_list,
    store_option,
)

QUICK = {"trials": 4, "epochs": 8}
FULL_TRIALS = 16
DEFAULT_TASKS = "digits/mlp,mnist1d/mlp"


@click.group(cls=LrrecGroup)
def bench() -> None:
    """Reproduce published studies of LR schedules."""


@bench.command("survey")
@click.option("--out", default="survey-report", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the PNG figures and report.md (replaced if it holds an older report).")
@click.option("--tasks", "task_names", default=DEFAULT_TASKS, show_default=True,
              help="Comma-separated tasks for the protocol (CIFAR/ImageNet need --data-root).")
@click.option("--surfaces", default=None, help="Comma-separated surfaces for section 4.1 (default: all).")
@click.option("--quick", is_flag=True,
              help=f"Fewer trials and epochs ({QUICK['trials']} trials, {QUICK['epochs']} epochs) unless given.")
@click.option("--trials", type=int, default=None, help=f"Random-search trials per family (default {FULL_TRIALS}).")
@click.option("--seeds", type=int, default=3, show_default=True, help="Seeds 0..N-1 for each family's best LR.")
@click.option("--epochs", type=int, default=None, help="Epochs per run (default: the task's).")
@click.option("--target", type=float, default=None,
              help="Target metric for epochs-to-target (default: 95% of the best family's mean final accuracy).")
@click.option("--device", default=None, help="cuda, cuda:1 or cpu (default: CUDA when present).")
@data_root_option
@store_option
@json_option
def survey_command(out: str, task_names: str, surfaces: str | None, quick: bool, trials: int | None, seeds: int,
                   epochs: int | None, target: float | None, device: str | None, data_root: str | None,
                   store_path: str | None, as_json: bool) -> None:
    """Rerun the survey's section 4: 2-D surfaces, then random search + seeds per family on each task."""
    from lrrec.survey.report import check_out, report_data, write_survey
    from lrrec.survey.survey import run_survey

    trials = trials if trials is not None else (QUICK["trials"] if quick else FULL_TRIALS)
    epochs = epochs if epochs is not None else (QUICK["epochs"] if quick else None)
    check_out(out)

    def report(task: str, schedule: str, run: Any) -> None:
        if not as_json:
            click.echo(f"{run.status:<9} {task:<16} {schedule:<14} lr {run.lr:<9.3g} seed {run.seed}  "
                       f"final {run.final_metric if run.final_metric is None else round(run.final_metric, 4)}",
                       err=True)

    result = run_survey(open_cli_store(store_path, announce=not as_json), split_list(task_names),
                        surfaces=split_list(surfaces) or None, trials=trials, seeds=seeds, epochs=epochs,
                        target=target, data_root=data_root, device=device, on_run=report)
    files = write_survey(result, out, _command(task_names, surfaces, trials, seeds, epochs, target))
    if as_json:
        emit_json(report_data(result, out))
        return
    for proto in result.protocols:
        click.echo(f"{proto.task}: " + ", ".join(
            f"{f.schedule} {f.final.mean:.4f}" if f.final.mean is not None else f"{f.schedule} -"
            for f in proto.families))
    click.echo(f"wrote {len(files)} files to {out} in {result.wall_time_s:.0f} s")


def _command(task_names: str, surfaces: str | None, trials: int, seeds: int, epochs: int | None,
             target: float | None) -> str:
    """The command that reproduces this report (effective settings, so `--quick` is spelled out)."""
    parts = ["lrrec bench survey", f"--tasks {task_names}", f"--trials {trials}", f"--seeds {seeds}"]
    parts += [f"--{k} {v}" for k, v in (("epochs", epochs), ("surfaces", surfaces), ("target", target)) if v]
    return " ".join(parts)
