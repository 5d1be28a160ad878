"""Field kinds: the declared checks of ingest rows, task fingerprints and DeepOBS results.

As a schedule declares its hyperparameters with `Param`s, a record declares its fields as a table of kinds,
e.g. `{"epochs": Number(whole=True, at_least=1), "notes": Text()}`. `Kind.check(key, value, text)` returns the
value normalised or raises a one-line `InvalidValueError` naming `key`. Torch- and DuckDB-free.

A kind reads a row's value (the default): JSON text where an object or list goes, with `text=True` numbers written
in CSV cells (where a blank cell is a missing value), and the store's ranges. Given `must`, a kind checks typed
data (a constructor's arguments, a parsed result file) as given, and every refusal reads
"{key} must be {must}, got {value!r}".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, ClassVar

from lrrec.errors import InvalidValueError, unknown_name

INT64_MAX = 2**63 - 1  # the store's whole numbers are 64-bit
MAX_DEPTH = 32  # nesting of JSON objects and lists in a row
_MAX_DIGITS = 308  # whole numbers longer than this overflow a float
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(nan|inf|infinity)", re.IGNORECASE)


def strict_json(text: str) -> Any:
    """`json.loads` that rejects NaN, Infinity, integers beyond float range and deep nesting (a number like
    1e999 reads as inf, which each field's check refuses by name)."""
    def reject(token: str) -> Any:
        raise InvalidValueError(f"{token} is not allowed; write null for a missing value")

    def whole(token: str) -> int:
        if len(token.lstrip("-")) > _MAX_DIGITS:
            raise InvalidValueError(f"a number with {len(token.lstrip('-'))} digits is beyond the range of a float")
        return int(token)
    try:
        value = json.loads(text, parse_constant=reject, parse_int=whole)
    except json.JSONDecodeError as exc:
        raise InvalidValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InvalidValueError(f"JSON nested too deeply (lrrec reads up to {MAX_DEPTH} levels)") from None
    return value


def check_nested(key: str, value: Any, depth: int = 0) -> None:
    """Refuse, anywhere inside a field, nesting deeper than `MAX_DEPTH`, text that is not valid Unicode (a lone
    surrogate) and non-finite numbers (inside objects and lists; top-level numbers get their own message)."""
    if depth > MAX_DEPTH:
        raise InvalidValueError(f"{key} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidValueError(f"{key} holds text that is not valid Unicode (a lone surrogate)") from None
    elif isinstance(value, float) and depth and not math.isfinite(value):
        raise InvalidValueError(f"{key} holds {value!r}; write null for a missing value")
    elif isinstance(value, dict):
        for item_key, item in value.items():
            check_nested(key, item_key, depth + 1)
            check_nested(key, item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_nested(key, item, depth + 1)


@dataclass(frozen=True, kw_only=True)
class Kind:
    """A field's kind. None is a missing value unless not `nullable`; `must` makes it check typed data."""

    nullable: bool = True
    must: str = ""

    def check(self, key: str, value: Any, text: bool = False) -> Any:
        """`value` normalised, or an `InvalidValueError` naming `key`; `text=True` reads CSV cells."""
        if (value is None and self.nullable) or (text and isinstance(value, str) and not value.strip()):
            return None
        return self.normalise(key, value, text)

    def normalise(self, key: str, value: Any, text: bool) -> Any:
        """`check` for a present value."""
        raise NotImplementedError

    def refuse(self, key: str, value: Any, message: str = "") -> InvalidValueError:
        """The error for `value`: `message`, or the `must` wording."""
        return InvalidValueError(f"{key} must be {self.must}, got {value!r}" if self.must else message)


@dataclass(frozen=True, kw_only=True)
class Number(Kind):
    """A finite number: a float, or an int if `whole`, from `at_least` to `at_most` (`over` words a refusal above
    it). A row's number may be a CSV cell's text or a Decimal, 3.0 counts as whole, and whole numbers lie within
    the store's 64 bits; typed data must hold an int (`whole`) or an int or float."""

    whole: bool = False
    at_least: float | None = None
    at_most: float | None = None
    over: str = ""

    def normalise(self, key: str, value: Any, text: bool) -> float | int:
        value = self._typed(key, value) if self.must else self._read(key, value, text)
        if self.at_most is not None and value > self.at_most:
            raise InvalidValueError(f"{key} {self.over}, got {value}")
        return value

    def _typed(self, key: str, value: Any) -> float | int:
        if (isinstance(value, bool) or not isinstance(value, int if self.whole else (int, float))
                or (isinstance(value, float) and not math.isfinite(value)) or self._below(value)):
            raise self.refuse(key, value)
        return value if self.whole else float(value)

    def _read(self, key: str, value: Any, text: bool) -> float | int:
        if text and isinstance(value, str):
            value = _number_text(key, value, self.whole)
        if isinstance(value, Decimal):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidValueError(f"{key} must be a number, got {type(value).__name__} {value!r}")
        if not math.isfinite(value):
            raise InvalidValueError(f"{key} must be a finite number, got {value!r}; write null for a missing value")
        if self.whole and value != int(value):
            raise InvalidValueError(f"{key} must be a whole number, got {value!r}")
        if self._below(value):
            raise InvalidValueError(f"{key} must be at least {self.at_least}, got {value!r}")
        if self.whole and not -INT64_MAX <= value <= INT64_MAX:
            raise InvalidValueError(f"{key} must lie within +-{INT64_MAX} (the store keeps 64-bit integers), "
                                    f"got {value!r}")
        return int(value) if self.whole else float(value)

    def _below(self, value: float) -> bool:
        return self.at_least is not None and value < self.at_least


def _number_text(key: str, text: str, whole: bool) -> float | int:
    """A number written in a CSV cell: plain decimal or scientific notation (no `1_0`, no hex)."""
    cell = text.strip()
    if len(cell) > _MAX_DIGITS or not _NUMBER.fullmatch(cell):  # length first: the match is quadratic in it
        raise InvalidValueError(f"{key} must be a number, got {text[:40]!r}")
    if not whole or any(c in cell for c in ".eEnN"):
        return float(cell)
    return int(cell)


@dataclass(frozen=True, kw_only=True)
class Text(Kind):
    """A string; `non_empty` refuses "", `non_blank` also white space only."""

    non_empty: bool = False
    non_blank: bool = False

    def normalise(self, key: str, value: Any, text: bool) -> str:
        if not isinstance(value, str) or (self.non_empty and not value) or (self.non_blank and not value.strip()):
            raise self.refuse(key, value, f"{key} must be text, got {type(value).__name__} {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class _Json(Kind):
    """JSON of `python_type`; in a row it may be given as JSON text, and what it holds is checked by `check_nested`."""

    python_type: ClassVar[type]
    label: ClassVar[str]
    example: ClassVar[str]

    def normalise(self, key: str, value: Any, text: bool) -> Any:
        if not self.must:
            value = self._read(key, value)
        if not isinstance(value, self.python_type):
            raise self.refuse(key, value, f"{key} must be a JSON {self.label}, got {value!r}")
        return value

    def _read(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = strict_json(value)
            except InvalidValueError as exc:
                raise InvalidValueError(f"{key}: {exc}; give a JSON {self.label} (e.g. {self.example})") from None
        check_nested(key, value)
        return value


@dataclass(frozen=True, kw_only=True)
class JsonObject(_Json):
    """A JSON object (a dict)."""

    python_type: ClassVar[type] = dict
    label: ClassVar[str] = "object"
    example: ClassVar[str] = "{}"


@dataclass(frozen=True, kw_only=True)
class JsonList(_Json):
    """A JSON list."""

    python_type: ClassVar[type] = list
    label: ClassVar[str] = "list"
    example: ClassVar[str] = "[]"


@dataclass(frozen=True, kw_only=True)
class Time(Kind):
    """A point in time: a datetime or ISO-8601 text; one with a time zone becomes naive UTC."""

    def normalise(self, key: str, value: Any, text: bool) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidValueError(f"{key} must be an ISO-8601 time, got {value!r}") from None
        if not isinstance(value, datetime):
            raise InvalidValueError(f"{key} must be an ISO-8601 time, got {value!r}")
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:
                raise InvalidValueError(f"{key} {value.isoformat()} is out of range in UTC") from None
        return value


@dataclass(frozen=True, kw_only=True)
class Flag(Kind):
    """True or false (kept as given: 1 and 0 compare equal to them and pass)."""

    def normalise(self, key: str, value: Any, text: bool) -> Any:
        if value not in (True, False):
            raise self.refuse(key, value, f"{key} must be true or false, got {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class Choice(Kind):
    """One of `choices`; a refusal names them all, calling the field `label` (default: its key)."""

    choices: Sequence[str]
    label: str = ""

    def normalise(self, key: str, value: Any, text: bool) -> Any:
        if value not in self.choices:
            raise unknown_name(self.label or key, str(value), self.choices)
        return value


@dataclass(frozen=True, kw_only=True)
class Shape(Kind):
    """A tensor shape: a list of positive integers."""

    def normalise(self, key: str, value: Any, text: bool) -> list[int]:
        if not isinstance(value, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value):
            raise self.refuse(key, value, f"{key} must be a list of positive integers, got {value!r}")
        return value


@dataclass(frozen=True, kw_only=True)
class NameOrObject(Kind):
    """A name or an object (a task, a schedule), passed on as given for its own class to validate."""

    def normalise(self, key: str, value: Any, text: bool) -> Any:
        return value
