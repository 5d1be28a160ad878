"""`lrrec.fingerprint_of` on a torchvision ResNet-18 at 224x224, against one forward pass of one sample measured in
the same run (the issue's bar: well under a second; it runs one forward pass with FLOPs counted).

Synthetic images (the figure is about speed). Run: python benchmarks/bench_fingerprint.py
"""

from __future__ import annotations

import time

import torch
import torchvision
from torch.utils.data import DataLoader, TensorDataset

import lrrec


def main(repeats: int = 5) -> None:
    images = TensorDataset(torch.rand(64, 3, 224, 224), torch.arange(64) % 10)
    model = torchvision.models.resnet18(num_classes=10)
    loader = DataLoader(images, batch_size=32)
    began = time.perf_counter()
    lrrec.fingerprint_of(model, loader)
    first = time.perf_counter() - began  # sets up FLOP counting once per process
    took, forward = float("inf"), float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        lrrec.fingerprint_of(model, loader)
        took = min(took, time.perf_counter() - began)
        began = time.perf_counter()
        with torch.no_grad():
            model.eval()(images[0][0].unsqueeze(0))
        forward = min(forward, time.perf_counter() - began)
    print(f"fingerprint_of, ResNet-18 at 224x224: {took:.3f} s (first call in the process {first:.2f} s); "
          f"one forward pass of one sample {forward:.3f} s; ratio {took / forward:.2f}x")


if __name__ == "__main__":
    main()
