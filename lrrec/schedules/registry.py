"""The schedule registry: name -> `ScheduleSpec` (formula, family, parameters, citation)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lrrec.errors import unknown_name
from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import Param

FAMILIES: tuple[str, ...] = ("constant", "piecewise", "smooth", "cyclical", "warmup")
# Each family's representative schedule (the survey's section-4 picks): sweeps and baselines use these.
FAMILY_DEFAULTS: dict[str, str] = {"constant": "constant", "piecewise": "step", "smooth": "cosine",
                                   "cyclical": "sgdr", "warmup": "warmup_cosine"}

# multiplier(t, T, params) -> array of multipliers of the initial LR, one per step in `t`
Formula = Callable[["np.ndarray", int, Mapping[str, Any]], "np.ndarray"]


@dataclass(frozen=True)
class ScheduleSpec:
    """Everything lrrec knows about one schedule."""

    name: str
    family: str
    formula: Formula
    params: Mapping[str, Param]
    citation: str
    summary: str
    includes_warmup: bool = False
    metric_driven: bool = False
    check: Callable[[Mapping[str, Any], str], None] | None = None
    aliases: tuple[str, ...] = field(default=())

    def multiplier(self, steps: np.ndarray, total_steps: int, params: Mapping[str, Any]) -> np.ndarray:
        """The LR multiplier at each step (no warmup wrapper, no plateau state)."""
        t = np.asarray(steps, dtype=np.float64)
        return np.asarray(self.formula(t, int(total_steps), params), dtype=np.float64)


_REGISTRY: dict[str, ScheduleSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: ScheduleSpec) -> ScheduleSpec:
    """Add `spec` to the registry (called once per schedule at import)."""
    assert spec.family in FAMILIES, spec.family
    assert spec.name not in _REGISTRY, spec.name
    _REGISTRY[spec.name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    return spec


def _load() -> None:
    # Importing the family modules registers their schedules.
    from lrrec.schedules import cyclical, piecewise, smooth, warmup_family  # noqa: F401


def get_spec(name: str) -> ScheduleSpec:
    """The spec for `name` (or one of its aliases); an unknown name raises with the valid choices."""
    _load()
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise unknown_name("schedule", name, _REGISTRY)
    return _REGISTRY[key]


def list_specs(family: str | None = None) -> list[ScheduleSpec]:
    """Every registered schedule, in family order, optionally of one family."""
    _load()
    if family is not None and family not in FAMILIES:
        raise unknown_name("family", family, FAMILIES)
    specs = [s for s in _REGISTRY.values() if family is None or s.family == family]
    return sorted(specs, key=lambda s: (FAMILIES.index(s.family), s.name))
