"""lrrec: a learning-rate schedule recommender for deep-network training.

Importing this package is cheap: it loads no torch, optuna, scikit-learn or duckdb. The user API loads what it
needs on first use: `lrrec.fingerprint_of` (torch), `lrrec.suggest`, `lrrec.lr_find` (torch), `lrrec.track`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {"fingerprint_of": "lrrec.runners.measure_loader", "suggest": "lrrec.suggestions",
         "lr_find": "lrrec.runners.lr_find", "track": "lrrec.hooks.loop"}
__all__ = ["__version__", "fingerprint_of", "lr_find", "suggest", "track"]

if TYPE_CHECKING:
    from lrrec.hooks.loop import track
    from lrrec.runners.lr_find import lr_find
    from lrrec.runners.measure_loader import fingerprint_of
    from lrrec.suggestions import suggest


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'lrrec' has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
