"""The root `lrrec` group, with every command group and command registered on it."""

from __future__ import annotations

import gc

import click

from lrrec import __version__
from lrrec.cli.common import LrrecGroup
from lrrec.cli.recommend import evaluate_command, suggest_command
from lrrec.cli.schedules import schedules
from lrrec.cli.store import ingest_command, store
from lrrec.cli.survey import bench
from lrrec.cli.tasks import tasks
from lrrec.cli.training import probe_command, run_command, sweep_command
from lrrec.cli.tune import tune_command


@click.group(cls=LrrecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lrrec")
def cli() -> None:
    """lrrec recommends learning-rate schedules from past training experience."""


for _command in (schedules, tasks, run_command, probe_command, sweep_command, ingest_command, suggest_command,
                 evaluate_command, tune_command, store, bench):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    try:
        cli()
    finally:  # the process is ending: its last garbage collection need not walk every live object (0.02 s)
        gc.freeze()
