"""Declared field kinds (`lrrec.fields`): each accepts and normalises its good values and refuses bad ones with a
one-line message that names the field; the ingest and fingerprint tables declare every field."""

from dataclasses import fields
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from lrrec.errors import InvalidValueError, UnknownNameError
from lrrec.fields import (
    INT64_MAX,
    MAX_DEPTH,
    Choice,
    Flag,
    JsonList,
    JsonObject,
    Kind,
    NameOrObject,
    Number,
    Shape,
    Text,
    Time,
)
from lrrec.fingerprint import TASK_FIELDS, TaskFingerprint
from lrrec.store.interchange import CURVE_FIELDS, FIELDS
from lrrec.store.writer import _JSON_FIELDS

REAL, WHOLE, COUNT = Number(), Number(whole=True), Number(whole=True, at_least=1)
TYPED_COUNT = Number(whole=True, at_least=0, at_most=INT64_MAX, over="must fit 64 bits", must="a non-negative integer")
TYPED_FRACTION = Number(at_least=0, at_most=1, over="is not a fraction", must="a finite non-negative number")


def refusal(kind: Kind, value, text: bool = False, key: str = "f") -> str:
    with pytest.raises(InvalidValueError) as caught:
        kind.check(key, value, text)
    return str(caught.value)


def same(got, want) -> bool:
    """Equal, of the same type and sign (1, 1.0, 0.0 and -0.0 are different normalisations: they hash apart)."""
    return got == want and type(got) is type(want) and repr(got) == repr(want)


@pytest.mark.parametrize("kind, value, text, want", [
    (REAL, 1, False, 1.0), (REAL, 2.5, False, 2.5), (REAL, Decimal("1.5"), False, 1.5), (REAL, " 1e3 ", True, 1000.0),
    (REAL, "7", True, 7.0), (REAL, "-0", True, -0.0), (WHOLE, 3.0, False, 3), (WHOLE, "7", True, 7), (WHOLE, "-2", True, -2),
    (WHOLE, -INT64_MAX, False, -INT64_MAX), (WHOLE, "1e2", True, 100), (COUNT, 1, False, 1),
    (COUNT, INT64_MAX, False, INT64_MAX), (TYPED_COUNT, 0, False, 0), (TYPED_COUNT, INT64_MAX, False, INT64_MAX),
    (TYPED_FRACTION, 1, False, 1.0), (TYPED_FRACTION, 0.25, False, 0.25),
])
def test_number_accepts_and_normalises(kind, value, text, want):
    assert same(kind.check("f", value, text), want)


@pytest.mark.parametrize("kind, value, text, message", [
    (REAL, "1.5", False, "f must be a number, got str '1.5'"),  # text is read only from CSV cells
    (REAL, True, False, "f must be a number, got bool True"),
    (REAL, [1], False, "f must be a number, got list [1]"),
    (REAL, "1_0", True, "f must be a number, got '1_0'"),
    (REAL, "0x10", True, "f must be a number, got '0x10'"),
    (REAL, "9" * 400, True, f"f must be a number, got {'9' * 40!r}"),
    (REAL, float("nan"), False, "f must be a finite number, got nan; write null for a missing value"),
    (REAL, "-inf", True, "f must be a finite number, got -inf; write null for a missing value"),
    (WHOLE, 2.5, False, "f must be a whole number, got 2.5"),
    (WHOLE, "2.5", True, "f must be a whole number, got 2.5"),
    (WHOLE, 2**63, False, f"f must lie within +-{INT64_MAX} (the store keeps 64-bit integers), got {2**63}"),
    (WHOLE, -(2**63), False, f"f must lie within +-{INT64_MAX} (the store keeps 64-bit integers), got {-(2**63)}"),
    (COUNT, 0, False, "f must be at least 1, got 0"),
    (COUNT, 0.0, False, "f must be at least 1, got 0.0"),
    (Number(at_least=0.5), 0.25, False, "f must be at least 0.5, got 0.25"),
    (TYPED_COUNT, 3.0, False, "f must be a non-negative integer, got 3.0"),
    (TYPED_COUNT, -1, False, "f must be a non-negative integer, got -1"),
    (TYPED_COUNT, True, False, "f must be a non-negative integer, got True"),
    (TYPED_COUNT, "3", True, "f must be a non-negative integer, got '3'"),  # typed data: text is never a number
    (TYPED_COUNT, Decimal(3), False, "f must be a non-negative integer, got Decimal('3')"),
    (TYPED_COUNT, 2**63, False, f"f must fit 64 bits, got {2**63}"),
    (TYPED_FRACTION, float("inf"), False, "f must be a finite non-negative number, got inf"),
    (TYPED_FRACTION, -0.5, False, "f must be a finite non-negative number, got -0.5"),
    (TYPED_FRACTION, 2, False, "f is not a fraction, got 2.0"),
])
def test_number_refuses_naming_the_field(kind, value, text, message):
    assert refusal(kind, value, text) == message


def test_missing_values_and_blank_cells():
    for kind in (REAL, Text(), JsonObject(), JsonList(), Time(), Flag(), Shape(), NameOrObject(), TYPED_COUNT):
        assert kind.check("f", None) is None
        assert kind.check("f", " \t", text=True) is None  # a blank CSV cell is a missing value
    assert refusal(Number(whole=True, nullable=False, must="a positive integer"), None) == \
        "f must be a positive integer, got None"
    assert refusal(Text(nullable=False, must="text"), None) == "f must be text, got None"


