"""The loss-based schedule's state machine (reduce on plateau), torch-free.

Semantics follow torch's `ReduceLROnPlateau`: a metric improves when it beats the best by the threshold
(relative or absolute); after strictly more than `patience` evaluations without improvement the scale is
multiplied by `factor` (never below `min_lr_ratio`), then `cooldown` evaluations pass with the counter held at 0.
The scale is a multiplier of the LR, so per-group base LRs keep their ratios; `eps` is compared on that scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lrrec.errors import InvalidValueError


@dataclass
class PlateauTracker:
    """Feeds metrics one evaluation at a time and keeps the current LR scale."""

    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_lr_ratio: float = 0.0
    eps: float = 1e-8
    scale: float = 1.0
    best: float | None = None
    num_bad: int = 0
    cooldown_left: int = 0

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> PlateauTracker:
        """A fresh tracker for a `plateau` config's parameters."""
        keys = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr_ratio", "eps")
        return cls(**{k: params[k] for k in keys})

    def _improves(self, value: float) -> bool:
        if self.best is None:
            return True
        margin = self.threshold * abs(self.best) if self.threshold_mode == "rel" else self.threshold
        return value < self.best - margin if self.mode == "min" else value > self.best + margin

    def update(self, metric: float) -> float:
        """Record one evaluation of the metric; return the scale to use from now on."""
        value = float(metric)
        if not math.isfinite(value):
            raise InvalidValueError(f"plateau metric must be finite, got {metric!r}")
        if self._improves(value):
            self.best = value
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            reduced = max(self.scale * self.factor, self.min_lr_ratio)
            if self.scale - reduced > self.eps:
                self.scale = reduced
            self.cooldown_left = self.cooldown
            self.num_bad = 0
        return self.scale

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly."""
        return asdict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from `state_dict()`."""
        for key, value in state.items():
            setattr(self, key, value)


def scales_for(params: Mapping[str, Any], metrics: Iterable[float]) -> list[float]:
    """The scale before the first metric and after each one (len(metrics) + 1 values)."""
    tracker = PlateauTracker.from_params(params)
    return [tracker.scale] + [tracker.update(m) for m in metrics]
