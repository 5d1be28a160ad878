"""Task similarity over fingerprints: a Gaussian kernel on scaled, mostly logarithmic features.

Each feature has its own length scale (how far apart two tasks may be in it and still count as alike); the
scales are settings of the model (`ModelSettings.length_scales`), selected by `scripts/fit_model.py` on
leave-one-task-out over lrrec's own experience. A feature one task lacks is unknown, never a match: it adds
`missing` (in squared scale units) to the distance, unless both tasks are the same dataset and model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from lrrec.fingerprint import TaskFingerprint

TRANSFORMS = {
    "n_train": lambda v: math.log10(v + 1), "n_classes": lambda v: math.log10(v + 1),
    "input_numel": lambda v: math.log10(v + 1), "n_params": lambda v: math.log10(v + 1),
    "forward_flops": lambda v: math.log10(v + 1), "depth": lambda v: math.log10(v + 1),
    "has_norm": float, "has_residual": float,
}
# one length scale of difference counts as distance 1 (decades for the logarithmic features)
LENGTH_SCALES: dict[str, float] = {"n_train": 0.5, "n_classes": 1.0, "input_numel": 1.0, "n_params": 2.0,
                                   "forward_flops": 1.0, "depth": 0.5, "has_norm": 1.0, "has_residual": 1.0}
KIND_DISTANCE = 10.0  # a surface and a network never count as similar
BANDWIDTH = 0.75
MISSING = 1.0  # squared distance added for a feature one of the two tasks lacks


def features(task: TaskFingerprint, scales: Mapping[str, float] = LENGTH_SCALES) -> dict[str, float]:
    """The scaled numeric features a fingerprint has (missing ones are left out)."""
    out = {}
    for name, transform in TRANSFORMS.items():
        value = getattr(task, name)
        if value is not None:
            out[name] = transform(value) / scales[name]
    return out


def similarity(a: TaskFingerprint, b: TaskFingerprint, bandwidth: float = BANDWIDTH,
               scales: Mapping[str, float] = LENGTH_SCALES, missing: float = MISSING) -> float:
    """exp(-d^2 / 2h^2) with d^2 the squared scaled distance over the features, `missing` for each unknown one."""
    if a.task_kind != b.task_kind:
        return math.exp(-(KIND_DISTANCE**2) / (2 * bandwidth**2))
    fa, fb = features(a, scales), features(b, scales)
    same_task = (a.dataset, a.model) == (b.dataset, b.model)
    d2 = sum((fa[k] - fb[k]) ** 2 for k in fa.keys() & fb.keys())
    d2 += 0.0 if same_task else missing * len(TRANSFORMS.keys() - (fa.keys() & fb.keys()))
    if a.task_kind == "surface":
        d2 += 0.0 if a.model == b.model else 1.0  # different surfaces: related, not the same
    return math.exp(-d2 / (2 * bandwidth**2))
