"""Step and epoch units: the one place where fractions of a budget and epochs become optimizer steps.

Every schedule is a function of the 0-based optimizer step `t` (the update that uses this LR) and the budget
`T` in steps. Durations inside a schedule are fractions of its budget, so one config transfers across budgets.
"""

from __future__ import annotations

import math

import numpy as np


def steps_of(fraction: float, total_steps: int, minimum: int = 0) -> int:
    """`fraction` of `total_steps`, rounded to the nearest step (halves up), at least `minimum`."""
    return max(minimum, math.floor(fraction * total_steps + 0.5))


def epoch_clock(steps: np.ndarray, steps_per_epoch: int) -> np.ndarray:
    """Map optimizer steps to epoch indices, for schedules stepped once per epoch (budget `T` in epochs)."""
    return np.floor_divide(np.asarray(steps, dtype=np.int64), int(steps_per_epoch)).astype(np.float64)
