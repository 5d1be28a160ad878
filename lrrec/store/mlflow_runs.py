"""MLflow, both ways, through the mlflow client: `lrrec ingest URI` reads every ended run of a tracking server
(`http(s)://`) or an `mlruns` folder; `lrrec store export --format mlflow URI` logs lrrec's runs into one.

A foreign run's parameters are its settings and its metric histories its series (see `scalar_runs`; the task
defaults to the experiment's and run's names); its status maps (FINISHED, FAILED, KILLED: finished, failed,
interrupted; running ones are skipped). A run lrrec exported carries its interchange row in the `lrrec.row` tag
and comes back as exactly that run (same run id: re-ingesting it adds nothing).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lrrec.errors import IngestError, InvalidValueError, LrrecError, StoreError, brief
from lrrec.schedules import ScheduleConfig
from lrrec.store.scalar_runs import WHOLE_SETTINGS, Scalars, scalar_run_row

if TYPE_CHECKING:
    from lrrec.store.store import Store

ROW_TAG, ID_TAG = "lrrec.row", "lrrec.run_id"
_STATUS = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "interrupted"}
_BACK = {"finished": "FINISHED", "diverged": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
_SERIES = ("lr", "train_loss", "val_loss")
_MAX_TAG = 8000  # the longest tag value a tracking server keeps
_PAGE = 1000
_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"


def read_mlflow(uri: str) -> Iterator[tuple[str, Any]]:
    """Yield `(uri#experiment/run, interchange row)` for every ended run the tracking store holds."""
    with _mlflow_settings():
        yield from _read(uri)


_QUICK_FAILURE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


@contextlib.contextmanager
def _mlflow_settings() -> Iterator[None]:
    """While lrrec talks to MLflow, and only then: its file store allowed (MLflow 3 refuses to read or write an
    `mlruns` folder unless asked), and, unless the user set them, one retry and a 20 s timeout (MLflow retries an
    unreachable server for minutes by default)."""
    wanted = {**{k: v for k, v in _QUICK_FAILURE.items() if k not in os.environ}, _FILE_STORE: "true"}
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _read(uri: str) -> Iterator[tuple[str, Any]]:
    client = _client(uri)
    try:
        experiments = client.search_experiments()
    except Exception as exc:  # noqa: BLE001 - a foreign service: report it in one line, never crash
        raise IngestError(f"{uri}: not a reachable MLflow tracking store ({brief(exc)}); nothing was ingested"
                          ) from None
    for experiment in experiments:
        for run in _runs(client, experiment.experiment_id):
            status = _STATUS.get(run.info.status)
            if status is None:
                continue
            where = f"{uri}#{experiment.name}/{run.info.run_name or run.info.run_id}"
            try:
                yield where, mlflow_row(client, run, status, experiment.name)
            except LrrecError as exc:
                yield where, exc
            except (TypeError, ValueError, LookupError, AttributeError) as exc:  # a shape no check foresaw
                yield where, InvalidValueError(f"not a readable MLflow run ({brief(exc)})")


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise IngestError("MLflow needs the mlflow package: pip install 'lrrec[mlflow]'") from None
    return MlflowClient(tracking_uri=uri)


def _runs(client: Any, experiment_id: str) -> Iterator[Any]:
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=_PAGE, page_token=token)
        yield from page
        token = page.token
        if not token:
            return


def mlflow_row(client: Any, run: Any, status: str, experiment: str) -> dict[str, Any]:
    """One MLflow run as an interchange row."""
    series: Scalars = {key: [(int(m.step), float(m.value)) for m in client.get_metric_history(run.info.run_id, key)]
                       for key in run.data.metrics}
    own = run.data.tags.get(ROW_TAG)
    if own is not None:
        row = json.loads(own)
        return {**row, "curves": _own_curve(series, row["metric_name"]) or None}
    settings = {key: _parsed(key, value) for key, value in run.data.params.items()}
    row = scalar_run_row(series, settings, f"{experiment}/{run.info.run_name or run.info.run_id}".replace(" ", "-"),
                         "log it as a run parameter, e.g. mlflow.log_params({'schedule': 'cosine', 'lr': 0.1, "
                         "'task': 'mydata/mymodel'})")
    started, ended = run.info.start_time, run.info.end_time
    row.update(status="diverged" if status == "finished" and row["status"] == "diverged" else status,
               extra={**row["extra"], "mlflow_run_id": run.info.run_id, "mlflow_experiment": experiment},
               created_at=_time(started), wall_time_s=(ended - started) / 1000 if started and ended else None)
    return {k: v for k, v in row.items() if v is not None}


def _parsed(key: str, text: str) -> Any:
    """A parameter's value: MLflow keeps text, so numbers, flags and JSON are read back."""
    try:
        value = json.loads(text)
    except ValueError:
        return {"True": True, "False": False}.get(text, text)
    if isinstance(value, float) and key in WHOLE_SETTINGS and value.is_integer():
        return int(value)
    return value


