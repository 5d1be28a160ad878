"""`TaskFingerprint`: what lrrec knows about a task (dataset + model), the key the recommender compares.

Torch-free: the runners fill it in; the store keeps one column per feature plus the canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any

from lrrec.errors import InvalidValueError, unknown_name

TASK_KINDS = ("classification", "regression", "surface")
_INT_FEATURES = ("n_train", "n_classes", "input_numel", "n_params", "depth")
_FLOAT_FEATURES = ("class_balance", "forward_flops")
_BOOL_FEATURES = ("has_norm", "has_residual")
_INT64_MAX = 2**63 - 1  # the store keeps whole numbers as BIGINT


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
        for key in ("name", "dataset", "model"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise InvalidValueError(f"task {key} must be a non-empty string, got {getattr(self, key)!r}")
        if self.task_kind not in TASK_KINDS:
            raise unknown_name("task_kind", str(self.task_kind), TASK_KINDS)
        for key in _INT_FEATURES:
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidValueError(f"task {key} must be a non-negative integer, got {value!r}")
            if value is not None and value > _INT64_MAX:
                raise InvalidValueError(f"task {key} must be at most {_INT64_MAX} (a 64-bit integer), got {value}")
        for key in _FLOAT_FEATURES:
            value = getattr(self, key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value) or value < 0):
                raise InvalidValueError(f"task {key} must be a finite non-negative number, got {value!r}")
            if value is not None:
                object.__setattr__(self, key, float(value))  # 1 and 1.0 give one task_id
        if self.class_balance is not None and self.class_balance > 1:
            raise InvalidValueError(f"task class_balance is a normalised entropy in 0..1, got {self.class_balance}")
        for key in _BOOL_FEATURES:
            if getattr(self, key) not in (None, True, False):
                raise InvalidValueError(f"task {key} must be true or false, got {getattr(self, key)!r}")
        shape = self.input_shape
        if shape is not None and (not isinstance(shape, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)):
            raise InvalidValueError(f"task input_shape must be a list of positive integers, got {shape!r}")
        if self.data_hash is not None and not isinstance(self.data_hash, str):
            raise InvalidValueError(f"task data_hash must be text, got {self.data_hash!r}")
        if not isinstance(self.extra, dict):
            raise InvalidValueError(f"task extra must be an object, got {self.extra!r}")

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
