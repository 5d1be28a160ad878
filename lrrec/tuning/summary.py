"""What a study came to: its trials, best config and seeds as plain data (`summarize`), and its figures."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrrec.schedules import ScheduleConfig
from lrrec.tuning.job import TuneJob, open_storage
from lrrec.tuning.space import config_of, space_of

if TYPE_CHECKING:
    from lrrec.store.store import Store


def summarize(job: TuneJob, seeded: list[dict[str, Any]]) -> dict[str, Any]:
    """The study's state: trial counts by state, the best config and value, and the seeded configs."""
    import optuna

    study = optuna.load_study(study_name=job.study, storage=open_storage(job.storage))
    trials = study.get_trials(deepcopy=False)
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    out: dict[str, Any] = {"study": job.study, "storage": job.storage, "task": job.task, "trials": states,
                           "space": space_of(job), "seeded": seeded, "best": None}
    if complete:
        best = study.best_trial
        out["best"] = {"trial": best.number, "value": best.value, "run_id": best.user_attrs.get("lrrec.run_id"),
                       "config": config_of(best.params, job.schedules).to_dict()}
    out["history"] = [{"trial": t.number, "value": t.value, "state": t.state.name.lower(),
                       "run_id": t.user_attrs.get("lrrec.run_id")} for t in trials]
    return out


def write_figures(summary: dict[str, Any], store: Store, folder: Path) -> list[str]:
    """Plot the study (Optuna's history, importances and slices), the best config's LR curve, and its validation
    curve against the top suggestion's."""
    import optuna

    from lrrec.plots import plot_tuning
    from lrrec.runners.tasks import get_task

    if not summary["best"]:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.load_study(study_name=summary["study"], storage=open_storage(summary["storage"]))
    runs = {h["trial"]: h["run_id"] for h in summary["history"] if h["run_id"]}
    curves = {f"best (trial {summary['best']['trial']})": store.curves(summary["best"]["run_id"])}
    if summary["seeded"] and 0 in runs and runs[0] != summary["best"]["run_id"]:
        curves["top suggestion (trial 0)"] = store.curves(runs[0])
    steps = max((p["step"] or 0 for p in next(iter(curves.values()))), default=100) or 100
    metric = study.user_attrs.get("lrrec.metric", {}).get("name", "objective")
    unit = "step" if get_task(summary["task"]).kind == "surface" else "epoch"
    return plot_tuning(study, curves, ScheduleConfig.from_dict(summary["best"]["config"]), steps, folder,
                       task=summary["task"], metric=metric, unit=unit)
