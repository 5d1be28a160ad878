"""Optuna studies: each trial becomes a run (storage URL, SQLite file or journal file, plus a study name).

lrrec's own studies carry study user attributes `lrrec.task`, `lrrec.metric`, `lrrec.budget` and (single
schedule) `lrrec.schedule`; their trial parameters are `ScheduleConfig.from_flat` keys, or `schedule` plus
`<schedule>.<key>` in a multi-schedule study, so they map exactly. Foreign studies need `schedule` and `task`
from the caller; their parameters are mapped by name (see `LR_ALIASES`, `OPTIMIZER_KEYS`), the rest kept in
`extra.unmapped_params`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lrrec.errors import IngestError, InvalidValueError, LrrecError, unknown_name
from lrrec.schedules import ScheduleConfig

LR_ALIASES = ("lr", "learning_rate", "learning-rate", "base_lr", "initial_lr")
OPTIMIZER_KEYS = ("momentum", "weight_decay", "nesterov", "beta1", "beta2", "betas", "eps", "epsilon", "dampening")
_STATUS = {"COMPLETE": "finished", "FAIL": "failed", "PRUNED": "interrupted"}  # RUNNING/WAITING: not runs yet


def read_optuna(target: str, study: str | None = None, schedule: str | None = None, task: str | None = None,
                metric: str | None = None) -> Iterator[tuple[str, Any]]:
    """Yield `(target#study/trial, interchange row)` for every finished, failed or pruned trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = _storage(target)
        names = optuna.study.get_all_study_names(storage)
    except LrrecError:
        raise
    except Exception as exc:  # noqa: BLE001 - a foreign library reading a foreign file: report, never crash
        hint = ("; Optuna would have to add its tables to it, and lrrec opens an SQLite file read-only"
                if "readonly database" in str(exc) else "")
        raise IngestError(f"{target}: not a readable Optuna storage ({_brief(exc)}){hint}; nothing was ingested"
                          ) from None
    if not names:
        raise IngestError(f"{target}: no Optuna study in it (not an Optuna storage, or an empty one)")
    if study is None:
        if len(names) != 1:
            raise IngestError(f"{target} holds {len(names)} studies ({', '.join(map(_label, names))}); "
                              f"pass --study NAME")
        study = names[0]
    if study not in names:
        raise IngestError(str(unknown_name(f"study in {target}", study, map(_label, names))))
    try:
        loaded = optuna.load_study(study_name=study, storage=storage)
        directions, attrs = loaded.directions, loaded.user_attrs
        trials = loaded.get_trials(deepcopy=False)
    except Exception as exc:  # noqa: BLE001 - a journal that replays into a study Optuna cannot load
        raise IngestError(f"{target}: study {_label(study)} is not readable ({_brief(exc)}); nothing was ingested"
                          ) from None
    if len(directions) != 1:
        raise IngestError(f"study {_label(study)} has {len(directions)} objectives; lrrec ingests "
                          f"single-objective studies")
    if "lrrec.sweep" in attrs:  # a distributed sweep: each completed cell carries its run's interchange row
        yield from ((_ref(target, study, t, i), t.user_attrs["lrrec.run"]) for i, t in enumerate(trials)
                    if t.state.name in ("COMPLETE", "PRUNED") and "lrrec.run" in t.user_attrs)
        return
    base = _study_fields(attrs, directions[0].name, schedule, task, metric)
    for position, trial in enumerate(trials):
        status = _STATUS.get(trial.state.name)
        if status is None:
            continue
        where = _ref(target, study, trial, position)
        if not _is_trial_number(trial.number):
            yield where, InvalidValueError(f"trial number {trial.number!r} is not a whole number "
                                           f"(a corrupt storage; the trial is named by its position)")
            continue
        try:
            yield where, _trial_row(trial, status, base, attrs.get("lrrec.schedule") or schedule,
                                    "lrrec.task" in attrs, study)
        except LrrecError as exc:
            yield where, exc
        except (TypeError, ValueError, LookupError, AttributeError, ArithmeticError, RuntimeError) as exc:
            yield where, InvalidValueError(f"not a readable trial ({_brief(exc)})")  # a shape no check foresaw


def _is_trial_number(number: Any) -> bool:
    return isinstance(number, int) and not isinstance(number, bool) and number >= 0


def _ref(target: str, study: str, trial: Any, position: int) -> str:
    """`target#study/number`: the trial's number, or its position in the study where the number is corrupt."""
    return f"{target}#{_label(study)}/{trial.number if _is_trial_number(trial.number) else position}"


def _label(name: Any) -> str:
    """A study name as it can stand in a one-line message (an empty name, or one with a line break, is quoted)."""
    return name if isinstance(name, str) and name.isprintable() and name else repr(name)


