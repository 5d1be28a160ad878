"""The cited literature corpus (`lrrec/data/literature/*.csv`, one file per source) as interchange rows.

Each CSV row is one published outcome (columns: `lrrec/data/literature/README.md`). It becomes a run of source
"literature" whose task carries the source and table in `extra` ({"source": key, "table": ...}), so rows are
compared only with rows of the same paper and table, and a whole paper can be held out (`lrrec evaluate`). The
spread, run count, `proposed_by_source` flag, what was imputed and how it was verified travel in the run's
`extra` and `notes`. A row's `created_at` is January 1 of its source's year, so every store holds identical rows.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

from lrrec.errors import IngestError, LrrecError
from lrrec.optimizers import DEFAULT_LR, optimizer_class
from lrrec.store.interchange import RowParser, RunRecord

COLUMNS = ("source_key", "source_ref", "table", "dataset", "model", "optimizer", "weight_decay", "batch_size",
           "epochs", "steps", "schedule", "schedule_params", "lr", "metric_name", "direction", "value", "spread",
           "spread_kind", "n_runs", "proposed_by_source", "imputed", "verified", "notes")


def _number(text: str) -> float | None:
    return float(text) if text.strip() else None


def _count(text: str) -> int | None:
    value = _number(text)
    return None if value is None else round(value)


def _year(ref: str) -> int:
    years = [int(y) for y in re.findall(r"\b(19[89]\d|20[0-4]\d)\b", ref)]
    return max(years) if years else 2000


def _lr(row: dict[str, str], optimizer: str) -> tuple[float, list[str]]:
    """The row's LR (lrrec's default for the optimizer class when unstated) and what was imputed, that included."""
    imputed = [row["imputed"]] if row["imputed"].strip() else []
    lr = _number(row["lr"])
    if lr is None:
        lr = DEFAULT_LR[optimizer_class(optimizer)]
        imputed.append(f"lr: not stated; lrrec's default {lr:g} stands in")
    return lr, imputed


def interchange_row(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row as an interchange row (validated afterwards by `RowParser`)."""
    epochs = _number(row["epochs"])
    whole_epochs = epochs is not None and epochs >= 1 and float(epochs).is_integer()
    optimizer = row["optimizer"].strip().lower()
    lr, imputed = _lr(row, optimizer)
    weight_decay = _number(row["weight_decay"])
    extra = {"spread": _number(row["spread"]), "spread_kind": row["spread_kind"] or None,
             "n_runs": _count(row["n_runs"]), "proposed_by_source": row["proposed_by_source"].strip() == "true",
             "imputed": "; ".join(imputed), "verified": row["verified"], "table": row["table"]}
    if epochs is not None and not whole_epochs:
        extra["epochs"] = epochs  # a fractional budget: kept here, the run column takes whole epochs
    notes = "; ".join(part for part in (row["notes"], f"imputed: {extra['imputed']}" if imputed else "") if part)
    return {
        "task": {"name": f"{row['dataset']}/{row['model']}", "dataset": row["dataset"], "model": row["model"],
                 "extra": {"source": row["source_key"], "table": row["table"]}},
        "schedule": row["schedule"], "lr": lr, "schedule_params": json.loads(row["schedule_params"] or "{}"),
        "optimizer": optimizer, "optimizer_params": {} if weight_decay is None else {"weight_decay": weight_decay},
        "batch_size": _count(row["batch_size"]), "epochs": int(epochs) if whole_epochs and epochs else None,
        "steps": _count(row["steps"]), "status": "finished", "metric_name": row["metric_name"],
        "direction": row["direction"], "final_metric": float(row["value"]), "best_metric": float(row["value"]),
        "source_ref": f"{row['source_ref']}, {row['table']}",
        "created_at": f"{_year(row['source_ref'])}-01-01T00:00:00",
        "notes": notes, "extra": extra,
    }


def csv_rows(name: str, text: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(file:line, row) for every row of one literature CSV; a file with other columns is refused."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise IngestError(f"bundled {name}: columns {reader.fieldnames} are not the literature columns {COLUMNS}")
    for row in reader:
        yield f"{name}:{reader.line_num}", row


def literature_records() -> list[RunRecord]:
    """Every row of every bundled literature CSV, validated (source "literature")."""
    folder = files("lrrec") / "data" / "literature"
    parser = RowParser("literature", source_override=True)
    records = []
    for resource in sorted(folder.iterdir(), key=lambda r: r.name):
        if not resource.name.endswith(".csv"):
            continue
        for where, row in csv_rows(resource.name, resource.read_text(encoding="utf-8")):
            try:
                records.append(parser.parse(interchange_row(row), where))
            except (LrrecError, ValueError, KeyError) as exc:  # a packaging bug, not user input
                raise IngestError(f"bundled {where}: {exc}") from None
    return records
