"""A plain PyTorch loop recorded by `lrrec.track`: an MLP on scikit-learn's digits, under lrrec's top suggestion
(or --schedule), every epoch stored with the task's fingerprint; the next `lrrec.suggest` learns from it.

    python examples/plain_loop.py --store runs.duckdb --schedule cosine --epochs 5
"""

from __future__ import annotations

import argparse

import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

import lrrec
from lrrec.schedules import ScheduleConfig


def digits_loaders() -> tuple[DataLoader, DataLoader]:
    x, y = load_digits(return_X_y=True)
    x, y = torch.tensor(x, dtype=torch.float32) / 16, torch.tensor(y)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    train, val = order[:1400], order[1400:]
    return (DataLoader(TensorDataset(x[train], y[train]), batch_size=64, shuffle=True),
            DataLoader(TensorDataset(x[val], y[val]), batch_size=512))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="experience store (default: $LRREC_STORE or the user's)")
    parser.add_argument("--schedule", default=None, help="a schedule name (default: lrrec's top suggestion)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    train, val = digits_loaders()
    model = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 10))
    if args.schedule is None:
        best = lrrec.suggest(model=model, train_loader=train, name="mydigits/mlp96", epochs=args.epochs,
                             store=args.store).best
        print(f"training under lrrec's top suggestion: {best.config.name} at lr {best.lr:g}")
        schedule = best.config
    else:
        schedule = ScheduleConfig.create(args.schedule, lr=0.1)
    optimizer = torch.optim.SGD(model.parameters(), lr=schedule.lr, momentum=0.9)  # at the schedule's peak LR
    with lrrec.track(model, train, optimizer, epochs=args.epochs, schedule=schedule, name="mydigits/mlp96",
                     store=args.store) as run:
        for _ in range(args.epochs):
            model.train()
            for x, y in train:
                loss = torch.nn.functional.cross_entropy(model(x), y)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.scheduler.step()
            model.eval()
            with torch.no_grad():
                x, y = next(iter(val))
                logits = model(x)
            run.log_epoch(train_loss=loss.item(), val_loss=torch.nn.functional.cross_entropy(logits, y).item(),
                          val_accuracy=(logits.argmax(1) == y).float().mean().item())
    print(f"{run.status}: run {run.run_id}, {run.epoch} epochs recorded")


if __name__ == "__main__":
    main()