def _time(ms: int | None) -> str | None:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") if ms else None


def _own_curve(series: Scalars, metric: str) -> list[dict[str, Any]]:
    """The curve of a run lrrec exported (a point per MLflow step), from its `step`, `epoch`, LR, loss and metric
    histories."""
    by_key = {key: dict(values) for key, values in series.items()}
    columns = {**{key: key for key in _SERIES if key != metric}, metric: "val_metric", "epoch": "epoch"}
    points = []
    for place in sorted({step for values in series.values() for step, _ in values}):
        point: dict[str, Any] = {column: by_key[key][place] for key, column in columns.items()
                                 if place in by_key.get(key, {})}
        step = by_key.get("step", {}).get(place)
        points.append({**point, "step": None if step is None else int(step)})
    return points


def export_mlflow(store: Store, uri: str, experiment: str = "lrrec", source: str | None = None) -> int:
    """Log every ended run of `store` (of `source`, if given) into `experiment` at `uri` (a tracking server, or
    an `mlruns` folder); runs exported before are skipped. Returns how many were logged."""
    with _mlflow_settings():
        return _export(store, _client(uri), uri, experiment, source)


def _export(store: Store, client: Any, uri: str, experiment: str, source: str | None) -> int:
    try:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        done = {run.data.tags.get(ID_TAG) for run in _runs(client, experiment_id)}
    except Exception as exc:  # noqa: BLE001 - a foreign service: report it in one line, never crash
        raise StoreError(f"{uri}: cannot reach the MLflow tracking server ({brief(exc)}); nothing was exported"
                         ) from None
    logged = 0
    for row in store.export_rows(source):
        if row["status"] not in _BACK or row["run_id"] in done:
            continue
        _log_run(client, experiment_id, row)
        logged += 1
    return logged


def _metrics(row: Mapping[str, Any], started: int) -> list[Any]:
    """The run's curve as MLflow metrics, one per column and point (MLflow's step: the point's place)."""
    from mlflow.entities import Metric

    metric_key = {"lr": "lr", "train_loss": "train_loss", "val_loss": "val_loss", "val_metric": row["metric_name"],
                  "epoch": "epoch", "step": "step"}
    if row["metric_name"] == "val_loss":
        del metric_key["val_loss"]  # the metric itself
    return [Metric(metric_key[column], float(point[column]), started, i)
            for i, point in enumerate(row["curves"] or []) for column in metric_key if point.get(column) is not None]


def _log_run(client: Any, experiment_id: str, row: Mapping[str, Any]) -> None:
    from mlflow.entities import Param

    config = ScheduleConfig.from_dict(row["schedule"])
    started = int(datetime.fromisoformat(row["created_at"]).replace(tzinfo=timezone.utc).timestamp() * 1000)
    whole = {k: v for k, v in row.items() if k != "curves"}
    tags = {ID_TAG: row["run_id"], "lrrec.source": row["source"]}
    if len(text := json.dumps(whole, sort_keys=True, default=str)) <= _MAX_TAG:
        tags[ROW_TAG] = text  # else it comes back as a foreign run, by its parameters
    params = {"task": row["task"]["name"], "schedule": config.name, **config.flat(),
              **{k: row[k] for k in ("optimizer", "batch_size", "epochs", "seed") if row[k] is not None},
              **(row["optimizer_params"] or {})}
    metrics = _metrics(row, started)
    run = client.create_run(experiment_id, start_time=started, tags=tags,
                            run_name=f"{row['task']['name']} {config.name} lr {config.lr:g}")
    client.log_batch(run.info.run_id, params=[Param(str(k), json.dumps(v) if isinstance(v, (dict, list)) else str(v))
                                              for k, v in params.items()])
    for start in range(0, len(metrics), _PAGE):  # a batch holds at most 1000 metric values
        client.log_batch(run.info.run_id, metrics=metrics[start:start + _PAGE])
    ended = started + int((row["wall_time_s"] or 0) * 1000)
    with contextlib.redirect_stdout(io.StringIO()):  # mlflow prints each run's URL on stdout, which is ours
        client.set_terminated(run.info.run_id, status=_BACK[row["status"]], end_time=ended)
