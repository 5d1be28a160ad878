"""Typed errors. The CLI turns every `LrrecError` into `Error: <message>` and exit status 1."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class LrrecError(Exception):
    """A user-facing problem: the message names the problem and the fix, on one line."""


class UnknownNameError(LrrecError, KeyError):
    """A name (schedule, parameter, family, ...) that is not one of the valid choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class InvalidValueError(LrrecError, ValueError):
    """A value of the right name but the wrong type or range."""


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown `name`, naming close matches and every valid choice."""
    valid = sorted(choices)
    close = difflib.get_close_matches(name, valid, n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return UnknownNameError(f"unknown {kind} {name!r}.{hint} Valid: {', '.join(valid)}")


class LrOverrideWarning(UserWarning):
    """A schedule replaced an optimizer's LR by its own (the config's LR is the peak; group ratios are kept)."""


class StoreError(LrrecError):
    """The experience store cannot be opened or used (locked too long, not a store, newer schema)."""


class IngestError(LrrecError):
    """Input that cannot be ingested; nothing was written. `problems` lists each `where: reason`."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


def brief(exc: BaseException) -> str:
    """A foreign library's exception in one line: its type and the first line of its message (at most 200 chars)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"
