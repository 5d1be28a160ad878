"""PyTorch Lightning with `LrrecCallback`: an MLP on scikit-learn's digits, trained under lrrec's top suggestion
(or --schedule) and recorded epoch by epoch with the task's fingerprint.

    python examples/lightning_digits.py --store runs.duckdb --schedule cosine --epochs 5
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

from lrrec.hooks.lightning import LrrecCallback


class DigitsMLP(pl.LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(64, 96), torch.nn.ReLU(), torch.nn.Linear(96, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", torch.nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)  # LrrecCallback sets the schedule


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
    pl.seed_everything(0, verbose=False)
    train, val = digits_loaders()
    callback = LrrecCallback(name="mydigits/lightning-mlp96", schedule=args.schedule, metric="val_acc",
                             store=args.store)
    trainer = pl.Trainer(max_epochs=args.epochs, callbacks=[callback], accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(DigitsMLP(lr=0.1), train, val)
    assert callback.run is not None and callback.config is not None
    print(f"{callback.run.status}: {callback.config.name} at lr {callback.config.lr:g}, run {callback.run.run_id}")


if __name__ == "__main__":
    main()
