"""`lrrec.suggest`: ranked schedule configs for a fingerprint or for a (model, train loader), as typed results.

Torch-free for a fingerprint; given a model and a loader it measures them (`lrrec.fingerprint_of`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint
from lrrec.schedules.config import ScheduleConfig

if TYPE_CHECKING:
    from torch.nn import Module
    from torch.optim import Optimizer

    from lrrec.recommender.suggest import Recommendation
    from lrrec.schedules.torch_adapter import ScheduleLR
    from lrrec.store.store import Store


@dataclass(frozen=True)
class ScheduleSuggestion:
    """One ranked schedule config, its expected score (1 = the best config on similar tasks) and why."""

    rank: int
    config: ScheduleConfig
    expected_score: float
    score_sd: float
    confidence: str
    p_beats_next: float | None
    evidence: tuple[dict[str, Any], ...]
    adjustments: tuple[str, ...]

    @property
    def lr(self) -> float:
        """The suggested initial (peak) LR."""
        return self.config.lr

    def scheduler(self, optimizer: Optimizer, total_steps: int) -> ScheduleLR:
        """A torch LR scheduler following this config over `total_steps` optimizer updates (see `make_scheduler`)."""
        from lrrec.schedules.torch_adapter import make_scheduler

        return make_scheduler(optimizer, self.config, total_steps)


@dataclass(frozen=True)
class Suggestions:
    """The ranked suggestions for `task`; `fallback` says why, when no similar task was found."""

    task: TaskFingerprint
    optimizer: str
    batch_size: int | None
    epochs: int | None
    ranked: tuple[ScheduleSuggestion, ...]
    nearest_tasks: tuple[dict[str, Any], ...]
    fallback: str | None

    @property
    def best(self) -> ScheduleSuggestion:
        """The top suggestion."""
        return self.ranked[0]

    def __iter__(self) -> Iterator[ScheduleSuggestion]:
        return iter(self.ranked)

    def __len__(self) -> int:
        return len(self.ranked)

    @classmethod
    def of(cls, task: TaskFingerprint, rec: Recommendation) -> Suggestions:
        """The typed form of the recommender's answer."""
        ranked = tuple(ScheduleSuggestion(
            s.rank, s.config if isinstance(s.config, ScheduleConfig) else ScheduleConfig.from_dict(s.config),
            s.expected_score, s.score_sd, s.confidence, s.p_beats_next, tuple(s.evidence), tuple(s.adjustments))
            for s in rec.suggestions)
        return cls(task, rec.optimizer, rec.batch_size, rec.epochs, ranked, tuple(rec.nearest_tasks), rec.fallback)


def suggest(fingerprint: TaskFingerprint | None = None, *, model: Module | None = None,
            train_loader: Iterable[Any] | None = None, name: str | None = None, optimizer: str = "sgd",
            batch_size: int | None = None, epochs: int | None = None, top: int = 3,
            store: Store | str | os.PathLike[str] | None = None) -> Suggestions:
    """Rank schedule configs for a task, from the runs in `store` (a `Store`, a path, or the default store).

    Give the task's `fingerprint`, or `model` and `train_loader` to measure it (named `name`, "dataset/model";
    the loader's batch size is the default `batch_size`). `epochs` weighs evidence at other budgets down.
    """
    if fingerprint is None:
        if model is None or train_loader is None:
            raise InvalidValueError("lrrec.suggest needs a fingerprint, or a model and its train_loader")
        from lrrec.runners.measure_loader import fingerprint_of

        fingerprint = fingerprint_of(model, train_loader, name=name)
        batch_size = batch_size or getattr(train_loader, "batch_size", None)
    elif model is not None or train_loader is not None:
        raise InvalidValueError("give lrrec.suggest a fingerprint or a model and train_loader, not both")
    from lrrec.recommender.suggest import suggest_for_task

    rec = suggest_for_task(resolve_store(store), fingerprint, optimizer=optimizer, batch_size=batch_size,
                           epochs=epochs, top=top)
    return Suggestions.of(fingerprint, rec)


def resolve_store(store: Store | str | os.PathLike[str] | None) -> Store:
    """`store` itself, or the store at a path (None: `$LRREC_STORE`, else the user data folder)."""
    from lrrec.store.store import Store, open_store

    return store if isinstance(store, Store) else open_store(store)
