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
    click.echo("nearest tasks: " + ", ".join(
        f"{n['task']}{'' if n['source'] == 'own' else ' [' + n['source'] + ']'} ({n['similarity']:.2f})"
        for n in rec.nearest_tasks))
    if rec.fallback:
        click.echo(f"note: {rec.fallback}")
    for s in rec.suggestions:
        for line in _suggestion_lines(s):
            click.echo(line)


def _task_line(task: dict[str, Any]) -> str:
    """`task NAME: samples 50,000, classes 100, params 36,536,884, fwd FLOPs 1.05e+10` (the features known;
    classes only for a classification task)."""
    classes = task["n_classes"] if task.get("task_kind", "classification") == "classification" else None
    features = (("samples", task["n_train"]), ("classes", classes), ("params", task["n_params"]),
                ("fwd FLOPs", task["forward_flops"]))
    return f"task {task['name']}: " + ", ".join(
        f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.3g}" for k, v in features if v is not None)


def _suggestion_lines(s: Suggestion) -> list[str]:
    """A suggestion: its config, expected score (and metric), confidence, evidence and adjustments."""
    cfg = s.config.to_dict()
    params = " ".join(f"{k}={v}" for k, v in cfg["params"].items())
    warm = f" warmup={cfg['warmup']['kind']}:{cfg['warmup']['frac']}" if cfg["warmup"] else ""
    low, high = s.score_interval
    score = (f"   expected score {s.expected_score:.2f}, 80% interval {low:.2f}..{high:.2f} (1 = the best config of a "
             f"comparison, 0 = the worst)" if s.confidence != "none" else
             "   expected score: none (no evidence; a default to start from)")
    if s.expected_metric:
        m = s.expected_metric
        spread = f" +- {m['sd']:.2g} over {m['n']} results" if m["sd"] is not None else " (1 result)"
        score += f"; {m['name']} {m['value']:.4g}{spread}"
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
            f"at lr {e['lr']:g}{budget}, {e['optimizer']}, {runs}, {e['source_ref'] or e['source']}")


@click.command("evaluate")
@store_option
@json_option
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write a PNG of the regrets.")
@click.option("--own-only", is_flag=True, help="Leave-one-task-out on own experience only (skip the literature).")
def evaluate_command(store_path: str | None, as_json: bool, plot: str | None, own_only: bool) -> None:
    """Out-of-sample evaluation of the recommender against its baselines: leave-one-task-out on own experience,
    leave-one-source-out on the literature."""
    from lrrec.recommender.evaluate import evaluate

    if plot:
        from lrrec.plots import check_png_path

        check_png_path(plot, "--plot")  # before the work, not after it
    report = evaluate(open_cli_store(store_path, reading=True, announce=not as_json), literature=not own_only)
    if not report.own and not report.literature:
        raise InvalidValueError("no task in the store has two comparable runs to evaluate; run `lrrec sweep` first")
    data = report.to_dict()
    if plot:
        from lrrec.plots import plot_regrets

        plot_regrets(data, plot)
    if as_json:
        emit_json(data)
        return
    for key, title in (("own", "leave-one-task-out on own experience"),
                       ("literature", "leave-one-source-out on the literature")):
        if data[key]:
            for line in _summary_lines(title, data[key]):
                click.echo(line)
    if data["by_source"]:
        click.echo("per held-out source (median top-1 regret lrrec / expert order; mean Spearman lrrec / expert):")
        for source, summary in data["by_source"].items():
            regret, rho = summary["median_regret"], summary["mean_spearman"]
            rhos = f"{rho['lrrec']:+.2f} / {rho['expert_order']:+.2f}" if "lrrec" in rho else "-"
            click.echo(f"  {source:<20} {summary['groups']:>3} groups  {regret['lrrec']:.3f} / "
                       f"{regret['expert_order']:.3f}   {rhos}")


def _summary_lines(title: str, summary: dict[str, Any]) -> list[str]:
    """One evaluation's figures: regret per method (median, mean), shape-ranking Spearman, interval coverage."""
    lines = [f"{title}: {summary['groups']} comparison groups; top-1 normalised regret (0 = the group's best)",
             f"  {'method':<22}{'median':>8}{'mean':>8}"]
    lines += [f"  {m:<22}{summary['median_regret'][m]:>8.3f}{summary['mean_regret'][m]:>8.3f}"
              for m in summary["median_regret"]]
    for method, rho in summary["mean_spearman"].items():
        quartiles = summary["spearman_quartiles"].get(method)
        spread = f" (quartiles {', '.join(f'{q:+.2f}' for q in quartiles)})" if quartiles else ""
        lines.append(f"  shape-ranking Spearman, {method}: mean {rho:+.3f}{spread}")
    if summary["coverage"] is not None:
        lines.append(f"  80% intervals cover {summary['coverage']:.1%} of held-out outcomes")
    return lines
