"""The Hugging Face Trainer with `LrrecTrainerCallback`: a tiny BERT (built from a config, nothing downloaded)
classifying scikit-learn's digits read as a [CLS] token and 64 pixel tokens, recorded at each epoch's evaluation.

    python examples/hf_trainer_digits.py --store runs.duckdb --schedule cosine --epochs 3 --out /tmp/hf-digits
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch.utils.data import Dataset
from transformers import BertConfig, BertForSequenceClassification, EvalPrediction, Trainer, TrainingArguments

from lrrec.hooks.hf_trainer import LrrecTrainerCallback
from lrrec.schedules import ScheduleConfig


class DigitTokens(Dataset):
    """Each 8x8 digit as a [CLS] token (17) and 64 tokens (its pixel values 0..16), with its class as the label."""

    def __init__(self, pixels: np.ndarray, labels: np.ndarray) -> None:
        self.ids = torch.tensor(np.hstack([np.full((len(pixels), 1), 17), pixels]), dtype=torch.long)
        self.labels = torch.tensor(labels, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def accuracy(prediction: EvalPrediction) -> dict[str, float]:
    logits, labels = prediction.predictions, prediction.label_ids
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default=None, help="experience store (default: $LRREC_STORE or the user's)")
    parser.add_argument("--schedule", default=None, help="a schedule name (default: lrrec's top suggestion)")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", default="hf-digits", help="the Trainer's output folder")
    parser.add_argument("--train-size", type=int, default=1400, help="training samples (the rest validate)")
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    cut = args.train_size
    if not 0 < cut <= 1400:
        parser.error("--train-size must be 1..1400 (the samples from 1400 on validate)")
    train, val = DigitTokens(x[order[:cut]], y[order[:cut]]), DigitTokens(x[order[1400:]], y[order[1400:]])
    torch.manual_seed(0)
    config = BertConfig(vocab_size=18, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=65, num_labels=10)
    model = BertForSequenceClassification(config)
    schedule = ScheduleConfig.create(args.schedule, lr=args.lr) if args.schedule else None
    callback = LrrecTrainerCallback(name="mydigits/bert-tiny", schedule=schedule, metric="eval_accuracy",
                                    store=args.store)
    training = TrainingArguments(output_dir=args.out, num_train_epochs=args.epochs, learning_rate=args.lr,
                                 per_device_train_batch_size=32, per_device_eval_batch_size=256,
                                 eval_strategy="epoch", logging_strategy="epoch", save_strategy="no",
                                 report_to="none", use_cpu=True, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=training, train_dataset=train, eval_dataset=val, compute_metrics=accuracy,
                      callbacks=[callback])
    with callback.recording():  # a crash is recorded as failed, Ctrl-C as interrupted
        trainer.train()
    assert callback.run is not None and callback.config is not None
    print(f"{callback.run.status}: {callback.config.name} at lr {callback.config.lr:g}, run {callback.run.run_id}")


if __name__ == "__main__":
    main()
