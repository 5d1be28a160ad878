"""Run tasks and record them in the store: `run_one` (lrrec run) and `sweep` (lrrec sweep, resumable)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.runners.measure import measure
from lrrec.runners.population import supports_population, train_population
from lrrec.runners.tasks import Budget, Task, get_task, is_user_task, load_data
from lrrec.runners.train import EpochRecord, Outcome, Progress, pick_device, train
from lrrec.schedules.config import ScheduleConfig
from lrrec.store.store import Store


@dataclass(frozen=True)
class RunResult:
    """A recorded run: its id in the store and what training produced."""

    run_id: str
    task: str
    schedule: ScheduleConfig
    seed: int
    status: str
    outcome: Outcome | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary of the run (`lrrec run --json`, and each run of `lrrec sweep --json`)."""
        out = self.outcome
        return {"run_id": self.run_id, "task": self.task, "schedule": json.loads(self.schedule.to_json()),
                "seed": self.seed, "status": self.status,
                "metric": out.metric_name if out else None, "final_metric": out.final_metric if out else None,
                "best_metric": out.best_metric if out else None, "epochs_done": out.epochs_done if out else 0,
                "wall_time_s": round(out.wall_time_s, 3) if out else None, "device": out.device if out else None}


@lru_cache(maxsize=32)
def task_fingerprint(task_name: str, data_root: str | None) -> TaskFingerprint:
    """The measured fingerprint of a task (cached: sweeps fingerprint each task once)."""
    task = get_task(task_name)
    return measure(task, load_data(task_name, data_root))


def _run_settings(task: Task, budget: Budget, seed: int, device: str) -> dict:
    return {"metric_name": task.metric, "direction": task.direction, "seed": seed, "optimizer": budget.optimizer,
            "optimizer_params": budget.optimizer_params(), "batch_size": budget.batch_size, "epochs": budget.epochs,
            "device": device}


def _log(run, task: Task, record: EpochRecord) -> None:
    metrics = {"lr": record.lr, "train_loss": record.train_loss}
    if record.val_loss is not None:
        metrics["val_loss"] = record.val_loss
    if record.val_metric is not None:
        metrics[task.metric] = record.val_metric
    run.log_metrics(metrics, step=record.step, epoch=record.epoch)


def _end(run, outcome: Outcome) -> None:
    if outcome.status == "diverged":
        run.end("diverged", note=f"stopped at step {outcome.steps_done} of {outcome.total_steps}")


class StopRun(Exception):
    """Raised by an `on_epoch` callback to stop a run early on purpose (e.g. pruned by a tuner)."""


def run_one(store: Store, task: Task, config: ScheduleConfig, budget: Budget, seed: int, *,
            data_root: str | None = None, device: str | None = None, progress: bool = False,
            target: float | None = None, on_epoch: Callable[[EpochRecord], None] | None = None,
            source_ref: str | None = None) -> RunResult:
    """Train one run and record it (curve per epoch); Ctrl-C records it as interrupted and re-raises.

    `on_epoch` sees each epoch after it is logged; raising `StopRun` there ends the run as interrupted.
    """
    fingerprint = task_fingerprint(task.name, data_root)
    dev = str(pick_device(device))

    def log(record: EpochRecord) -> None:
        _log(run, task, record)
        if on_epoch is not None:
            on_epoch(record)

    with store.start_run(fingerprint, config, target_value=target, source_ref=source_ref,
                         **_run_settings(task, budget, seed, dev)) as run:
        try:
            outcome = train(task, config, budget, seed, data_root=data_root, device=device, on_epoch=log,
                            progress=progress)
        except StopRun as stop:
            run.end("interrupted", note=str(stop))
            return RunResult(run.run_id, task.name, config, seed, "interrupted", None)
        _end(run, outcome)
    return RunResult(run.run_id, task.name, config, seed, run.status or "finished", outcome)


def record_outcome(store: Store, task: Task, config: ScheduleConfig, budget: Budget, seed: int,
                   outcome: Outcome) -> RunResult:
    """Record a run that was trained elsewhere (population mode) with its whole curve."""
    fingerprint = task_fingerprint(task.name, None)
    with store.start_run(fingerprint, config, **_run_settings(task, budget, seed, outcome.device)) as run:
        for record in outcome.curve:
            _log(run, task, record)
        _end(run, outcome)
    return RunResult(run.run_id, task.name, config, seed, run.status or "finished", outcome)


