"""MLflow both ways, against a real `mlflow server` this module starts on localhost (and stops): foreign runs
from real training on digits ingest (parameters -> settings, metric histories -> curves, statuses mapped), once;
lrrec's runs export and come back as themselves; a bad run or an unreachable server is a one-line error and
the store is unchanged."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import mlflow
import pytest
import torch
from click.testing import CliRunner
from tiny_data import digits_loaders, mlp, train_digits_mlp

import lrrec
from lrrec.cli import cli
from lrrec.store.store import open_store

EPOCHS = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A tracking server on a free localhost port, ready once its /health answers; stopped afterwards."""
    folder = tmp_path_factory.mktemp("mlflow")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(folder / "server.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port",
                                    str(port), "--workers", "1", "--backend-store-uri",
                                    f"sqlite:///{folder / 'mlflow.db'}", "--default-artifact-root",
                                    str(folder / "artifacts")], stdout=subprocess.DEVNULL, stderr=log, cwd=folder)
        uri = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:  # wait for the server to answer (or to die), polling
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                assert time.monotonic() < deadline, "mlflow server did not answer within 180 s"
                time.sleep(0.2)
        yield uri
        process.terminate()
        process.wait(timeout=60)


def log_foreign_run(client, experiment_id: str, schedule: str, lr: float, status: str = "FINISHED") -> float:
    """Train the digits MLP and log it as an MLflow user does: parameters, a metric per epoch, a status."""
    run = client.create_run(experiment_id, run_name=f"mlp {schedule}")
    for key, value in {"schedule": schedule, "learning_rate": lr, "task": "mydigits/mlp64", "batch_size": 64,
                       "epochs": EPOCHS, "momentum": 0.9, "optimizer": "sgd", "hidden": 64}.items():
        client.log_param(run.info.run_id, key, value)
    for epoch, lr_at, loss, logits, y in train_digits_mlp(schedule, lr, EPOCHS):
        client.log_metric(run.info.run_id, "lr", lr_at, step=epoch)
        accuracy = (logits.argmax(1) == y).float().mean().item()
        client.log_metric(run.info.run_id, "train_loss", loss, step=epoch)
        client.log_metric(run.info.run_id, "val_accuracy", accuracy, step=epoch)
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status=status)
    return accuracy


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_foreign_runs_ingest_once_and_lrrec_runs_round_trip(server, tmp_path):
    client = mlflow.tracking.MlflowClient(server)
    experiment = client.create_experiment("digits")
    finals = {s: log_foreign_run(client, experiment, s, lr) for s, lr in (("cosine", 0.1), ("step", 0.05))}
    log_foreign_run(client, experiment, "constant", 0.01, status="KILLED")
    log_foreign_run(client, experiment, "constant", 0.02, status="RUNNING")  # not ended: not a run yet
    store = tmp_path / "s.duckdb"
    report = json.loads(invoke("ingest", server, "--store", str(store), "--json").output)
    assert (report["added"], report["files"][0]["format"]) == (3, "mlflow")
    runs = {(r["schedule"], r["status"]): r for r in open_store(store).runs(source="mlflow")}
    assert set(runs) == {("cosine", "finished"), ("step", "finished"), ("constant", "interrupted")}
    cosine = runs["cosine", "finished"]
    assert cosine["final_metric"] == pytest.approx(finals["cosine"]) and cosine["task"] == "mydigits/mlp64"
    assert (cosine["batch_size"], cosine["epochs"], json.loads(cosine["optimizer_params"])) == (64, 3, {"momentum": 0.9})
    assert json.loads(cosine["schedule_config"])["lr"] == 0.1
    assert json.loads(cosine["extra"])["unmapped_params"] == {"hidden": 64}
    curve = open_store(store).curves(cosine["run_id"])
    assert [p["step"] for p in curve] == [0, 1, 2] and curve[0]["lr"] == pytest.approx(0.1)
    assert all(p["train_loss"] > 0 and p["val_metric"] > 0 for p in curve)
    again = json.loads(invoke("ingest", server, "--store", str(store), "--json").output)
    assert (again["added"], again["duplicates"]) == (0, 3)

    # lrrec's own run goes out to the server, once, and comes back as itself
    train, val = digits_loaders()
    model = mlp(64, 32, 10)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with lrrec.track(model, train, optimizer, epochs=2, schedule="cosine", name="mydigits/mlp32",
                     store=store) as run:
        for epoch in range(2):
            run.log_epoch(train_loss=1.0 / (epoch + 1), val_loss=0.9 / (epoch + 1), val_accuracy=0.5 + epoch / 10)
    out = invoke("store", "export", server, "--format", "mlflow", "--source", "user", "--store", str(store))
    assert out.exit_code == 0 and out.output.strip().startswith("logged 1 runs into MLflow experiment lrrec")
    assert invoke("store", "export", server, "--format", "mlflow", "--source", "user", "--store",
                  str(store)).output.startswith("logged 0 runs")  # exported before: skipped
    assert json.loads(invoke("ingest", server, "--store", str(store), "--json").output)["added"] == 0
    fresh = tmp_path / "fresh.duckdb"
    assert json.loads(invoke("ingest", server, "--store", str(fresh), "--json").output)["added"] == 4
    (back,) = [r for r in open_store(fresh).runs() if r["run_id"] == run.run_id]
    (original,) = [r for r in open_store(store).runs() if r["run_id"] == run.run_id]
    assert {k: back[k] for k in ("task", "schedule_config", "final_metric", "status", "source", "metric_name")} == {
        k: original[k] for k in ("task", "schedule_config", "final_metric", "status", "source", "metric_name")}
    strip = [{k: p[k] for k in ("step", "epoch", "lr", "train_loss", "val_loss", "val_metric")}
             for p in open_store(store).curves(run.run_id)]
    assert [{k: p[k] for k in strip[0]} for p in open_store(fresh).curves(run.run_id)] == strip

    # a run that names no schedule stops the whole ingest, naming it; the store is unchanged
    bad = client.create_run(experiment, run_name="unnamed")
    client.log_metric(bad.info.run_id, "val_accuracy", 0.5, step=0)
    client.set_terminated(bad.info.run_id)
    before = open_store(store).info().runs
    result = invoke("ingest", server, "--store", str(store))
    assert result.exit_code == 1 and f"{server}#digits/unnamed: no schedule in its settings" in result.output
    assert open_store(store).info().runs == before