def test_text():
    assert Text().check("f", "") == "" and Text(non_empty=True).check("f", " ") == " "
    assert refusal(Text(), 5) == "f must be text, got int 5"
    assert refusal(Text(), ["a"], key="notes") == "notes must be text, got list ['a']"
    assert refusal(Text(non_empty=True, must="a non-empty string"), "") == "f must be a non-empty string, got ''"
    assert refusal(Text(non_blank=True, must="a non-empty name"), " ") == "f must be a non-empty name, got ' '"
    assert refusal(Text(must="text"), 5) == "f must be text, got 5"


def test_json_object_and_list():
    assert JsonObject().check("f", '{"a": [1]}') == {"a": [1]} and JsonList().check("f", "[1, 2]") == [1, 2]
    assert JsonObject().check("f", {"a": 1}) == {"a": 1}
    assert refusal(JsonObject(), "[1]") == "f must be a JSON object, got [1]"
    assert refusal(JsonList(), {"a": 1}) == "f must be a JSON list, got {'a': 1}"
    assert refusal(JsonObject(), "{") == \
        "f: invalid JSON (Expecting property name enclosed in double quotes at column 2); give a JSON object (e.g. {})"
    assert refusal(JsonList(), "[NaN]") == "f: NaN is not allowed; write null for a missing value; give a JSON list " \
                                           "(e.g. [])"
    assert refusal(JsonList(), [float("inf")]) == "f holds inf; write null for a missing value"
    deep: list = []
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert refusal(JsonList(), deep) == f"f is nested deeper than {MAX_DEPTH} levels"
    assert refusal(JsonObject(), {"a": "\ud800"}) == "f holds text that is not valid Unicode (a lone surrogate)"
    typed = JsonObject(nullable=False, must="an object")  # typed data: as given, no JSON text read
    given = {"x": float("nan")}
    assert typed.check("f", given) is given
    assert refusal(typed, "{}") == "f must be an object, got '{}'"
    assert refusal(typed, None) == "f must be an object, got None"


def test_time():
    assert Time().check("f", "2024-01-02T03:04:05") == datetime(2024, 1, 2, 3, 4, 5)
    assert Time().check("f", "2024-01-02T05:00:00+05:00") == datetime(2024, 1, 2)  # naive UTC
    aware = datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=-1)))
    assert Time().check("f", aware) == datetime(2024, 1, 2, 1)
    assert refusal(Time(), "yesterday", key="created_at") == "created_at must be an ISO-8601 time, got 'yesterday'"
    assert refusal(Time(), 5) == "f must be an ISO-8601 time, got 5"
    assert refusal(Time(), "0001-01-01T00:00:00+05:00") == "f 0001-01-01T00:00:00+05:00 is out of range in UTC"


def test_flag_choice_shape_and_names():
    assert Flag().check("f", True) is True and Flag().check("f", False) is False
    assert refusal(Flag(), "yes") == "f must be true or false, got 'yes'"
    kinds = Choice(choices=("a", "b"), label="kind", nullable=False)
    assert kinds.check("task kind", "b") == "b"
    with pytest.raises(UnknownNameError, match=r"^unknown kind 'c'\. Valid: a, b$"):
        kinds.check("task kind", "c")
    with pytest.raises(UnknownNameError, match=r"^unknown f 'None'"):
        Choice(choices=("a",), nullable=False).check("f", None)
    assert Shape().check("f", [3, 32, 32]) == [3, 32, 32] and Shape().check("f", []) == []
    for bad in ([3, 0], [True], [1.0], (1, 2), "3,32"):
        assert refusal(Shape(), bad) == f"f must be a list of positive integers, got {bad!r}"
    assert NameOrObject().check("f", {"name": "x"}) == {"name": "x"}


def test_tables_declare_every_field():
    assert all(isinstance(kind, Kind) for kind in [*FIELDS.values(), *CURVE_FIELDS.values()])
    assert set(TASK_FIELDS) == {f.name for f in fields(TaskFingerprint)}
    assert _JSON_FIELDS == ("schedule_params", "optimizer_params", "library_versions", "extra")  # curves: a list


def test_fingerprint_messages_come_from_its_table():
    base = {"name": "d/m", "dataset": "d", "model": "m"}
    for change, message in [
        ({"n_train": 2**63}, f"task n_train must be at most {INT64_MAX} (a 64-bit integer), got {2**63}"),
        ({"depth": 2.0}, "task depth must be a non-negative integer, got 2.0"),
        ({"class_balance": 2}, "task class_balance is a normalised entropy in 0..1, got 2.0"),
        ({"forward_flops": float("nan")}, "task forward_flops must be a finite non-negative number, got nan"),
        ({"model": ""}, "task model must be a non-empty string, got ''"),
        ({"data_hash": 5}, "task data_hash must be text, got 5"),
        ({"extra": None}, "task extra must be an object, got None"),
        ({"has_residual": "no"}, "task has_residual must be true or false, got 'no'"),
    ]:
        with pytest.raises(InvalidValueError) as caught:
            TaskFingerprint(**{**base, **change})
        assert str(caught.value) == message
    task = TaskFingerprint(**base, forward_flops=10, n_train=5)
    assert same(task.forward_flops, 10.0) and same(task.n_train, 5)
