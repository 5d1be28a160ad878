"""`ScheduleConfig`: a schedule name, its initial LR, its resolved parameters and an optional warmup.

This is the unit the store records and the recommender ranks. Its JSON form is canonical (sorted keys, every
default filled in), so equal configs have equal JSON and equal content hashes, and JSON round-trips exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrrec.errors import InvalidValueError, unknown_name
from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import real, resolve
from lrrec.schedules.plateau import PlateauTracker
from lrrec.schedules.registry import ScheduleSpec, get_spec
from lrrec.schedules.units import steps_of
from lrrec.schedules.warmup import WARMUP_PARAMS, apply_warmup

LR_PARAM = real("lr", 0.1, "initial (peak) learning rate", valid=(0.0, 1e4), search=(1e-4, 1.0), log=True,
                open_low=True)


@dataclass(frozen=True)
class Warmup:
    """A warmup prefix: `kind` (linear/constant) over `frac` of the budget, starting at `start_factor`."""

    kind: str
    frac: float
    start_factor: float = 0.0


@dataclass(frozen=True)
class ScheduleConfig:
    """A fully specified schedule. Build it with `ScheduleConfig.create` (validates and fills defaults)."""

    name: str
    lr: float
    params: Mapping[str, Any] = field(default_factory=dict)
    warmup: Warmup | None = None

    # -- construction -----------------------------------------------------------------------------------
    @classmethod
    def create(cls, name: str, lr: float | None = None, params: Mapping[str, Any] | None = None,
               warmup: Warmup | Mapping[str, Any] | None = None) -> ScheduleConfig:
        """Validate `params` against the schedule's declaration, fill defaults, and return the config."""
        spec = get_spec(name)
        where = spec.name
        resolved = resolve(spec.params, params or {}, where)
        if spec.check is not None:
            spec.check(resolved, where)
        lr_value = LR_PARAM.check(LR_PARAM.default if lr is None else lr, where)
        return cls(spec.name, lr_value, resolved, _warmup(spec, warmup))

    @classmethod
    def from_flat(cls, name: str, values: Mapping[str, Any]) -> ScheduleConfig:
        """Build from one flat mapping of `lr`, the schedule's parameters and the `warmup*` keys."""
        spec = get_spec(name)
        values = dict(values)
        lr = values.pop("lr", None)
        generic = _warmup_keys(spec)
        warmup_values = {k: values.pop(k) for k in list(values) if k in generic}
        for key in values:
            if key not in spec.params:
                raise unknown_name(f"parameter for {spec.name}", key, ["lr", *spec.params, *_warmup_keys(spec)])
        warmup = {_FLAT_WARMUP[k]: v for k, v in warmup_values.items()}
        warmup.setdefault("kind", "none")
        return cls.create(spec.name, lr, values, warmup if warmup_values else None)

    def with_settings(self, settings: Mapping[str, Any]) -> ScheduleConfig:
        """A copy with some flat settings changed (see `from_flat`); a warmup length or start without a warmup
        kind is an error rather than a setting that does nothing."""
        config = ScheduleConfig.from_flat(self.name, {**self.flat(), **settings})
        shaping = sorted({"warmup_frac", "warmup_start_factor"} & set(settings))
        if shaping and config.warmup is None and not config.spec.includes_warmup:
            raise InvalidValueError(f"{', '.join(shaping)} shapes a warmup, but {self.name} has none here; add "
                                    f"warmup=linear or warmup=constant")
        return config

    # -- views --------------------------------------------------------------------------------------------
    @property
    def spec(self) -> ScheduleSpec:
        """The registry entry of this schedule."""
        return get_spec(self.name)

    @property
    def family(self) -> str:
        """The schedule's family (constant, piecewise, smooth, cyclical, warmup)."""
        return self.spec.family

    def flat(self) -> dict[str, Any]:
        """`lr`, the parameters and (for schedules without a built-in warmup) the warmup keys, in one dict."""
        out: dict[str, Any] = {"lr": self.lr, **self.params}
        if not self.spec.includes_warmup:
            w = self.warmup
            out.update(warmup=w.kind if w else "none",
                       warmup_frac=w.frac if w else WARMUP_PARAMS["warmup_frac"].default,
                       warmup_start_factor=w.start_factor if w else 0.0)
        return out

    # -- evaluation ---------------------------------------------------------------------------------------
    def multipliers(self, steps: np.ndarray | Sequence[int] | int, total_steps: int) -> np.ndarray:
        """The LR multiplier at each step of a `total_steps` budget (plateau reductions not included)."""
        if int(total_steps) < 1:
            raise InvalidValueError(f"total_steps must be at least 1, got {total_steps}")
        t = np.asarray(steps, dtype=np.float64)
        if np.any(t < 0):
            raise InvalidValueError("steps must be non-negative")
        spec, params = self.spec, self.params
        if self.warmup is None:
            return spec.multiplier(t, total_steps, params)
        w = self.warmup
        return apply_warmup(lambda tm, Tm: spec.multiplier(tm, Tm, params), t, int(total_steps),
                            steps_of(w.frac, total_steps), w.kind, w.start_factor)

    def lrs(self, steps: np.ndarray | Sequence[int] | int, total_steps: int) -> np.ndarray:
        """The learning rate at each step (initial LR times the multiplier)."""
        return self.lr * self.multipliers(steps, total_steps)

    def warmup_steps(self, total_steps: int) -> int:
        """Steps of the generic warmup prefix (0 without one)."""
        return steps_of(self.warmup.frac, total_steps) if self.warmup else 0

    def plateau_tracker(self) -> PlateauTracker | None:
        """A fresh metric tracker for the loss-based schedule, None for the others."""
        return PlateauTracker.from_params(self.params) if self.spec.metric_driven else None

    # -- serialisation ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data: name, family, lr, params, warmup (None or kind/frac/start_factor)."""
        warmup = None if self.warmup is None else {
            "kind": self.warmup.kind, "frac": self.warmup.frac, "start_factor": self.warmup.start_factor}
        return {"name": self.name, "family": self.family, "lr": self.lr, "params": dict(self.params),
                "warmup": warmup}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScheduleConfig:
        """Inverse of `to_dict` (validates; `family`, if present, must match the schedule's)."""
        if not isinstance(data, Mapping) or "name" not in data:
            raise InvalidValueError("a schedule config needs at least a 'name', e.g. {\"name\": \"cosine\"}")
        extra = set(data) - {"name", "family", "lr", "params", "warmup"}
        if extra:
            raise InvalidValueError(f"unknown schedule config keys: {', '.join(sorted(extra))}")
        config = cls.create(str(data["name"]), data.get("lr"), data.get("params") or {}, data.get("warmup"))
        if data.get("family") not in (None, config.family):
            raise InvalidValueError(f"{config.name} is in family {config.family}, not {data['family']}")
        return config

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> ScheduleConfig:
        """Parse `to_json` output (or any JSON object of that shape)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidValueError(f"schedule config is not valid JSON: {exc}") from None
        return cls.from_dict(data)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON: equal configs share it (the store's key)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()


def with_shared_settings(names: Sequence[str], settings: Mapping[str, Any]) -> list[ScheduleConfig]:
    """Each named schedule's default config with those of `settings` it takes (a warmup length or start only
    where it has a warmup); a setting that no schedule takes is an error."""
    configs: list[ScheduleConfig] = []
    used: set[str] = set()
    for name in names:
        base = ScheduleConfig.create(name)
        warmed = "warmup" in settings or base.spec.includes_warmup  # warmup_frac shapes only a warmup that exists
        accepted = {k: v for k, v in settings.items()
                    if k in base.flat() and (warmed or k not in ("warmup_frac", "warmup_start_factor"))}
        used.update(accepted)
        configs.append(base.with_settings(accepted))
    unused = set(settings) - used
    if unused:
        raise InvalidValueError(f"no schedule among {', '.join(names)} has parameter(s) {', '.join(sorted(unused))}"
                                f"; see `lrrec schedules show NAME` for each one's parameters")
    return configs


_FLAT_WARMUP = {"warmup": "kind", "warmup_frac": "frac", "warmup_start_factor": "start_factor"}


def _warmup_keys(spec: ScheduleSpec) -> list[str]:
    return [] if spec.includes_warmup else list(WARMUP_PARAMS)


def _warmup(spec: ScheduleSpec, warmup: Warmup | Mapping[str, Any] | None) -> Warmup | None:
    if warmup is None:
        return None
    if spec.includes_warmup:
        raise InvalidValueError(f"{spec.name} includes its own warmup; set its warmup_frac instead")
    if isinstance(warmup, Warmup):
        warmup = {"kind": warmup.kind, "frac": warmup.frac, "start_factor": warmup.start_factor}
    if not isinstance(warmup, Mapping) or set(warmup) - {"kind", "frac", "start_factor"}:
        raise InvalidValueError("warmup must be an object with kind, frac and start_factor")
    given = {"kind": "linear", **warmup}
    filled = resolve(WARMUP_PARAMS, {flat: given[key] for flat, key in _FLAT_WARMUP.items() if key in given},
                     spec.name)
    if filled["warmup"] == "none":
        return None
    return Warmup(filled["warmup"], filled["warmup_frac"], filled["warmup_start_factor"])