def test_an_unreachable_server_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    result = invoke("ingest", f"http://127.0.0.1:{port}", "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert result.output.startswith(f"Error: http://127.0.0.1:{port}: not a reachable MLflow tracking store")
    assert not (tmp_path / "s.duckdb").exists()


def test_an_mlruns_folder_ingests_through_the_client(tmp_path, monkeypatch):
    """MLflow's file store (`mlruns/`, which MLflow 3 writes only when allowed) is read as a server is."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # to write one here
    client = mlflow.tracking.MlflowClient(str(tmp_path / "mlruns"))
    final = log_foreign_run(client, client.create_experiment("digits"), "cosine", 0.1)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")  # reading needs no setting from the user
    store = tmp_path / "s.duckdb"
    report = json.loads(invoke("ingest", str(tmp_path / "mlruns"), "--store", str(store), "--json").output)
    assert (report["added"], report["files"][0]["format"]) == (1, "mlflow")
    (run,) = open_store(store).runs(source="mlflow")
    assert run["final_metric"] == pytest.approx(final) and len(open_store(store).curves(run["run_id"])) == EPOCHS


def test_export_logs_into_an_existing_mlruns_folder_once(tmp_path, monkeypatch):
    """An `mlruns` folder that exists already (a user's own file store) takes the export; a second export of the
    same runs logs none again, and a file export into a folder is a one-line error."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlruns = tmp_path / "mlruns"
    client = mlflow.tracking.MlflowClient(str(mlruns))
    log_foreign_run(client, client.create_experiment("digits"), "cosine", 0.1)
    store = str(tmp_path / "s.duckdb")
    logged = len(open_store(store).runs(source="literature"))  # a new store: the bundled literature results
    source = ["--source", "literature", "--store", store]
    first = invoke("store", "export", str(mlruns), "--format", "mlflow", *source)
    assert first.exit_code == 0 and f"logged {logged} runs" in first.output
    again = invoke("store", "export", str(mlruns), "--format", "mlflow", *source)
    assert again.exit_code == 0 and "logged 0 runs" in again.output
    assert client.get_experiment_by_name("digits") is not None
    (tmp_path / "runs.csv").mkdir()
    result = invoke("store", "export", str(tmp_path / "runs.csv"), "--store", store)
    assert result.exit_code == 1 and "runs.csv is a folder: name the file to write" in result.output