def _brief(exc: BaseException) -> str:
    """An exception as one short line (SQLAlchemy's messages run over several, with the SQL)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:200] if lines else ''}"


def _storage(target: str) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if "://" in target:
        if target.startswith("sqlite:///"):
            _check_optuna_sqlite(target, Path(target[len("sqlite:///"):]))
            return _read_only_sqlite(Path(target[len("sqlite:///"):]))
        return optuna.storages.RDBStorage(target)
    path = Path(target)
    if not path.is_file():
        raise IngestError(f"{target}: no such file")
    with open(path, "rb") as handle:
        if handle.read(16).startswith(b"SQLite format 3"):
            _check_optuna_sqlite(target, path)
            return _read_only_sqlite(path)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _read_only_sqlite(path: Path) -> Any:
    """Optuna's storage on an SQLite file opened read-only, by name: given a URL, Optuna would add its tables, a
    version row and an alembic stamp to a file that lacks them, and read `?` or `#` in the name as URL syntax."""
    import sqlite3

    import optuna

    uri = f"{path.resolve().as_uri()}?mode=ro"
    return optuna.storages.RDBStorage("sqlite://", engine_kwargs={
        "creator": lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)})


def _check_optuna_sqlite(target: str, path: Path) -> None:
    """Refuse, reading only, an SQLite file without Optuna's tables (Optuna would create them in it)."""
    import sqlite3

    if not path.is_file():
        raise IngestError(f"{target}: no such SQLite file")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise IngestError(f"{target}: not a readable SQLite file ({exc}); nothing was ingested") from None
    if not {"studies", "trials"} <= tables:
        raise IngestError(f"{target}: an SQLite database but not an Optuna storage (no studies/trials tables); "
                          f"nothing was read or written")


def _study_fields(attrs: Mapping[str, Any], direction: str, schedule: str | None, task: str | None,
                  metric: str | None) -> dict[str, Any]:
    """Row fields shared by every trial: task, metric, budget."""
    task_value = attrs.get("lrrec.task") or task
    if task_value is None:
        raise IngestError("this study has no lrrec.task attribute; pass --task DATASET/MODEL (or --dataset "
                          "and --model)")
    if "lrrec.schedule" not in attrs and schedule is None and not _is_multi(attrs):
        raise IngestError("this study has no lrrec.schedule attribute; pass --schedule NAME "
                          "(see `lrrec schedules list`)")
    metric_attr = attrs.get("lrrec.metric") or {}
    budget = attrs.get("lrrec.budget") or {}
    for key, value, example in (("lrrec.metric", metric_attr, '{"name": "val_accuracy", "direction": "max"}'),
                                ("lrrec.budget", budget, '{"epochs": 30}')):
        if not isinstance(value, Mapping):
            raise IngestError(f"study attribute {key} must be an object like {example}, got {repr(value)[:80]}")
    return {"task": task_value, "metric_name": metric_attr.get("name") or metric or "objective",
            "direction": metric_attr.get("direction") or ("max" if direction == "MAXIMIZE" else "min"),
            "epochs": budget.get("epochs"), "steps": budget.get("steps"), "batch_size": budget.get("batch_size"),
            "optimizer": budget.get("optimizer"), "optimizer_params": budget.get("optimizer_params")}


def _is_multi(attrs: Mapping[str, Any]) -> bool:
    return "lrrec.task" in attrs and "lrrec.schedule" not in attrs


def _trial_row(trial: Any, status: str, base: Mapping[str, Any], schedule: str | None, own: bool,
               study: str) -> dict[str, Any]:
    """One trial as an interchange row, fields without a value left out."""
    row = dict(base)
    name, flat, rest = _schedule_params(dict(trial.params), row, schedule, own)
    extra: dict[str, Any] = {"optuna_study": study, "optuna_trial": trial.number}
    if rest:
        extra["unmapped_params"] = rest
    if status == "finished" and trial.value is None:
        raise InvalidValueError("a complete trial without a value")
    started, completed = trial.datetime_start, trial.datetime_complete
    row.update(schedule=name, schedule_params=flat, status=status, extra=extra,
               final_metric=trial.value, seed=trial.user_attrs.get("lrrec.seed"),
               curves=_curve(trial.intermediate_values), created_at=started,
               wall_time_s=(completed - started).total_seconds() if started and completed else None)
    return {k: v for k, v in row.items() if v is not None}


def _curve(values: Mapping[int, float]) -> list[dict[str, Any]] | None:
    """A trial's reported values as curve points (a non-finite value as null), None if it reported none."""
    return [{"epoch": step, "val_metric": None if isinstance(value, float) and not math.isfinite(value) else value}
            for step, value in sorted(values.items())] or None


def _schedule_params(params: dict[str, Any], row: dict[str, Any], schedule: str | None,
                     own: bool) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A trial's schedule name, its `from_flat` parameters and the parameters left unmapped (see `foreign_params`)."""
    if "schedule" in params and (own or schedule is None):
        name = str(params.pop("schedule"))
        prefix = name + "."
        flat = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        return name, flat, {k: v for k, v in params.items() if not k.startswith(prefix)}
    if own:
        return str(schedule), params, {}
    return str(schedule), *foreign_params(params, str(schedule), row)


def foreign_params(params: Mapping[str, Any], schedule: str, row: dict[str, Any]) -> tuple[dict, dict]:
    """A foreign trial's parameters mapped by name: (schedule parameters, the rest); optimizer parameters and the
    batch size go into `row`."""
    flat, rest = {}, {}
    keys = set(ScheduleConfig.create(schedule).flat())
    optimizer = dict(row.get("optimizer_params") or {})
    for key, value in params.items():
        if key in LR_ALIASES:
            flat["lr"] = value
        elif key in keys:
            flat[key] = value
        elif key in OPTIMIZER_KEYS:
            optimizer[key] = value
        elif key == "batch_size":
            row["batch_size"] = value
        else:
            rest[key] = value
    row["optimizer_params"] = optimizer or None
    return flat, rest
