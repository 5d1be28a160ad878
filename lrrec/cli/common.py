"""Pieces every `lrrec` command shares: the error-reporting group, JSON output, option parsers, options, and
the store a command works on."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from lrrec.errors import InvalidValueError, LrrecError

if TYPE_CHECKING:
    from lrrec.store.store import Store


class _UsageMistake(click.ClickException):
    exit_code = 2  # a malformed command line, as click reports it, in one line


def _usage_mistake(exc: click.UsageError, command: str) -> _UsageMistake:
    return _UsageMistake(f"{exc.format_message()} (see {command} --help)")


_HELP_REQUEST = getattr(click.exceptions, "NoArgsIsHelpError", ())  # a bare group prints its help: not a mistake


class LrrecGroup(click.Group):
    """A click group that reports library errors and malformed options as one line instead of a traceback
    or click's usage block."""

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except _HELP_REQUEST:
            raise
        except click.UsageError as exc:  # the group's own options (`lrrec --bogus`)
            raise _usage_mistake(exc, f"{parent.command_path} {info_name}" if parent else str(info_name)) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            if ctx.parent is None and _NEW_STORE in ctx.meta:  # said once the command has done its work
                click.echo(f"created a new store at {ctx.meta[_NEW_STORE]} (with the bundled corpus and literature "
                           f"results)", err=True)
            return result
        except LrrecError as exc:
            raise click.ClickException(str(exc)) from None
        except _HELP_REQUEST:
            raise
        except click.UsageError as exc:
            raise _usage_mistake(exc, exc.ctx.command_path if exc.ctx else ctx.command_path) from None


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
                          help="Set lr, a schedule parameter or warmup/warmup_frac/warmup_start_factor "
                               "(run: or the warmup's length as warmup_steps or warmup_epochs).")
steps_option = click.option("--steps", default=100, show_default=True, type=click.IntRange(min=1),
                            help="Budget in optimizer steps.")


def split_list(text: str | None) -> list[str]:
    """The non-empty, stripped items of a comma-separated option."""
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def parse_float(text: str, option: str) -> float:
    """`text` as a number, or a one-line error naming `option`."""
    try:
        return float(text)
    except ValueError:
        raise InvalidValueError(f"{option} takes numbers separated by commas, got {text!r}") from None


store_option = click.option("--store", "store_path", type=click.Path(dir_okay=False), default=None, metavar="PATH",
                            help="Experience store file (default: $LRREC_STORE, else the user data folder).")
data_root_option = click.option("--data-root", default=None, type=click.Path(file_okay=False),
                                help="Folder holding CIFAR / ImageNet data for tasks that need it.")


_NEW_STORE = "lrrec.new_store"  # context key: the store this command made, announced when it succeeds


def open_cli_store(store_path: str | None, *, reading: bool = False, announce: bool = True) -> Store:
    """The store a command works on. A reading command refuses a store named by --store or $LRREC_STORE that
    does not exist (a typo must not become an empty store); a store made now is announced on stderr once the
    command succeeds."""
    from lrrec.store.store import open_store

    named = store_path or os.environ.get("LRREC_STORE")
    store = open_store(store_path, create=not (reading and named))
    if store.created and announce:
        click.get_current_context().meta[_NEW_STORE] = store.path
    return store


def optimizer_options(func: Any) -> Any:
    """Options of commands that train without recording (the LR range test)."""
    for option in reversed([
        click.option("--batch-size", type=click.IntRange(min=1), default=None,
                     help="Batch size (default: the task's)."),
        click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default=None,
                     help="Optimizer (default: the task's, SGD with momentum)."),
        click.option("--momentum", type=click.FloatRange(0.0, 1.0, max_open=True), default=None,
                     help="SGD momentum (default: the task's; 0 = plain SGD)."),
        click.option("--weight-decay", type=click.FloatRange(min=0.0), default=None,
                     help="Weight decay (L2 for SGD and Adam, decoupled for AdamW; default: the task's)."),
        click.option("--device", default=None, help="cuda, cuda:1 or cpu (default: CUDA when present)."),
        data_root_option, json_option,
    ]):
        func = option(func)
    return func


def budget_options(func: Any) -> Any:
    """Options of commands that train and record runs: the budget, the device, the data and the store."""
    func = store_option(optimizer_options(func))
    return click.option("--epochs", type=click.IntRange(min=1), default=None,
                        help="Epochs (default: the task's).")(func)
