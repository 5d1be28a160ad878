"""`lrrec ingest` of TensorBoard logs written by torch's SummaryWriter while really training on digits: scalars
become curves, hparams settings; all or nothing, one-line errors naming the file and run, re-ingest adds nothing."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from tiny_data import train_digits_mlp
from torch.utils.tensorboard import SummaryWriter

from lrrec.cli import cli
from lrrec.store.store import open_store

EPOCHS = 3


def train_and_log(log_dir, schedule: str, lr: float, hparams: dict | None = None) -> float:
    """Train the digits MLP, logging per epoch as a TensorBoard user does; the final validation accuracy."""
    writer = SummaryWriter(str(log_dir))
    for epoch, lr_at, loss, logits, y in train_digits_mlp(schedule, lr, EPOCHS):
        writer.add_scalar("train/lr", lr_at, epoch)
        accuracy = (logits.argmax(1) == y).float().mean().item()
        writer.add_scalar("train/loss", loss, epoch)
        writer.add_scalar("val/loss", torch.nn.functional.cross_entropy(logits, y).item(), epoch)
        writer.add_scalar("val/accuracy", accuracy, epoch)
        writer.add_scalar("grad/norm", 1.0 + epoch, epoch)
    if hparams is not None:
        writer.add_hparams(hparams, {"hparam/val_accuracy": accuracy})
    writer.close()
    return accuracy


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb") / "digits-logs"
    finals = {}
    for schedule, lr in (("cosine", 0.1), ("step", 0.05)):
        finals[schedule] = train_and_log(root / schedule, schedule, lr, {
            "task": "mydigits/mlp64", "schedule": schedule, "lr": lr, "batch_size": 64, "epochs": EPOCHS,
            "momentum": 0.9, "optimizer": "sgd", "hidden": 64})
    return root, finals


def ingest(store, *paths: str):
    return CliRunner().invoke(cli, ["ingest", *paths, "--store", str(store), "--json"])


def test_a_log_folder_ingests_each_run_with_its_curve_and_settings_and_once(logs, tmp_path):
    root, finals = logs
    store = tmp_path / "s.duckdb"
    result = ingest(store, str(root))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["added"] == 2 and report["files"][0]["format"] == "tensorboard"
    runs = {r["schedule"]: r for r in open_store(store).runs(source="tensorboard")}
    assert set(runs) == {"cosine", "step"}
    cosine = runs["cosine"]
    assert (cosine["task"], cosine["metric_name"], cosine["direction"], cosine["status"]) == (
        "mydigits/mlp64", "val_accuracy", "max", "finished")
    assert cosine["final_metric"] == pytest.approx(finals["cosine"]) and cosine["epochs"] == EPOCHS
    assert (cosine["batch_size"], cosine["optimizer"], json.loads(cosine["optimizer_params"])) == (
        64, "sgd", {"momentum": 0.9})
    assert json.loads(cosine["schedule_config"])["lr"] == 0.1
    assert json.loads(cosine["extra"])["unmapped_params"] == {"hidden": 64}
    curve = open_store(store).curves(cosine["run_id"])
    assert [p["step"] for p in curve] == [0, 1, 2] and curve[0]["lr"] == pytest.approx(0.1)
    assert all(p["train_loss"] > 0 and p["val_loss"] > 0 and p["val_metric"] is not None for p in curve)
    assert json.loads(curve[2]["extra"]) == {"grad/norm": 3.0}
    again = json.loads(ingest(store, str(root)).output)
    assert (again["added"], again["duplicates"]) == (0, 2)  # the same runs: nothing new


def test_bad_logs_are_one_line_errors_naming_the_file_and_run_and_write_nothing(logs, tmp_path):
    root, _ = logs
    train_and_log(tmp_path / "plain" / "no-hparams", "cosine", 0.1)  # a run that never logged its schedule
    garbage = tmp_path / "broken" / "events.out.tfevents.1.host.1.0"
    garbage.parent.mkdir()
    garbage.write_bytes(b"\x00" * 7 + b"not a record" * 10)
    store = tmp_path / "s.duckdb"
    result = ingest(store, str(root), str(tmp_path / "plain"))
    assert result.exit_code == 1 and f"{tmp_path / 'plain'}#no-hparams: no schedule in its settings" in result.output
    result = ingest(store, str(root), str(garbage.parent))
    assert result.exit_code == 1 and result.output == f"Error: {garbage}: not a TensorBoard event file (no readable " \
        "record); nothing was ingested\n"
    (tmp_path / "empty").mkdir()
    result = ingest(store, str(tmp_path / "empty"))
    assert result.exit_code == 1 and "no TensorBoard event files (events.out.tfevents.*) in it" in result.output
    assert not store.exists()  # nothing was written, not even a new store
