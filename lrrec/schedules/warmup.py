"""Warmup, written once, as a prefix that composes with any schedule (the loss-based one included).

During the first `w` steps the LR ramps towards the main schedule's first value; from step `w` on, the main
schedule runs on its own clock `t - w` over the remaining budget `T - w` (the HF / optax / timm-prefix
convention, so the peak is always reached). Fractions inside the main schedule refer to that remaining budget.
"""

from __future__ import annotations

from collections.abc import Callable

from lrrec.errors import InvalidValueError
from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import choice, real

WARMUP_KINDS: tuple[str, ...] = ("linear", "constant")

# The warmup's own parameters, as the config and the tuner see them ("none" turns warmup off).
WARMUP_PARAMS = {
    "warmup": choice("warmup", "none", "warmup prefix: none, linear ramp, or constant low LR",
                     ("none", *WARMUP_KINDS)),
    "warmup_frac": real("warmup_frac", 0.05, "warmup length as a fraction of the budget", valid=(0.0, 1.0),
                        search=(0.01, 0.2), log=True, open_low=True, open_high=True,
                        condition=("warmup", WARMUP_KINDS)),
    "warmup_start_factor": real("warmup_start_factor", 0.0, "LR at step 0 as a fraction of the peak",
                                valid=(0.0, 1.0), search=(0.0, 0.5), condition=("warmup", WARMUP_KINDS)),
}

MainSchedule = Callable[["np.ndarray", int], "np.ndarray"]


def apply_warmup(main: MainSchedule, t: np.ndarray, total_steps: int, warmup_steps: int, kind: str,
                 start_factor: float) -> np.ndarray:
    """Multipliers of `main` with a `kind` warmup of `warmup_steps` steps starting at `start_factor`."""
    if warmup_steps <= 0:
        return main(t, total_steps)
    if warmup_steps >= total_steps:
        raise InvalidValueError(
            f"warmup of {warmup_steps} steps leaves nothing of a {total_steps}-step budget; shorten the warmup"
        )
    main_total = total_steps - warmup_steps
    after = main(np.maximum(t - warmup_steps, 0.0), main_total)
    peak = float(main(np.zeros(1), main_total)[0])
    if kind == "linear":
        ramp = start_factor + (1.0 - start_factor) * t / warmup_steps
    elif kind == "constant":
        ramp = np.full_like(t, start_factor)
    else:
        raise InvalidValueError(f"unknown warmup kind {kind!r}; use one of {', '.join(WARMUP_KINDS)}")
    return np.where(t < warmup_steps, peak * ramp, after)
