"""Measure the catalog's models (lrrec/catalog_models.py, MODELS) and print their ModelFacts lines.

Every figure comes from `lrrec.runners.measure.model_features` on a freshly built model at its reference input
and class count: parameters, forward FLOPs of one sample (2 x multiply-adds), weight layers (Linear/Conv). The
CIFAR ResNets, pre-activation ResNets, DenseNet-BC, CaffeNet and GoogLeNet are built here from the papers'
definitions (not from anyone's code); WRNs are lrrec's own `WideResNet`; ResNet-18/50/101 and ViT-B/16 are
torchvision's (random init, nothing downloaded). Run from the repository root (CPU, about a minute):

    python scripts/measure_catalog_models.py [NAME ...]
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from lrrec.runners.measure import model_features
from lrrec.runners.models import CifarResNet18, WideResNet

CIFAR, IMAGENET = (3, 32, 32), (3, 224, 224)


class CifarResNet(nn.Module):
    """He et al. 2016 (arXiv 1512.03385, Sec. 4.2): 3x3 conv(16), three stages of n basic blocks with 16/32/64
    filters (stride 2 into stages 2 and 3), global average pool, linear: 6n+2 weight layers. Shortcuts are
    identity, with the stride-2 ones subsampled and zero-padded to the new width ("option A": no parameters).
    `conv_bias` adds conv biases as in the Torch code of the stochastic-depth network (Huang et al. 2016)."""

    has_norm = True
    has_residual = True

    def __init__(self, depth: int, n_classes: int, conv_bias: bool = False) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=conv_bias), nn.BatchNorm2d(16), nn.ReLU())
        blocks: list[nn.Module] = []
        cin = 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(n):
                blocks.append(_PostActBlock(cin, width, 2 if stage and i == 0 else 1, conv_bias))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)).mean((2, 3)))


class _PostActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, bias: bool) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias), nn.BatchNorm2d(cout)
        self.stride, self.pad = stride, cout - cin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        skip = x[:, :, ::self.stride, ::self.stride]
        if self.pad:
            skip = F.pad(skip, (0, 0, 0, 0, 0, self.pad))
        return torch.relu(out + skip)


class PreActResNet(nn.Module):
    """He et al. 2016b (arXiv 1603.05027): the CIFAR ResNet with BN-ReLU-conv residual units, a 1x1 projection
    shortcut (on the pre-activated input) where the width or stride changes, and a final BN-ReLU before the pool.
    `head_bias=False` matches BIGBALLON/HTD's Keras ResNet (Dense with use_bias=False)."""

    has_norm = True
    has_residual = True

    def __init__(self, depth: int, n_classes: int, head_bias: bool = True) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"pre-activation CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False)]
        cin = 16
        for stage, width in enumerate((16, 32, 64)):
            for i in range(n):
                layers.append(_PreActBlock(cin, width, 2 if stage and i == 0 else 1))
                cin = width
        layers += [nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(64, n_classes, bias=head_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.proj = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(pre))))
        return out + (x if self.proj is None else self.proj(pre))


class DenseNetBC(nn.Module):
    """Huang et al. 2017 (arXiv 1608.06993, Sec. 3-4): DenseNet-BC-L-k for CIFAR. 3x3 conv(2k), three dense blocks
    of (L-4)/6 bottleneck layers (BN-ReLU-1x1 conv(4k)-BN-ReLU-3x3 conv(k), concatenated), transitions
    BN-ReLU-1x1 conv (compression 0.5)-2x2 average pool, final BN-ReLU, global pool, linear."""

    has_norm = True
    has_residual = False  # concatenation, no additive shortcut

    def __init__(self, depth: int, growth: int, n_classes: int) -> None:
        super().__init__()
        n = (depth - 4) // 6
        width = 2 * growth
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False)]
        for block in range(3):
            for _ in range(n):
                layers.append(_DenseLayer(width, growth))
                width += growth
            if block < 2:
                layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width // 2, 1, bias=False),
                           nn.AvgPool2d(2)]
                width //= 2
        layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


class _DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                 nn.BatchNorm2d(4 * growth), nn.ReLU(),
                                 nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.net(x)], 1)


