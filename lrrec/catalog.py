"""Named datasets and models: fingerprints without the data on disk (`--dataset cifar100 --model wrn`).

Torch-free, so `lrrec suggest` stays fast. The tables live in `lrrec.catalog_models`: model figures MEASURED with
`lrrec.runners.measure` (parameters, forward FLOPs of one sample counted as 2 x multiply-adds, weight layers) at
each model's reference input and class count (`scripts/measure_catalog_models.py` prints them;
`tests/test_catalog.py` re-measures some), or STATED by a cited source. A feature neither gives stays None.
"""

from __future__ import annotations

import math
from itertools import pairwise

from lrrec.catalog_models import ALIASES, DATASETS, MODELS, VARIANTS, DatasetFacts, ModelFacts
from lrrec.errors import unknown_name
from lrrec.fingerprint import TaskFingerprint

__all__ = ["ALIASES", "DATASETS", "MLP_HIDDEN", "MODELS", "VARIANTS", "DatasetFacts", "ModelFacts", "canonical",
           "catalog_fingerprint", "model_facts"]

MLP_HIDDEN = (128, 128)


def canonical(name: str) -> str:
    """Lower-case catalog key, aliases resolved."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


def model_facts(dataset: str, model: str) -> ModelFacts:
    """The facts of `model` as it is used on `dataset` (both canonical keys): `VARIANTS` first."""
    return MODELS[VARIANTS.get((dataset, model), model)]


def _mlp_facts(inputs: int, classes: int) -> tuple[int, float, int]:
    widths = [inputs, *MLP_HIDDEN, classes]
    macs = sum(a * b for a, b in pairwise(widths))
    params = macs + sum(widths[1:])
    return params, 2.0 * macs, len(widths) - 1


def _area(shape: tuple[int, ...]) -> int:
    return shape[-1] * (shape[-2] if len(shape) > 2 else 1)


def _sized(m: ModelFacts, ds: DatasetFacts) -> tuple[int | None, float | None]:
    """Parameters and FLOPs of `m` on `ds`: a classifier's head resized to the dataset's classes, FLOPs scaled with
    the input area; None where that needs a fact neither table has."""
    params, flops = m.n_params, m.forward_flops
    head_in, classes = m.head_in or 0, m.ref_classes or 0  # 0: no head to resize
    if head_in and classes and ds.n_classes != classes:
        if ds.n_classes is None:  # a classifier on a task without a class count: its head is unknown
            return None, None
        if params is not None:
            params += (ds.n_classes - classes) * (head_in + int(m.head_bias))
        classes, m_classes = ds.n_classes, classes
    else:
        m_classes = classes
    if flops is not None:
        if m.ref_area is not None and ds.input_shape is None:
            return params, None
        body = flops - 2.0 * head_in * m_classes
        if m.ref_area is not None and ds.input_shape is not None:
            body = body * _area(ds.input_shape) / m.ref_area
        flops = body + 2.0 * head_in * classes
    return params, flops


def catalog_fingerprint(dataset: str, model: str) -> TaskFingerprint:
    """The fingerprint of a named dataset + model, from catalog facts alone; what the catalog does not know about
    either (an unstated parameter count, a dataset without a fixed input shape) is left None."""
    ds_key, model_key = canonical(dataset), canonical(model)
    if ds_key not in DATASETS:
        raise unknown_name("dataset", dataset, [*DATASETS, *(a for a, key in ALIASES.items() if key in DATASETS)])
    if model_key not in MODELS and model_key != "mlp":
        raise unknown_name("model", model, [*MODELS, "mlp", *(a for a, key in ALIASES.items() if key in MODELS)])
    ds = DATASETS[ds_key]
    numel = None if ds.input_shape is None else math.prod(ds.input_shape)
    params: int | None
    flops: float | None
    depth: int | None
    norm: bool | None
    residual: bool | None
    if model_key == "mlp":
        params = flops = depth = None
        if numel is not None and ds.n_classes is not None:
            params, flops, depth = _mlp_facts(numel, ds.n_classes)
        norm = residual = False
    else:
        m = model_facts(ds_key, model_key)
        params, flops = _sized(m, ds)
        depth, norm, residual = m.depth, m.has_norm, m.has_residual
    return TaskFingerprint(name=f"{ds_key}/{model_key}", dataset=ds_key, model=model_key, task_kind=ds.task_kind,
                           n_train=ds.n_train, n_classes=ds.n_classes, input_numel=numel,
                           input_shape=None if ds.input_shape is None else list(ds.input_shape),
                           class_balance=ds.class_balance, n_params=params, forward_flops=flops, depth=depth,
                           has_norm=norm, has_residual=residual)
