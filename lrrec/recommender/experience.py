"""The recommender's view of the store: one `Cell` per (task, schedule config, budget), seeds aggregated.

The store keeps its cells up to date as runs land (`lrrec.store.cells`) and this module reads them; tasks whose
features it lacks (literature rows name only "dataset/model") are completed from the catalog. Cells compare only
within their group: one task (a literature task is one paper's table), metric, budget, batch size and optimizer.
"""

from __future__ import annotations

import copy
import gc
import json
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrrec.catalog import catalog_fingerprint
from lrrec.errors import LrrecError
from lrrec.fingerprint import TaskFingerprint
from lrrec.recommender.shapes import shape_of

if TYPE_CHECKING:
    from lrrec.store.store import Store


@dataclass(slots=True)
class Cell:
    """The runs of one schedule config on one task and budget (seeds averaged)."""

    task_id: str
    config_id: str
    schedule: str
    family: str
    lr: float
    arm: str  # the config without its LR: schedule name + params + warmup, canonical JSON
    optimizer: str
    batch_size: int | None
    epochs: int | None
    metric_name: str
    direction: str
    metric: float | None  # mean over finished seeds; None when every seed diverged
    n_finished: int
    n_diverged: int
    source: str
    proposed: bool = False  # the source of this (literature) result proposed the schedule
    ref: str | None = None  # where the result was published
    shape: str = ""  # see `lrrec.recommender.shapes`
    has_warmup: bool = False  # the config adds a warmup to its schedule
    arm_without_warmup: str = ""  # the schedule the warmup was added to (the arm, warmup left out)
    score: float | None = None  # within its group: 1 = best cell, 0 = worst (or diverged); None = no comparison

    @property
    def group(self) -> tuple:
        """The cells this one compares with (within its task)."""
        return self.metric_name, self.epochs, self.batch_size, self.optimizer


@dataclass
class Experience:
    """Every task and cell of a store, with per-task normalised scores."""

    tasks: dict[str, TaskFingerprint]
    cells: list[Cell]
    scored: bool = False  # the cells come scored (the store's `cells` table); else `normalise` scores them
    summaries: dict[str, Summary] = field(default_factory=dict)  # tasks read through the store's summaries
    by_task: dict[str, list[Cell]] = field(default_factory=dict)
    shapes: dict[str, list[ShapeResult]] = field(default_factory=dict)  # per task: how each shape did per group
    warmups: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # per task: (optimizer, warmup gain)

    def __post_init__(self) -> None:
        by_task = defaultdict(list)
        for cell in self.cells:
            by_task[cell.task_id].append(cell)
        if not self.scored:
            for cells in by_task.values():
                normalise(cells)
        self.by_task = {tid: [c for c in cells if c.score is not None] for tid, cells in by_task.items()}
        self.by_task = {tid: cells for tid, cells in self.by_task.items() if cells}
        unsummarised = {tid: cells for tid, cells in self.by_task.items() if tid not in self.summaries}
        self.shapes = {tid: shape_results(cells) for tid, cells in unsummarised.items()}
        self.warmups = {tid: warmup_gains(cells) for tid, cells in unsummarised.items()}
        for tid, summary in self.summaries.items():
            self.shapes[tid], self.warmups[tid] = shape_results(summary.bests), summary.warmups

    @property
    def n_tasks(self) -> int:
        """How many tasks have scored cells (those read whole and those read only as summaries)."""
        return len(self.by_task.keys() | self.summaries.keys())

    def without(self, task_ids: str | set[str]) -> Experience:
        """The same experience with some tasks held out (scores are per task, so they stay as they are)."""
        out = {task_ids} if isinstance(task_ids, str) else task_ids
        held_out = copy.copy(self)
        held_out.tasks = {k: v for k, v in self.tasks.items() if k not in out}
        held_out.cells = [c for c in self.cells if c.task_id not in out]
        held_out.by_task = {k: v for k, v in self.by_task.items() if k not in out}
        held_out.summaries = {k: v for k, v in self.summaries.items() if k not in out}
        held_out.shapes = {k: v for k, v in self.shapes.items() if k not in out}
        held_out.warmups = {k: v for k, v in self.warmups.items() if k not in out}
        return held_out

    def origin(self, task_id: str) -> str:
        """The literature source a task comes from (its key), or "own" for runs lrrec or a user trained."""
        return str(self.tasks[task_id].extra.get("source", "own"))


