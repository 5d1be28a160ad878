"""`round_lr`: the precision of every LR lrrec states."""

from __future__ import annotations


def round_lr(lr: float) -> float:
    """`lr` to three significant figures (0.012345 -> 0.0123), as lrrec suggests it."""
    return float(f"{lr:.3g}")
