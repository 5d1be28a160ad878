"""Optimizer classes as lrrec reasons about them (torch-free): an LR means something only within its class."""

from __future__ import annotations

from functools import lru_cache

DEFAULT_LR = {"sgd": 0.1, "adam": 1e-3}  # lrrec's stated LRs where nothing else speaks, at batch size 128


@lru_cache(maxsize=256)
def optimizer_class(name: str | None) -> str:
    """'adam' for the Adam family (AdamW, RAdam, NAdam, AMSGrad, Adamax ...), else 'sgd'."""
    return "adam" if name and "adam" in name.lower() else "sgd"
