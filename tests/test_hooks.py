"""The hooks on real libraries: the examples' plain loop, Lightning `Trainer.fit` and HF `Trainer.train` train tiny
models on scikit-learn's digits, record their epochs, and the next `lrrec.suggest` sees their runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import lrrec
from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules import ScheduleConfig
from lrrec.store.store import open_store

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(script: str, *args: str) -> str:
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                         cwd=EXAMPLES.parent)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def user_task(store: Path, name: str) -> TaskFingerprint:
    (row,) = [t for t in open_store(store).tasks() if t["name"] == name]
    return TaskFingerprint.from_stored(row["fingerprint"])


def check_recorded_and_suggested(store: Path, name: str, epochs: int, metric: str, optimizer: str = "sgd") -> None:
    """Two finished runs with a point per epoch; the next suggestion for the task rests on them."""
    runs = [r for r in open_store(store).runs(source="user") if r["task"] == name]
    assert len(runs) == 2 and {r["status"] for r in runs} == {"finished"} and {r["metric_name"] for r in runs} == {
        metric}
    for run in runs:
        curve = open_store(store).curves(run["run_id"])
        assert [round(p["epoch"]) for p in curve] == list(range(1, epochs + 1))
        assert all(p["lr"] is not None and p["train_loss"] is not None and p["val_metric"] is not None
                   for p in curve)
    after = lrrec.suggest(user_task(store, name), store=store, epochs=epochs, optimizer=optimizer)
    assert after.nearest_tasks[0]["task"] == name and after.nearest_tasks[0]["similarity"] == 1.0
    assert after.best.evidence[0]["task"] == name


def test_the_plain_loop_example_records_and_changes_the_next_suggestion(tmp_path):
    store = tmp_path / "s.duckdb"
    first = run_example("plain_loop.py", "--store", str(store), "--epochs", "3")
    assert "training under lrrec's top suggestion" in first and "finished" in first
    before = lrrec.suggest(user_task(store, "mydigits/mlp96"), store=store, epochs=3)
    assert before.nearest_tasks[0]["task"] != "mydigits/mlp96"  # one run compares nothing yet
    run_example("plain_loop.py", "--store", str(store), "--epochs", "3", "--schedule", "constant")
    check_recorded_and_suggested(store, "mydigits/mlp96", 3, "val_accuracy")


def test_the_lightning_example_records_its_epochs_under_the_installed_schedule(tmp_path):
    store = tmp_path / "s.duckdb"
    for schedule in ("cosine", "step"):  # 0.922 and 0.882 validation accuracy: two outcomes to compare
        assert "finished: " + schedule in run_example("lightning_digits.py", "--store", str(store), "--epochs", "3",
                                                        "--schedule", schedule)
    check_recorded_and_suggested(store, "mydigits/lightning-mlp96", 3, "val_acc")
    (cosine,) = [r for r in open_store(store).runs(source="user") if r["schedule"] == "cosine"]
    lrs = [p["lr"] for p in open_store(store).curves(cosine["run_id"])]
    assert lrs[0] > lrs[1] > lrs[2] and lrs[2] < 1e-3  # the cosine's last update is near zero


def test_the_hf_trainer_example_records_each_evaluation(tmp_path):
    store = tmp_path / "s.duckdb"
    for schedule in ("cosine", "step"):
        out = run_example("hf_trainer_digits.py", "--store", str(store), "--epochs", "2", "--schedule", schedule,
                          "--out", str(tmp_path / "out"), "--train-size", "480")
        assert "finished: " + schedule in out
    check_recorded_and_suggested(store, "mydigits/bert-tiny", 2, "eval_accuracy", optimizer="adamw")
    (row,) = [t for t in open_store(store).tasks() if t["name"] == "mydigits/bert-tiny"]
    assert (row["n_train"], row["n_classes"], row["has_norm"], row["has_residual"]) == (480, 10, True, True)
    assert {r["optimizer"] for r in open_store(store).runs(source="user")} == {"adamw"}  # accelerate's wrapper seen through


def _lightning_example():
    spec = importlib.util.spec_from_file_location("lightning_digits", EXAMPLES / "lightning_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_failing_lightning_fit_is_recorded_failed_and_a_second_scheduler_is_refused(tmp_path):
    import lightning.pytorch as pl

    from lrrec.hooks.lightning import LrrecCallback

    example = _lightning_example()
    train, val = example.digits_loaders()

    class Failing(example.DigitsMLP):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 1:
                raise RuntimeError("out of memory, say")
            return super().training_step(batch, batch_idx)

    class WithScheduler(example.DigitsMLP):
        def configure_optimizers(self):
            optimizer = super().configure_optimizers()
            return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 1)}

    def fit(module, callback) -> None:
        trainer = pl.Trainer(max_epochs=3, callbacks=[callback], accelerator="cpu", logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
        trainer.fit(module, train, val)

    store = tmp_path / "s.duckdb"
    callback = LrrecCallback(name="mydigits/failing", schedule="cosine", metric="val_acc", store=store)
    with pytest.raises(RuntimeError, match="out of memory, say"):
        fit(Failing(lr=0.1), callback)
    (run,) = open_store(store).runs(source="user")
    assert run["status"] == "failed" and "out of memory, say" in run["notes"]
    assert len(open_store(store).curves(run["run_id"])) == 1  # the epoch it finished
    with pytest.raises(InvalidValueError, match="return only the optimizer from configure_optimizers"):
        fit(WithScheduler(lr=0.1), LrrecCallback(name="mydigits/two", schedule="cosine", store=store))


def test_a_crashing_hf_train_inside_recording_is_recorded_failed(tmp_path):
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    from lrrec.hooks.hf_trainer import LrrecTrainerCallback

    spec = importlib.util.spec_from_file_location("hf_trainer_digits", EXAMPLES / "hf_trainer_digits.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    x, y = example.load_digits(return_X_y=True)
    data = example.DigitTokens(x[:96], y[:96])

    class Crashing(Trainer):
        def compute_loss(self, model, inputs, *args, **kwargs):
            if model.training and self.state.epoch >= 1:  # in the second epoch's training
                raise RuntimeError("disk full, say")
            return super().compute_loss(model, inputs, *args, **kwargs)

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=18, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=1, intermediate_size=32,
                                                     max_position_embeddings=65, num_labels=10))
    callback = LrrecTrainerCallback(name="mydigits/bert-crash", schedule=ScheduleConfig.create("cosine", lr=5e-3),
                                    store=tmp_path / "s.duckdb")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), num_train_epochs=2, learning_rate=5e-3,
                             per_device_train_batch_size=32, eval_strategy="epoch", save_strategy="no",
                             report_to="none", use_cpu=True, disable_tqdm=True)
    trainer = Crashing(model=model, args=args, train_dataset=data, eval_dataset=data, callbacks=[callback])
    with pytest.raises(RuntimeError, match="disk full, say"), callback.recording():
        trainer.train()
    (run,) = open_store(tmp_path / "s.duckdb").runs(source="user")
    assert run["status"] == "failed" and "disk full, say" in run["notes"]
    assert len(open_store(tmp_path / "s.duckdb").curves(run["run_id"])) == 1  # the first epoch's evaluation

