"""`lrrec tasks`: the built-in training tasks."""

from __future__ import annotations

import click

from lrrec.cli.common import LrrecGroup, emit_json, json_option


@click.group(cls=LrrecGroup)
def tasks() -> None:
    """Built-in training tasks."""


@tasks.command("list")
@json_option
def tasks_list(as_json: bool) -> None:
    """List the built-in tasks with their default budgets."""
    from lrrec.runners.tasks import TASKS

    rows = [{"name": t.name, "dataset": t.dataset, "model": t.model, "kind": t.kind, "metric": t.metric,
             "needs_data_root": t.needs_data_root, "epochs": t.budget.epochs, "batch_size": t.budget.batch_size,
             "summary": t.summary} for t in TASKS.values()]
    if as_json:
        emit_json(rows)
        return
    width = max(len(t.name) for t in TASKS.values())
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['epochs']:>4} ep  bs {r['batch_size']:<4} {r['summary']}")
