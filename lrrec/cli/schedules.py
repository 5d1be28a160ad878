"""`lrrec schedules`: list, show and plot the schedule library."""

from __future__ import annotations

import json

import click

from lrrec.cli.common import LrrecGroup, emit_json, json_option, parse_settings, set_option, steps_option


@click.group(cls=LrrecGroup)
def schedules() -> None:
    """Browse, evaluate and plot the schedule library."""


@schedules.command("list")
@click.option("--family", default=None, help="Only this family (constant, piecewise, smooth, cyclical, warmup).")
@json_option
def schedules_list(family: str | None, as_json: bool) -> None:
    """List every schedule with its family and a one-line summary."""
    from lrrec.schedules import list_specs

    specs = list_specs(family)
    rows = [{"name": s.name, "family": s.family, "summary": s.summary, "citation": s.citation} for s in specs]
    if as_json:
        emit_json(rows)
        return
    width = max(len(s.name) for s in specs)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['family']:<9}  {row['summary']}")


@schedules.command("show")
@click.argument("name")
@set_option
@steps_option
@json_option
def schedules_show(name: str, settings: tuple[str, ...], steps: int, as_json: bool) -> None:
    """Show a schedule's parameters, defaults, search space and its LR at every step."""
    from lrrec.schedules import ScheduleConfig, search_space

    config = ScheduleConfig.create(name).with_settings(parse_settings(settings))
    lrs = config.lrs(range(steps), steps).tolist()
    spec = config.spec
    space = {key: param.describe() for key, param in search_space(config.name).items()}
    data = {**config.to_dict(), "summary": spec.summary, "citation": spec.citation, "steps": steps,
            "search_space": space, "lrs": lrs}
    if spec.metric_driven:
        data["note"] = "the LR falls only when step(metric) reports a plateau; shown without metrics"
    if as_json:
        emit_json(data)
        return
    click.echo(f"{config.name} ({config.family}): {spec.summary}")
    click.echo(f"  cite: {spec.citation}")
    click.echo(f"  lr = {config.lr:g}")
    for key, value in config.params.items():
        described = space[key]
        click.echo(f"  {key} = {value!r}  (default {described['default']!r}; {described['doc']})")
    if config.warmup:
        w = config.warmup
        click.echo(f"  warmup = {w.kind} over {w.frac:g} of the budget from {w.start_factor:g}")
    click.echo("  search space:")
    for key, described in space.items():
        click.echo(f"    {key}: {json.dumps(described.get('search', 'fixed'))}")
    if "note" in data:
        click.echo(f"  note: {data['note']}")
    click.echo(f"  lr over {steps} steps:")
    for start in range(0, steps, 8):
        chunk = lrs[start:start + 8]
        click.echo(f"    {start:>6}: " + " ".join(f"{v:.6g}" for v in chunk))


@schedules.command("plot")
@click.argument("names", nargs=-1, required=True)
@set_option
@steps_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
def schedules_plot(names: tuple[str, ...], settings: tuple[str, ...], steps: int, out: str) -> None:
    """Plot the LR curves of one or more schedules on one figure."""
    from lrrec.plots import plot_schedules
    from lrrec.schedules import with_shared_settings

    plot_schedules(with_shared_settings(names, parse_settings(settings)), steps, out)
    click.echo(f"wrote {out}")
