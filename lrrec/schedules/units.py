"""Step and epoch units: the one place where fractions of a budget and epochs become optimizer steps.

Every schedule is a function of the 0-based optimizer step `t` (the update that uses this LR) and the budget
`T` in steps. Durations inside a schedule are fractions of its budget, so one config transfers across budgets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.schedules.lazy_numpy import np


def steps_of(fraction: float, total_steps: int, minimum: int = 0) -> int:
    """`fraction` of `total_steps`, rounded to the nearest step (halves up), at least `minimum`."""
    return max(minimum, math.floor(fraction * total_steps + 0.5))


def epoch_clock(steps: np.ndarray, steps_per_epoch: int) -> np.ndarray:
    """Map optimizer steps to epoch indices, for schedules stepped once per epoch (budget `T` in epochs)."""
    return np.floor_divide(np.asarray(steps, dtype=np.int64), int(steps_per_epoch)).astype(np.float64)


WARMUP_UNITS = {"warmup_steps": "steps", "warmup_epochs": "epochs"}


def warmup_as_fraction(settings: Mapping[str, Any], epochs: int, steps_per_epoch: int) -> dict[str, Any]:
    """`settings` with a warmup length given in optimizer steps (`warmup_steps`) or epochs (`warmup_epochs`)
    turned into the fraction of the budget it is (`warmup_frac`, what a config holds)."""
    given = [key for key in WARMUP_UNITS if key in settings]
    if not given:
        return dict(settings)
    if len(given) > 1 or "warmup_frac" in settings:
        raise InvalidValueError("give the warmup's length once: warmup_frac, warmup_steps or warmup_epochs")
    key = given[0]
    value = settings[key]
    total = epochs * steps_per_epoch if key == "warmup_steps" else epochs
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= total:
        raise InvalidValueError(f"{key} must be a number from 0 to the budget's {total} {WARMUP_UNITS[key]}, "
                                f"got {value!r}")
    out = {k: v for k, v in settings.items() if k != key}
    out["warmup_frac"] = value / total
    return out