class CaffeNet(nn.Module):
    """AlexNet as in Krizhevsky et al. 2012 / Caffe's bvlc_reference_caffenet (227x227 crops): conv 96 11x11/4,
    256 5x5 (2 groups), 384 3x3, 384 3x3 (2 groups), 256 3x3 (2 groups), max pools 3/2 after conv 1, 2, 5,
    LRN, fc 4096-4096-classes. Caffe's variant swaps pooling and LRN; neither has parameters."""

    has_norm = False  # LRN only: not a normalisation layer in lrrec's sense (BatchNorm/LayerNorm/GroupNorm)
    has_residual = False

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        lrn = nn.LocalResponseNorm(5, 1e-4, 0.75)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2), lrn,
            nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2), lrn,
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(256 * 6 * 6, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                                        nn.Linear(4096, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


# Szegedy et al. 2015 (arXiv 1409.4842) Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj
_INCEPTION = {"3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
              "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
              "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128),
              "5b": (384, 192, 384, 48, 128, 128)}


class _Inception(nn.Module):
    def __init__(self, cin: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool: int) -> None:
        super().__init__()
        relu = nn.ReLU()
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), relu)
        self.b3 = nn.Sequential(nn.Conv2d(cin, r3, 1), relu, nn.Conv2d(r3, c3, 3, padding=1), relu)
        self.b5 = nn.Sequential(nn.Conv2d(cin, r5, 1), relu, nn.Conv2d(r5, c5, 5, padding=2), relu)
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, pool, 1), relu)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class GoogLeNet(nn.Module):
    """GoogLeNet of Szegedy et al. 2015, Table 1 (conv biases, LRN, no batch norm), without the two auxiliary
    classifiers (training-only heads) and dropout."""

    has_norm = False
    has_residual = False

    def __init__(self, n_classes: int) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, 64, 7, 2, 3), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(5),
            nn.Conv2d(64, 64, 1), nn.ReLU(), nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(), nn.LocalResponseNorm(5),
            nn.MaxPool2d(3, 2, ceil_mode=True)]
        cin = 192
        for name, widths in _INCEPTION.items():
            if name in ("4a", "5a"):
                layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            layers.append(_Inception(cin, *widths))
            cin = widths[0] + widths[2] + widths[4] + widths[5]
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def torchvision(name: str, n_classes: int) -> nn.Module:
    import torchvision

    model = getattr(torchvision.models, name)(weights=None, num_classes=n_classes)
    model.has_residual = True  # ResNets and ViT
    return model


def features(model: nn.Module, input_shape: tuple[int, ...]) -> dict:
    """`model_features`, plus one weight layer per attention block whose fused q/k/v projection is a bare
    parameter (torch's nn.MultiheadAttention.in_proj_weight), which `model_features` counts as none. Attention's
    inference fast path and CPU flash kernel (fused ops the FLOP counter does not know) are switched off so that
    its FLOPs are counted."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    torch.backends.mha.set_fastpath_enabled(False)
    with sdpa_kernel(SDPBackend.MATH):
        out = model_features(model, input_shape)
    out["depth"] += sum(1 for m in model.modules() if isinstance(m, nn.MultiheadAttention))
    return out


# catalog key -> (builder of the reference-class-count model, reference input, reference classes)
BUILDERS: dict[str, tuple[Callable[[int], nn.Module], tuple[int, ...], int]] = {
    **{f"wrn-{d}-{k}": ((lambda c, d=d, k=k: WideResNet(d, k, c)), CIFAR, 10)
       for d, k in ((16, 4), (16, 8), (28, 10), (28, 20), (52, 1))},
    **{f"resnet-{d}": ((lambda c, d=d: CifarResNet(d, c)), CIFAR, 10) for d in (20, 32, 44, 56, 110)},
    "stochastic-depth": (lambda c: CifarResNet(110, c, conv_bias=True), CIFAR, 10),
    **{f"preresnet-{d}": ((lambda c, d=d: PreActResNet(d, c)), CIFAR, 10) for d in (20, 56, 110)},
    "resnet-50-cifar": (lambda c: PreActResNet(50, c, head_bias=False), CIFAR, 10),
    "densenet-bc-100-12": (lambda c: DenseNetBC(100, 12, c), CIFAR, 10),
    "resnet-18": (CifarResNet18, CIFAR, 10),
    "resnet-18-imagenet": (lambda c: torchvision("resnet18", c), IMAGENET, 1000),
    "resnet-50": (lambda c: torchvision("resnet50", c), IMAGENET, 1000),
    "resnet-101": (lambda c: torchvision("resnet101", c), IMAGENET, 1000),
    "alexnet": (CaffeNet, (3, 227, 227), 1000),
    "googlenet": (GoogLeNet, IMAGENET, 1000),
    "efficientnet-b0": (lambda c: torchvision("efficientnet_b0", c), IMAGENET, 1000),
    "vit-b-16": (lambda c: torchvision("vit_b_16", c), IMAGENET, 1000),
}


def head_of(model: nn.Module) -> nn.Linear:
    """The final linear layer (the one whose width depends on the class count)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)][-1]


def facts_line(name: str) -> str:
    make, shape, classes = BUILDERS[name]
    torch.manual_seed(0)
    model = make(classes)
    f = features(model, shape)
    head = head_of(model)
    norm, residual = f["has_norm"], bool(getattr(model, "has_residual", False))
    bias = "" if head.bias is not None else ", head_bias=False"
    return (f'    "{name}": ModelFacts({f["n_params"]:_}, {f["forward_flops"]:_.1f}, {f["depth"]}, {norm}, {residual}, '
            f"{head.in_features}, {classes}, {shape[-2]} * {shape[-1]}{bias}),")


def main(names: list[str]) -> None:
    torch.set_num_threads(max(1, min(4, torch.get_num_threads())))
    for name in names or list(BUILDERS):
        print(facts_line(name), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