def _budget_fields(epochs: int, batch_size: int, optimizer: str, optimizer_params: Any) -> tuple:
    """What makes two runs of one config and seed the same run, besides the task."""
    params = json.loads(optimizer_params) if isinstance(optimizer_params, str) else optimizer_params
    return (epochs, batch_size, optimizer, json.dumps(params or {}, sort_keys=True))


def _done_keys(store: Store) -> set[tuple]:
    """Keys of the runs lrrec already finished (or saw diverge): a sweep skips them."""
    keys = set()
    for row in store.runs(source="lrrec"):
        if row["status"] in ("finished", "diverged"):
            config = ScheduleConfig.from_json(row["schedule_config"]) if isinstance(row["schedule_config"], str) \
                else ScheduleConfig.from_dict(row["schedule_config"])
            keys.add((row["task"], config.content_hash(), row["seed"], *_budget_fields(
                row["epochs"], row["batch_size"], row["optimizer"], row["optimizer_params"])))
    return keys


@dataclass(frozen=True, kw_only=True)
class SweepPlan:
    """What `sweep` trains: every task x schedule (its default config, or one per LR of `lr_grid`; then
    `extra_configs`) x seeds 0..`seeds`-1, at each task's budget with the given overrides (None keeps the task's).

    With `population`, tasks that support it train all their pending configs of one seed at once; `progress`
    shows the runs done on stderr (see `Progress`).
    """

    tasks: Sequence[str]
    schedules: Sequence[str]
    seeds: int
    lr_grid: Sequence[float] | None = None
    extra_configs: Sequence[ScheduleConfig] = ()
    epochs: int | None = None
    batch_size: int | None = None
    optimizer: str | None = None
    momentum: float | None = None
    data_root: str | None = None
    device: str | None = None
    population: bool = False
    progress: bool = False
    weight_decay: float | None = None


def sweep(store: Store, plan: SweepPlan, *, on_result: Callable[[RunResult], None] | None = None,
          on_note: Callable[[str], None] | None = None) -> list[RunResult]:
    """Train and record the runs of `plan` that the store lacks; returns them in the order they finished.

    `on_note` hears what the sweep does differently from what was asked (a task trained one by one, runs skipped),
    before anything trains; `on_result` hears each run recorded, and may write output.
    """
    note = on_note or (lambda message: None)
    if not plan.tasks or not plan.schedules:
        raise InvalidValueError("a sweep needs at least one task and one schedule")
    tasks = [get_task(name) for name in dict.fromkeys(plan.tasks)]  # each checked before anything trains, once
    done = _done_keys(store)
    configs = _sweep_configs(plan.schedules, plan.lr_grid, plan.extra_configs)
    budgets = [budget_for(task, plan.epochs, plan.batch_size, plan.optimizer, plan.momentum, plan.weight_decay)
               for task in tasks]  # all, before training
    batches = _pending(plan, tasks, budgets, configs, done, note)
    bar = Progress("sweep", sum(len(batch.configs) for batch in batches), "run", plan.progress)
    results = []
    try:
        for batch in batches:
            for result in _train_batch(store, batch, plan.data_root, plan.device, bar):
                results.append(result)
                bar.update(_outcome_note(result))
                if on_result:
                    with bar.writing():
                        on_result(result)
    finally:
        bar.close()
    return results


def sweep_grid(plan: SweepPlan) -> list[tuple[str, ScheduleConfig, int]]:
    """Every cell of the plan's grid, (task, config, seed), tasks checked first (a distributed sweep's cells)."""
    if not plan.tasks or not plan.schedules:
        raise InvalidValueError("a sweep needs at least one task and one schedule")
    names = [get_task(name).name for name in dict.fromkeys(plan.tasks)]
    configs = _sweep_configs(plan.schedules, plan.lr_grid, plan.extra_configs)
    return [(name, config, seed) for name in names for seed in range(plan.seeds) for config in configs]


@dataclass
class _Batch:
    """Pending runs of a sweep on one task, budget and seed; `together`: trained at once, as a population."""

    task: Task
    budget: Budget
    seed: int
    configs: list[ScheduleConfig]
    together: bool


