"""What a study came to: its trials, best config and seeds (`summarize`, a `TuneSummary`), and its figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrrec.schedules import ScheduleConfig
from lrrec.tuning.job import TuneJob, open_storage
from lrrec.tuning.space import config_of, space_of

if TYPE_CHECKING:
    from lrrec.runners.probes import RangeTest
    from lrrec.store.store import Store


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a study: its number, value (None unless complete), state and run in the store."""

    trial: int
    value: float | None
    state: str  # complete, pruned, fail, waiting, running
    run_id: str | None


@dataclass(frozen=True)
class BestTrial:
    """A study's best complete trial and the config it trained."""

    trial: int
    value: float
    run_id: str | None
    config: ScheduleConfig

    def to_dict(self) -> dict[str, Any]:
        return {"trial": self.trial, "value": self.value, "run_id": self.run_id, "config": self.config.to_dict()}


@dataclass(frozen=True)
class TuneSummary:
    """What `tune` came to: trial counts by state, the space searched (`space_of`), the configs this call seeded,
    the best trial (None: none complete), every trial, the range test a new study ran, and whether it resumed."""

    study: str
    storage: str
    task: str
    trials: dict[str, int]
    space: dict[str, Any]
    seeded: list[ScheduleConfig]
    best: BestTrial | None
    history: list[TrialRecord]
    probe: RangeTest | None
    resumed: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data (the `lrrec tune --json` output, less the figures); `probe` keeps the LR and note."""
        probe = self.probe
        return {"study": self.study, "storage": self.storage, "task": self.task, "trials": dict(self.trials),
                "space": self.space, "seeded": [c.to_dict() for c in self.seeded],
                "best": self.best.to_dict() if self.best else None, "history": [asdict(t) for t in self.history],
                "probe": {"steepest_lr": probe.steepest_lr, "note": probe.note} if probe is not None else None,
                "resumed": self.resumed}


def summarize(job: TuneJob, seeded: list[ScheduleConfig], *, probe: RangeTest | None, resumed: bool) -> TuneSummary:
    """The study's state now, with the configs this call seeded, its range test and whether it resumed."""
    import optuna

    study = optuna.load_study(study_name=job.study, storage=open_storage(job.storage))
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    best = None
    if any(t.state.name == "COMPLETE" for t in trials):
        top = study.best_trial
        best = BestTrial(top.number, study.best_value, top.user_attrs.get("lrrec.run_id"),
                         config_of(top.params, job.schedules))
    history = [TrialRecord(t.number, t.value, t.state.name.lower(), t.user_attrs.get("lrrec.run_id")) for t in trials]
    return TuneSummary(job.study, job.storage, job.task, states, space_of(job), seeded, best, history, probe, resumed)


def write_figures(summary: TuneSummary, store: Store, folder: Path) -> list[str]:
    """Plot the study (Optuna's history, importances and slices), the best config's LR curve, and its validation
    curve against the top suggestion's."""
    import optuna

    from lrrec.plots import plot_tuning
    from lrrec.runners.tasks import get_task

    best = summary.best
    if best is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.load_study(study_name=summary.study, storage=open_storage(summary.storage))
    first = next((t.run_id for t in summary.history if t.trial == 0), None)
    curves = {f"best (trial {best.trial})": store.curves(best.run_id) if best.run_id else []}
    if summary.seeded and first and first != best.run_id:
        curves["top suggestion (trial 0)"] = store.curves(first)
    steps = max((p["step"] or 0 for p in next(iter(curves.values()))), default=100) or 100
    metric = study.user_attrs.get("lrrec.metric", {}).get("name", "objective")
    unit = "step" if get_task(summary.task).kind == "surface" else "epoch"
    return plot_tuning(study, curves, best.config, steps, folder, task=summary.task, metric=metric, unit=unit)
