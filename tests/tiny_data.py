"""Tiny real data sets as torch loaders (scikit-learn's bundled digits and diabetes, no download)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, TensorDataset


def digits_loaders(batch_size: int = 64) -> tuple[DataLoader, DataLoader]:
    """Digits (8x8 images as 64 features, 10 classes): train and validation loaders."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return _split(torch.tensor(x, dtype=torch.float32) / 16, torch.tensor(y), batch_size)


def diabetes_loaders(batch_size: int = 32) -> tuple[DataLoader, DataLoader]:
    """Diabetes (10 features, a standardised real target): train and validation loaders, a regression task."""
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    target = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32).unsqueeze(1)
    return _split(torch.tensor(x / x.std(0), dtype=torch.float32), target, batch_size)


def _split(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[DataLoader, DataLoader]:
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    cut = int(0.8 * len(x))
    train, val = order[:cut], order[cut:]
    return (DataLoader(TensorDataset(x[train], y[train]), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0)),
            DataLoader(TensorDataset(x[val], y[val]), batch_size=256))


def train_digits_mlp(schedule: str, lr: float, epochs: int) -> Iterator[tuple[int, float, float, torch.Tensor,
                                                                               torch.Tensor]]:
    """Train a 64-64-10 MLP on digits (SGD, momentum 0.9, seed 0) under `schedule` as a user's loop does; after
    each epoch yields (epoch, the LR it started at, its last training loss, validation logits, validation labels)."""
    from lrrec.schedules import ScheduleConfig
    from lrrec.schedules.torch_adapter import make_scheduler

    torch.manual_seed(0)
    train, val = digits_loaders()
    model = mlp(64, 64, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = make_scheduler(optimizer, ScheduleConfig.create(schedule, lr=lr), epochs * len(train))
    for epoch in range(epochs):
        started_at = optimizer.param_groups[0]["lr"]
        for x, y in train:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        with torch.no_grad():
            x, y = next(iter(val))
            logits = model(x)
        yield epoch, started_at, loss.item(), logits, y


def mlp(inputs: int, hidden: int, outputs: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(inputs, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, outputs))
