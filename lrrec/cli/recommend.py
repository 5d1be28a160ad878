"""`lrrec suggest` and `lrrec evaluate`: rank schedules for a task, and check the ranking on held-out tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from lrrec.cli.common import data_root_option, emit_json, json_option, open_cli_store, store_option
from lrrec.errors import InvalidValueError

if TYPE_CHECKING:
    from lrrec.recommender.suggest import Suggestion


@click.command("suggest")
@click.option("--dataset", default=None, help="A catalog dataset (cifar10, cifar100, imagenet, mnist, svhn, ...).")
@click.option("--model", default=None,
              help="A catalog model (wrn, wrn-16-4, resnet-18, resnet-50, efficientnet-b0, mlp).")
@click.option("--task", "task_name", default=None, help="Or a task from `lrrec tasks list` / module:function.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Your training budget in epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Your batch size (LRs are rescaled).")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default="sgd", show_default=True)
@click.option("--top", type=click.IntRange(min=1), default=3, show_default=True, help="How many suggestions.")
@click.option("--probe", is_flag=True, help="With --task: set the LR by an LR range test on the task itself.")
@data_root_option
@store_option
@json_option
def suggest_command(dataset: str | None, model: str | None, task_name: str | None, epochs: int | None,
                    batch_size: int | None, optimizer: str, top: int, probe: bool, data_root: str | None,
                    store_path: str | None, as_json: bool) -> None:
    """Rank LR schedules (with hyperparameters) for a task from similar past tasks in the store."""
    from lrrec.recommender.suggest import suggest_by_name

    rec = suggest_by_name(lambda: open_cli_store(store_path, reading=True, announce=not as_json), dataset, model,
                          task_name, optimizer=optimizer, batch_size=batch_size, epochs=epochs, top=top, probe=probe,
                          data_root=data_root)
    if as_json:
        emit_json(rec.to_dict())
        return
    click.echo(_task_line(rec.task))
    click.echo("nearest tasks: " + ", ".join(f"{n['task']} ({n['similarity']:.2f})" for n in rec.nearest_tasks))
    if rec.fallback:
        click.echo(f"note: {rec.fallback}")
    for s in rec.suggestions:
        for line in _suggestion_lines(s, rec.fallback):
            click.echo(line)


def _task_line(task: dict[str, Any]) -> str:
    """`task NAME: samples 50,000, classes 100, params 36,536,884, fwd FLOPs 1.05e+10` (the features known)."""
    features = (("samples", task["n_train"]), ("classes", task["n_classes"]), ("params", task["n_params"]),
                ("fwd FLOPs", task["forward_flops"]))
    return f"task {task['name']}: " + ", ".join(
        f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.3g}" for k, v in features if v is not None)


def _suggestion_lines(s: Suggestion, fallback: str | None) -> list[str]:
    """A suggestion: its config, expected score (and metric), confidence, evidence and adjustments."""
    cfg = s.config
    params = " ".join(f"{k}={v}" for k, v in cfg["params"].items())
    warm = f" warmup={cfg['warmup']['kind']}:{cfg['warmup']['frac']}" if cfg["warmup"] else ""
    score = (f"   expected score {s.expected_score:.2f} +- {s.score_sd:.2f} (1 = best on similar tasks)"
             if not fallback else "   expected score: none (no evidence; a default to start from)")
    if s.expected_metric:
        m = s.expected_metric
        score += f"; {m['name']} {m['value']:.4g} +- {m['sd']:.2g} on {', '.join(m['from'])}"
    odds = f", P(beats #{s.rank + 1}) {s.p_beats_next:.2f}" if s.p_beats_next is not None else ""
    return [f"{s.rank}. {cfg['name']} ({cfg['family']})  lr={cfg['lr']:g} {params}{warm}", score,
            f"   confidence {s.confidence}{odds}", *map(_evidence_line, s.evidence),
            *(f"   adjusted: {note}" for note in s.adjustments)]


def _evidence_line(e: dict[str, Any]) -> str:
    """One task the suggestion rests on: its similarity, metric, LR, budget and runs."""
    metric = "diverged" if e["metric"] is None else f"{e['metric']:.4g}"
    runs = f"{e['finished']} finished run(s)" + (f", {e['diverged']} diverged" if e["diverged"] else "")
    budget = f", {e['epochs']} epochs" if e["epochs"] else ""
    return (f"   evidence: {e['task']} (similarity {e['similarity']:.2f}): {e['metric_name']} {metric} "
            f"at lr {e['lr']:g}{budget}, {runs}, {e['source']}")


@click.command("evaluate")
@store_option
@json_option
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write a PNG of the regrets.")
def evaluate_command(store_path: str | None, as_json: bool, plot: str | None) -> None:
    """Leave-one-task-out evaluation of the recommender against its baselines."""
    from lrrec.recommender.evaluate import evaluate

    if plot:
        from lrrec.plots import check_png_path

        check_png_path(plot, "--plot")  # before the work, not after it
    report = evaluate(open_cli_store(store_path, reading=True, announce=not as_json))
    if not report["tasks"]:
        raise InvalidValueError("no task in the store has enough runs to evaluate (need 12 configs over 3 families); "
                                "run `lrrec sweep` first")
    if plot:
        from lrrec.plots import plot_regrets

        plot_regrets(report, plot)
    if as_json:
        emit_json(report)
        return
    methods = list(report["median_regret"])
    click.echo("top-1 regret per held-out task (0 = its best config, 1 = its worst)")
    click.echo("family columns: that family's default config; global: the best default overall")
    click.echo(f"{'task':<22}" + "".join(f"{_method_label(m):>9}" for m in methods))
    for row in report["tasks"]:
        click.echo(f"{row['task'][:21]:<22}" + "".join(
            f"{row['regret'][m]:>9.3f}" if m in row["regret"] else f"{'-':>9}" for m in methods))
    click.echo(f"{'median':<22}" + "".join(f"{report['median_regret'][m]:>9.3f}" for m in methods))
    click.echo(f"median best-of-top-3 regret (lrrec): {report['median_regret_top3']['lrrec']:.3f}; "
               f"median family rank correlation: {report['median_family_spearman']:.3f}")


def _method_label(method: str) -> str:
    """A column label of at most 8 characters: `default_piecewise` -> `piecewis`, `global_default` -> `global`."""
    return method.removeprefix("default_").removesuffix("_default")[:8]