def _sweep_configs(schedule_names: Sequence[str], lr_grid: Sequence[float] | None,
                   extra_configs: Sequence[ScheduleConfig]) -> list[ScheduleConfig]:
    """Each schedule's default config (at each LR of `lr_grid`, if given), then `extra_configs`; each once."""
    configs = []
    for name in schedule_names:
        base = ScheduleConfig.create(name)
        configs += [base.with_settings({"lr": lr}) for lr in lr_grid] if lr_grid else [base]
    return list({c.content_hash(): c for c in [*configs, *extra_configs]}.values())  # a repeat runs once


def _pending(plan: SweepPlan, tasks: list[Task], budgets: list[Budget], configs: list[ScheduleConfig],
             done: set[tuple], note: Callable[[str], None]) -> list[_Batch]:
    """The batches of runs that `done` lacks; `note` hears of tasks that cannot train as a population, and of the
    runs skipped."""
    batches, skipped = [], 0
    for task, budget in zip(tasks, budgets):
        fingerprint = task_fingerprint(task.name, plan.data_root)
        unsupported = supports_population(task, budget) if plan.population else None
        if unsupported:
            note(f"{task.name} trains one config at a time: {unsupported}")
        fields = _budget_fields(budget.epochs, budget.batch_size, budget.optimizer, budget.optimizer_params())
        for seed in range(plan.seeds):
            pending = [c for c in configs if (fingerprint.name, c.content_hash(), seed, *fields) not in done]
            skipped += len(configs) - len(pending)
            if pending:
                batches.append(_Batch(task, budget, seed, pending, plan.population and not unsupported))
    if skipped:
        note(f"skipped {skipped} run(s) the store already holds")
    return batches


def _train_batch(store: Store, batch: _Batch, data_root: str | None, device: str | None,
                 bar: Progress) -> Iterable[RunResult]:
    """Train and record a batch's runs: as a population, or one by one, each as the caller takes its result."""
    if batch.together and len(batch.configs) > 1:
        outcomes = train_population(batch.task, batch.configs, batch.budget, batch.seed, device=device)
        return [record_outcome(store, batch.task, c, batch.budget, batch.seed, o)
                for c, o in zip(batch.configs, outcomes)]
    return (run_one(store, batch.task, c, batch.budget, batch.seed, data_root=data_root, device=device,
                    progress=bar.terminal) for c in batch.configs)


def _outcome_note(result: RunResult) -> str:
    """How a run ended, in a few words: `finished wine/mlp cosine lr 0.1 seed 0: val_accuracy 0.6908`."""
    out = result.outcome
    metric = f": {out.metric_name} {out.final_metric:.4g}" if out and out.final_metric is not None else ""
    return (f"{result.status} {result.task} {result.schedule.name} lr {result.schedule.lr:.4g} seed {result.seed}"
            + metric)


ADAMW_WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default


def budget_for(task: Task, epochs: int | None, batch_size: int | None, optimizer: str | None,
               momentum: float | None = None, weight_decay: float | None = None) -> Budget:
    """The task's default budget with the given overrides (None keeps the default).

    A user task's batch size is its train loader's; a 2-D surface is optimised by SGD on one point. AdamW,
    when chosen over the task's own optimizer, decays weights by torch's default 0.01 (decoupled decay at an
    SGD-sized 1e-4 would make it Adam) unless `weight_decay` is given.
    """
    given = (("epochs", epochs), ("batch_size", batch_size), ("optimizer", optimizer), ("momentum", momentum),
             ("weight_decay", weight_decay))
    changes: dict[str, Any] = {k: v for k, v in given if v is not None}
    chosen = changes.get("optimizer", task.budget.optimizer)
    if momentum is not None and chosen != "sgd":
        raise InvalidValueError(f"--momentum applies to SGD; {chosen} keeps its own moment estimates, so leave "
                                f"--momentum out")
    if is_user_task(task.name):
        if batch_size is not None:
            raise InvalidValueError(f"--batch-size: {task.name}'s train_loader sets its batch size; change it there")
        changes["batch_size"] = load_data(task, None).batch_size
    if task.kind == "surface" and (chosen != "sgd" or "batch_size" in changes):
        raise InvalidValueError(f"{task.name} is a 2-D surface, optimised by SGD (with --momentum) on one point; "
                                f"leave out --optimizer and --batch-size")
    if chosen == "adamw" != task.budget.optimizer:
        changes.setdefault("weight_decay", ADAMW_WEIGHT_DECAY)
    return replace(task.budget, **changes)