@dataclass(frozen=True)
class Summary:
    """A task as the prior needs it, computed by the store (`cells.summary_sql`): its best cell per comparison group
    and shape (`shape_results` of these equals that of all its cells) and its warmup gains. A task too dissimilar
    to the target to be evidence is read only as this."""

    bests: list[Cell]
    warmups: list[tuple[str, float]]


@dataclass(frozen=True, slots=True)
class ShapeResult:
    """How one schedule shape did in one comparison group: its best cell, and that cell's score among the shapes'
    best cells (1 = the group's best shape, 0 = its worst), so a shape counts once however many configs it ran."""

    group: tuple
    shape: str
    cell: Cell
    score: float

    @property
    def scored(self) -> Cell:
        """A copy of the cell with `score` as its score."""
        out = copy.copy(self.cell)
        out.score = self.score
        return out


def shape_results(cells: list[Cell]) -> list[ShapeResult]:
    """Every group of two or more shapes: each shape's best cell, scored among the shapes (min-max)."""
    best: defaultdict[tuple, dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        known = best[cell.group].get(cell.shape)
        if known is None or (cell.score or 0.0) > (known.score or 0.0):
            best[cell.group][cell.shape] = cell
    out = []
    for group, shapes in best.items():
        values = [c.score or 0.0 for c in shapes.values()]
        low, span = min(values), max(values) - min(values)
        if len(shapes) < 2:
            continue
        out += [ShapeResult(group, shape, cell, 1.0 if span <= 0 else ((cell.score or 0.0) - low) / span)
                for shape, cell in shapes.items()]
    return out


def warmup_gains(cells: list[Cell]) -> list[tuple[str, float]]:
    """(optimizer, score with a warmup - score without) for each schedule of each group that ran both."""
    best: defaultdict[tuple, dict[bool, float]] = defaultdict(dict)
    for cell in cells:
        side = best[(cell.group, cell.arm_without_warmup)]
        side[cell.has_warmup] = max(side.get(cell.has_warmup, 0.0), cell.score or 0.0)
    return [(group[-1], side[True] - side[False]) for (group, _), side in best.items() if len(side) == 2]


def arm_key(name: str, params: Any, warmup: Any) -> str:
    """The canonical identity of a config without its LR."""
    def load(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    return json.dumps({"name": name, "params": load(params), "warmup": load(warmup)}, sort_keys=True,
                      separators=(",", ":"))


def normalise(cells: list[Cell]) -> None:
    """Score the cells of one task in [0, 1] per metric and budget: (m - worst) / (best - worst); diverged get 0.

    A group with fewer than two distinct outcomes compares nothing: its cells keep score None.
    """
    by_group: dict[tuple, list[Cell]] = defaultdict(list)
    for cell in cells:  # outcomes compare only within one metric, budget and optimizer
        by_group[cell.group].append(cell)
    for group in by_group.values():
        sign = 1.0 if group[0].direction == "max" else -1.0
        values = [sign * c.metric for c in group if c.metric is not None and math.isfinite(c.metric)]
        if not values:
            continue
        best, worst = max(values), min(values)
        span = best - worst
        if span <= 0 and len(values) == len(group):
            continue
        for cell in group:
            if cell.metric is None or not math.isfinite(cell.metric):
                cell.score = 0.0
            else:
                cell.score = 1.0 if span <= 0 else (sign * cell.metric - worst) / span


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block (or decorated function): building tens of thousands of
    cells (which form no reference cycles) otherwise triggers collections that traverse every one of them, and so
    does resuming while they are still referenced (about 0.02 s of a `lrrec suggest`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def complete(task: TaskFingerprint) -> TaskFingerprint:
    """Fill the features a fingerprint lacks from the catalog, when its dataset and model are known there."""
    if task.task_kind != "classification" or task.n_params is not None:
        return task
    try:
        known = catalog_fingerprint(task.dataset, task.model)
    except LrrecError:
        return task
    filled = {k: (v if v is not None else getattr(known, k)) for k, v in task.to_dict().items()}
    return TaskFingerprint.from_dict(filled)


Near = Callable[[dict[str, TaskFingerprint], set[str]], Collection[str]]


def load_experience(store: Store, near: Near | None = None) -> Experience:
    """The store's scored cells (its `cells` table, kept up to date as runs land) with their tasks; with `near`
    (given every task and the ids of those with scored cells: the ids to read whole), the other tasks as
    `Summary`s, so that the cost follows the tasks that matter rather than the store's size."""
    reading = _Reading(near)
    if near is None:
        rows = store.experience_rows()
        reading.configs(rows.schedules)
        reading.near(rows.tasks, set())
        reading.take(rows.cells)
    else:
        rows = store.experience_rows(reading)
    summaries: dict[str, Summary] = {}
    for row in rows.bests:
        summaries.setdefault(row[0], Summary([], [])).bests.append(reading.cell(row))
    for task_id, optimizer, gain in rows.gains:
        summaries[task_id].warmups.append((optimizer, gain))
    return Experience(reading.tasks, reading.cells, scored=True, summaries=summaries)


@dataclass
class _Reading:
    """One read of the store (a `cells.ExperienceReader`): the tasks, the schedule configs, and the cells the near
    tasks' rows become."""

    pick: Near | None
    tasks: dict[str, TaskFingerprint] = field(default_factory=dict)
    settings: dict[str, tuple[str, str, float, str, str, str, bool]] = field(default_factory=dict)
    cells: list[Cell] = field(default_factory=list)

    def configs(self, schedules: list[tuple[Any, ...]]) -> dict[str, tuple[str, str, bool]]:
        """Each config's name, family, LR, arm, arm without warmup, shape and whether it has a warmup (few
        configs, many cells: each built once); returns per config its shape, arm without warmup and warmup flag."""
        self.settings = {config_id: (name, family, lr, arm_key(name, params, warmup), arm_key(name, params, None),
                                     shape_of(name, params), warmup is not None and json.loads(warmup) is not None)
                         for config_id, name, family, lr, params, warmup in schedules}
        return {config_id: (c[5], c[4], c[6]) for config_id, c in self.settings.items()}

    def near(self, tasks: list[tuple[Any, ...]], scored: set[str]) -> Collection[str]:
        """The tasks (completed from the catalog), and the ids `pick` chooses among them (every one without)."""
        self.tasks = {task_id: complete(TaskFingerprint.from_stored(fp)) for task_id, fp in tasks}
        return self.tasks.keys() if self.pick is None else self.pick(self.tasks, scored)

    def take(self, cells: list[tuple[Any, ...]]) -> None:
        self.cells = [self.cell(row) for row in cells]

    def cell(self, row: tuple[Any, ...]) -> Cell:
        """A `cells.CELL_COLUMNS` row as a `Cell`."""
        (task_id, config_id, optimizer, batch_size, epochs, metric_name, direction, metric, n_finished, n_diverged,
         source, proposed, ref, score) = row
        name, family, lr, arm, bare, shape, has_warmup = self.settings[config_id]
        return Cell(task_id, config_id, name, family, lr, arm, optimizer, batch_size, epochs, metric_name, direction,
                    metric, n_finished, n_diverged, source, proposed, ref, shape, has_warmup, bare, score)
