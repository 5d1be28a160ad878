"""`TaskFingerprint`: what lrrec knows about a task (dataset + model), the key the recommender compares.

Torch-free: the runners fill it in; the store keeps one column per feature plus the canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any

from lrrec.errors import InvalidValueError, unknown_name
from lrrec.fields import INT64_MAX, Choice, Flag, JsonObject, Kind, Number, Shape, Text

TASK_KINDS = ("classification", "regression", "surface")
_NAME = Text(non_empty=True, nullable=False, must="a non-empty string")
_COUNT = Number(whole=True, at_least=0, at_most=INT64_MAX, over=f"must be at most {INT64_MAX} (a 64-bit integer)",
                must="a non-negative integer")  # the store keeps whole numbers as BIGINT
_SIZE = Number(at_least=0, must="a finite non-negative number")
# field -> kind, in the order they are checked
TASK_FIELDS: dict[str, Kind] = {
    "name": _NAME, "dataset": _NAME, "model": _NAME,
    "task_kind": Choice(choices=TASK_KINDS, label="task_kind", nullable=False),
    "n_train": _COUNT, "n_classes": _COUNT, "input_numel": _COUNT, "n_params": _COUNT, "depth": _COUNT,
    "class_balance": Number(at_least=0, at_most=1, over="is a normalised entropy in 0..1", must=_SIZE.must),
    "forward_flops": _SIZE, "has_norm": Flag(), "has_residual": Flag(), "input_shape": Shape(),
    "data_hash": Text(must="text"), "extra": JsonObject(nullable=False, must="an object"),
}


@dataclass(frozen=True)
class TaskFingerprint:
    """A task's identity (`name` like "cifar100/wrn-28-10") and its optional numeric features."""

    name: str
    dataset: str
    model: str
    task_kind: str = "classification"
    n_train: int | None = None
    n_classes: int | None = None
    input_numel: int | None = None
    input_shape: list[int] | None = None
    class_balance: float | None = None  # normalised label entropy, 0..1
    data_hash: str | None = None
    n_params: int | None = None
    forward_flops: float | None = None
    depth: int | None = None
    has_norm: bool | None = None
    has_residual: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, kind in TASK_FIELDS.items():  # 1 and 1.0 give one task_id: float features become floats
            object.__setattr__(self, key, kind.check(f"task {key}", getattr(self, key)))

    @classmethod
    def from_name(cls, name: str, task_kind: str = "classification") -> TaskFingerprint:
        """A fingerprint with only a name "dataset/model" (no features)."""
        dataset, sep, model = str(name).partition("/")
        if not sep or not dataset or not model:
            raise InvalidValueError(f"task name must look like dataset/model (e.g. cifar10/resnet18), got {name!r}")
        return cls(name=str(name), dataset=dataset, model=model, task_kind=task_kind)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TaskFingerprint:
        """Inverse of `to_dict`; `dataset`/`model` default to the two halves of a "dataset/model" name."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise InvalidValueError("a task needs at least a 'name', e.g. {\"name\": \"cifar10/resnet18\"}")
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise unknown_name("task field", str(key), known)
        values = dict(data)
        if "dataset" not in values or "model" not in values:
            base = cls.from_name(values["name"])
            values.setdefault("dataset", base.dataset)
            values.setdefault("model", base.model)
        values["extra"] = dict(values.get("extra") or {})
        if isinstance(values.get("input_shape"), tuple):
            values["input_shape"] = list(values["input_shape"])
        return cls(**values)

    @classmethod
    def from_stored(cls, text: str) -> TaskFingerprint:
        """A fingerprint from the JSON the store keeps: `to_json` of a checked one is read without checking each
        field again (`lrrec suggest` reads hundreds); anything else goes through `from_dict`."""
        data = json.loads(text)
        if not isinstance(data, dict) or data.keys() != _FIELD_NAMES:
            return cls.from_dict(data)
        task = object.__new__(cls)
        for key, value in data.items():
            object.__setattr__(task, key, value)
        return task

    def to_dict(self) -> dict[str, Any]:
        """Plain data, every field present."""
        return asdict(self)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @cached_property
    def task_id(self) -> str:
        """SHA-256 of the canonical JSON: equal fingerprints share it."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


_FIELD_NAMES = frozenset(f.name for f in fields(TaskFingerprint))
