"""Hypothesis settings for the property and fuzz tests: the same inputs on every run, unless asked to explore.

By default each fuzz test is derandomized (its inputs follow from its source code), so CI and every checkout try
the same inputs and a red run is a change to lrrec or the test, never a new random find. To look for new bugs:

    LRREC_FUZZ=explore LRREC_FUZZ_EXAMPLES=10 pytest tests/test_ingest_fuzz.py tests/test_ingest_properties.py

`LRREC_FUZZ=explore` draws fresh random inputs each run (`--hypothesis-seed=N` repeats one run);
`LRREC_FUZZ_EXAMPLES=K` runs K times each test's examples (any mode). Pin what exploring finds as an `@example`.
"""

from __future__ import annotations

import os

from hypothesis import settings

MODES = ("", "explore")


def _mode() -> str:
    mode = os.environ.get("LRREC_FUZZ", "")
    if mode not in MODES:
        raise ValueError(f"LRREC_FUZZ={mode!r}: expected 'explore' or nothing")
    return mode


def _scale() -> float:
    text = os.environ.get("LRREC_FUZZ_EXAMPLES", "1")
    try:
        scale = float(text)
    except ValueError:
        scale = 0.0
    if not scale > 0:
        raise ValueError(f"LRREC_FUZZ_EXAMPLES={text!r}: expected a positive number (a multiplier)")
    return scale


EXPLORE = _mode() == "explore"
SCALE = _scale()


def fuzz_settings(max_examples: int, **options: object) -> settings:
    """Hypothesis settings with `max_examples` times LRREC_FUZZ_EXAMPLES, derandomized unless exploring."""
    return settings(max_examples=max(1, round(max_examples * SCALE)), derandomize=not EXPLORE, **options)
