"""Task similarity over fingerprints: a Gaussian kernel on scaled, mostly logarithmic features."""

from __future__ import annotations

import math

from lrrec.fingerprint import TaskFingerprint

# (feature, transform, scale): one scale unit of difference counts as distance 1.
_FEATURES = (
    ("n_train", lambda v: math.log10(v + 1), 1.0),
    ("n_classes", lambda v: math.log10(v + 1), 1.0),
    ("input_numel", lambda v: math.log10(v + 1), 1.0),
    ("n_params", lambda v: math.log10(v + 1), 1.0),
    ("forward_flops", lambda v: math.log10(v + 1), 1.0),
    ("depth", lambda v: math.log10(v + 1), 0.5),
    ("has_norm", float, 1.0),
    ("has_residual", float, 1.0),
)
KIND_DISTANCE = 10.0  # a surface and a network never count as similar
BANDWIDTH = 0.75


def features(task: TaskFingerprint) -> dict[str, float]:
    """The transformed numeric features a fingerprint has (missing ones are left out)."""
    out = {}
    for name, transform, scale in _FEATURES:
        value = getattr(task, name)
        if value is not None:
            out[name] = transform(value) / scale
    return out


def similarity(a: TaskFingerprint, b: TaskFingerprint, bandwidth: float = BANDWIDTH) -> float:
    """exp(-d^2 / 2h^2) with d the feature distance, averaged over the features both tasks have."""
    if a.task_kind != b.task_kind:
        return math.exp(-(KIND_DISTANCE**2) / (2 * bandwidth**2))
    fa, fb = features(a), features(b)
    shared = fa.keys() & fb.keys()
    if not shared:
        return 0.0 if (a.dataset, a.model) != (b.dataset, b.model) else 1.0
    d2 = sum((fa[k] - fb[k]) ** 2 for k in shared) * len(_FEATURES) / len(shared)
    if a.task_kind == "surface":
        d2 += 0.0 if a.model == b.model else 1.0  # different surfaces: related, not the same
    return math.exp(-d2 / (2 * bandwidth**2))
