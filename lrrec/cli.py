"""The `lrrec` command line: thin click wrappers over library functions.

Every `LrrecError` becomes `Error: <message>` and exit status 1 here, in one place; heavy libraries are
imported inside the commands that need them, so `lrrec --help` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from lrrec import __version__
from lrrec.errors import InvalidValueError, LrrecError


class LrrecGroup(click.Group):
    """A click group that reports library errors as one line instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LrrecError as exc:
            raise click.ClickException(str(exc)) from None


def emit_json(data: Any) -> None:
    """Print `data` as JSON (the `--json` output of every command)."""
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """Parse `--set key=value` items; values are JSON literals where they parse (numbers, lists, true), else text."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise InvalidValueError(f"--set expects key=value, got {item!r} (e.g. --set gamma=0.5)")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
set_option = click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
                          help="Set lr, a schedule parameter or warmup/warmup_frac/warmup_start_factor.")
steps_option = click.option("--steps", default=100, show_default=True, type=click.IntRange(min=1),
                            help="Budget in optimizer steps.")


@click.group(cls=LrrecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lrrec")
def cli() -> None:
    """lrrec recommends learning-rate schedules from past training experience."""


# --- schedules ------------------------------------------------------------------------------------------
@cli.group(cls=LrrecGroup)
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
            "search_space": space, "lr": lrs, "lr_init": config.lr}
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
    from lrrec.schedules import ScheduleConfig

    wanted = parse_settings(settings)
    configs = []
    used: set[str] = set()
    for name in names:
        base = ScheduleConfig.create(name)
        accepted = {k: v for k, v in wanted.items() if k in base.flat()}
        used.update(accepted)
        configs.append(base.with_settings(accepted))
    unused = set(wanted) - used
    if unused:
        raise InvalidValueError(f"no schedule among {', '.join(names)} has parameter(s) {', '.join(sorted(unused))}"
                                f"; see `lrrec schedules show NAME` for each one's parameters")
    plot_schedules(configs, steps, out)
    click.echo(f"wrote {out}")


def main() -> None:
    """Console-script entry point."""
    cli()
