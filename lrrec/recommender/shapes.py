"""Schedule shapes: what a schedule does over the budget, the unit lrrec ranks and is judged on.

lrrec's families (constant, piecewise, smooth, cyclical, warmup) group schedules by their formula; a shape groups
them by their effect: cosine with or without a warmup is one shape, SGDR with a single cycle is cosine, linear
decay and step decay differ. The fixed expert order is the baseline `lrrec evaluate` compares against.
"""

from __future__ import annotations

import json
from typing import Any

SHAPE_OF: dict[str, str] = {
    "constant": "constant", "constant_warmup": "constant", "linear_warmup": "constant",
    "step": "step", "multistep": "step", "plateau": "step",
    "linear": "linear", "polynomial": "linear",
    "cosine": "cosine", "warmup_cosine": "cosine", "cosine_power": "cosine", "linear_cosine": "cosine",
    "wsd": "wsd", "trapezoid": "wsd",
    "rex": "rex", "htd": "htd", "one_cycle": "one_cycle", "stlr": "one_cycle",
    "exponential": "exponential", "inverse_time": "exponential", "inverse_sqrt": "inverse_sqrt", "noam": "inverse_sqrt",
    "tri": "cyclic", "tri2": "cyclic", "triexp": "cyclic", "sin": "cyclic", "sin2": "cyclic", "sinexp": "cyclic",
    "espnet": "cyclic", "sgdr": "restarts", "ssgdr": "restarts",
}
# A practitioner's order without looking at the task (rank 1 first; equal ranks tie): schedules that decay to
# zero first (cosine, linear, WSD), then other decays, then step, constant, and cycles / restarts last.
EXPERT_RANK: dict[str, int] = {
    "cosine": 1, "linear": 1, "wsd": 1, "rex": 2, "htd": 2, "one_cycle": 2, "exponential": 3, "inverse_sqrt": 3,
    "step": 4, "constant": 5, "cyclic": 6, "restarts": 6,
}


def shape_of(schedule: str, params: Any = None) -> str:
    """The shape of a schedule config (`params` as a dict or its JSON); unknown names are their own shape."""
    values = json.loads(params) if isinstance(params, str) else params or {}
    if schedule in ("sgdr", "ssgdr") and float(values.get("t0_frac", 0.0)) >= 1.0:
        return "cosine"  # one cycle spanning the budget: no restart happens
    return SHAPE_OF.get(schedule, schedule)
# the config lrrec suggests for a shape it knows only from its prior (default parameters)
SHAPE_DEFAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "cosine": ("cosine", {}), "linear": ("linear", {}), "wsd": ("wsd", {}), "rex": ("rex", {}), "htd": ("htd", {}),
    "one_cycle": ("one_cycle", {}), "exponential": ("exponential", {}), "inverse_sqrt": ("inverse_sqrt", {}),
    "step": ("multistep", {}), "constant": ("constant", {}), "cyclic": ("tri", {}), "restarts": ("sgdr", {}),
}
