"""The `lrrec` command line: thin click wrappers over library functions.

Every `LrrecError` becomes `Error: <message>` and exit status 1 here, in one place; heavy libraries are
imported inside the commands that need them, so `lrrec --help` stays fast.
"""

from __future__ import annotations

import json
from typing import Any

import click

from lrrec import __version__
from lrrec.cli_common import (
    LrrecGroup,
    data_root_option,
    emit_json,
    json_option,
    parse_float,
    parse_settings,
    set_option,
    split_list,
    steps_option,
    store_option,
)
from lrrec.cli_common import open_cli_store as cli_store
from lrrec.errors import InvalidValueError


@click.group(cls=LrrecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lrrec")
def cli() -> None:
    """lrrec recommends learning-rate schedules from past training experience."""


# --- schedules ------------------------------------------------------------------------------------------
@cli.group(cls=LrrecGroup)
def schedules() -> None:
    """Browse, evaluate and plot the schedule library."""


@schedules.command("list")
@click.option("--family", default=None, help="Only this family (constant, piecewise, smooth, cyclical, warmup).")
@json_option
def schedules_list(family: str | None, as_json: bool) -> None:
    """List every schedule with its family and a one-line summary."""
    from lrrec.schedules import list_specs

    specs = list_specs(family)
    rows = [{"name": s.name, "family": s.family, "summary": s.summary, "citation": s.citation} for s in specs]
    if as_json:
        emit_json(rows)
        return
    width = max(len(s.name) for s in specs)
    for row in rows:
        click.echo(f"{row['name']:<{width}}  {row['family']:<9}  {row['summary']}")


@schedules.command("show")
@click.argument("name")
@set_option
@steps_option
@json_option
def schedules_show(name: str, settings: tuple[str, ...], steps: int, as_json: bool) -> None:
    """Show a schedule's parameters, defaults, search space and its LR at every step."""
    from lrrec.schedules import ScheduleConfig, search_space

    config = ScheduleConfig.create(name).with_settings(parse_settings(settings))
    lrs = config.lrs(range(steps), steps).tolist()
    spec = config.spec
    space = {key: param.describe() for key, param in search_space(config.name).items()}
    data = {**config.to_dict(), "summary": spec.summary, "citation": spec.citation, "steps": steps,
            "search_space": space, "lrs": lrs}
    if spec.metric_driven:
        data["note"] = "the LR falls only when step(metric) reports a plateau; shown without metrics"
    if as_json:
        emit_json(data)
        return
    click.echo(f"{config.name} ({config.family}): {spec.summary}")
    click.echo(f"  cite: {spec.citation}")
    click.echo(f"  lr = {config.lr:g}")
    for key, value in config.params.items():
        described = space[key]
        click.echo(f"  {key} = {value!r}  (default {described['default']!r}; {described['doc']})")
    if config.warmup:
        w = config.warmup
        click.echo(f"  warmup = {w.kind} over {w.frac:g} of the budget from {w.start_factor:g}")
    click.echo("  search space:")
    for key, described in space.items():
        click.echo(f"    {key}: {json.dumps(described.get('search', 'fixed'))}")
    if "note" in data:
        click.echo(f"  note: {data['note']}")
    click.echo(f"  lr over {steps} steps:")
    for start in range(0, steps, 8):
        chunk = lrs[start:start + 8]
        click.echo(f"    {start:>6}: " + " ".join(f"{v:.6g}" for v in chunk))


@schedules.command("plot")
@click.argument("names", nargs=-1, required=True)
@set_option
@steps_option
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG file to write.")
def schedules_plot(names: tuple[str, ...], settings: tuple[str, ...], steps: int, out: str) -> None:
    """Plot the LR curves of one or more schedules on one figure."""
    from lrrec.plots import plot_schedules
    from lrrec.schedules import ScheduleConfig

    wanted = parse_settings(settings)
    configs = []
    used: set[str] = set()
    for name in names:
        base = ScheduleConfig.create(name)
        warmed = "warmup" in wanted or base.spec.includes_warmup  # warmup_frac shapes only a warmup that exists
        accepted = {k: v for k, v in wanted.items()
                    if k in base.flat() and (warmed or k not in ("warmup_frac", "warmup_start_factor"))}
        used.update(accepted)
        configs.append(base.with_settings(accepted))
    unused = set(wanted) - used
    if unused:
        raise InvalidValueError(f"no schedule among {', '.join(names)} has parameter(s) {', '.join(sorted(unused))}"
                                f"; see `lrrec schedules show NAME` for each one's parameters")
    plot_schedules(configs, steps, out)
    click.echo(f"wrote {out}")


# --- tasks and training -------------------------------------------------------------------------------------
@cli.group(cls=LrrecGroup)
def tasks() -> None:
    """Built-in training tasks."""


@tasks.command("list")
@json_option
def tasks_list(as_json: bool) -> None:
    """List the built-in tasks with their default budgets."""
    from lrrec.runners.tasks import TASKS

    rows = [{"name": t.name, "dataset": t.dataset, "model": t.model, "kind": t.kind, "metric": t.metric,
             "needs_data_root": t.needs_data_root, "epochs": t.budget.epochs, "batch_size": t.budget.batch_size,
             "summary": t.summary} for t in TASKS.values()]
    if as_json:
        emit_json(rows)
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['epochs']:>4} ep  bs {r['batch_size']:<4} {r['summary']}")


def _budget_options(func: Any) -> Any:
    """Options of commands that train and record runs: the budget, the device, the data and the store."""
    func = store_option(_optimizer_options(func))
    return click.option("--epochs", type=click.IntRange(min=1), default=None,
                        help="Epochs (default: the task's).")(func)


def _optimizer_options(func: Any) -> Any:
    """Options of commands that train without recording (the LR range test)."""
    for option in reversed([
        click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size (default: the task's)."),
        click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw"]), default=None,
                     help="Optimizer (default: the task's, SGD with momentum)."),
        click.option("--momentum", type=click.FloatRange(0.0, 1.0, max_open=True), default=None,
                     help="SGD momentum (default: the task's; 0 = plain SGD)."),
        click.option("--device", default=None, help="cuda, cuda:1 or cpu (default: CUDA when present)."),
        data_root_option, json_option,
    ]):
        func = option(func)
    return func


@cli.command("run")
@click.option("--task", "task_name", required=True, help="A task from `lrrec tasks list`, or module:function.")
@click.option("--schedule", "schedule_name", required=True, help="A schedule from `lrrec schedules list`.")
@set_option
@click.option("--seed", type=int, default=0, show_default=True)
@_budget_options
def run_command(task_name: str, schedule_name: str, settings: tuple[str, ...], seed: int, epochs: int | None,
                batch_size: int | None, optimizer: str | None, momentum: float | None, device: str | None,
                data_root: str | None, store_path: str | None, as_json: bool) -> None:
    """Train a task under a schedule and record the run and its curve in the store."""
    from lrrec.runners.execute import budget_for, describe, run_one
    from lrrec.runners.tasks import get_task
    from lrrec.schedules import ScheduleConfig

    task = get_task(task_name)
    config = ScheduleConfig.create(schedule_name).with_settings(parse_settings(settings))
    budget = budget_for(task, epochs, batch_size, optimizer, momentum)
    store = cli_store(store_path, announce=not as_json)
    try:
        result = run_one(store, task, config, budget, seed, data_root=data_root, device=device,
                         progress=not as_json)
    except KeyboardInterrupt:
        click.echo("interrupted: the run is recorded as interrupted with the epochs it finished", err=True)
        raise SystemExit(130) from None
    summary = describe(result)
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{summary['status']}: {task.name} {config.name} seed {seed}: {summary['metric']} final "
                   f"{summary['final_metric']} best {summary['best_metric']} in {summary['wall_time_s']} s "
                   f"on {summary['device']} (run {summary['run_id']})")


@cli.command("probe")
@click.option("--task", "task_name", required=True, help="A task from `lrrec tasks list`, or module:function.")
@click.option("--method", type=click.Choice(["range", "curvature"]), default="range", show_default=True,
              help="range: the LR range test. curvature: gradient noise scale, best step and top Hessian "
                   "eigenvalue at initialisation (McCandlish et al. 2018).")
@click.option("--steps", type=click.IntRange(min=5), default=None, help="Optimizer updates (range; default 100).")
@click.option("--low", type=click.FloatRange(min=0, min_open=True), default=None,
              help="First LR (range; default 1e-5).")
@click.option("--high", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Last LR (range; default 10; the test stops earlier once the loss blows up).")
@click.option("--batches", type=click.IntRange(min=2), default=None,
              help="Minibatch gradients per estimate (curvature; default 32).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--plot", "plot_path", default=None, type=click.Path(dir_okay=False),
              help="Also plot loss against LR to this PNG file (range).")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@_optimizer_options
def probe_command(task_name: str, method: str, steps: int | None, low: float | None, high: float | None,
                  batches: int | None, seed: int, plot_path: str | None, quiet: bool, batch_size: int | None,
                  optimizer: str | None, momentum: float | None, device: str | None, data_root: str | None,
                  as_json: bool) -> None:
    """Probe a task before training it: an LR range test, or its gradient noise and curvature."""
    from lrrec.runners.execute import budget_for
    from lrrec.runners.tasks import get_task

    other = {"range": {"--batches": batches}, "curvature": {"--steps": steps, "--low": low, "--high": high,
                                                            "--plot": plot_path}}[method]
    unused = [option for option, value in other.items() if value is not None]
    if unused:
        raise InvalidValueError(f"{', '.join(unused)} belong(s) to the other probe; leave it out with --method "
                                f"{method}")
    task = get_task(task_name)
    budget = budget_for(task, None, batch_size, optimizer, momentum)
    if method == "curvature":
        _curvature_report(task, budget, batches, seed, data_root, device, as_json, not quiet)
        return
    from lrrec.runners.probes import lr_range_test

    if plot_path:
        from lrrec.plots import check_png_path

        check_png_path(plot_path, "--plot")  # before the work, not after it
    given = {k: v for k, v in (("steps", steps), ("low", low), ("high", high)) if v is not None}
    result = lr_range_test(task, budget, seed=seed, data_root=data_root, device=device, progress=not quiet,
                           **given)
    if plot_path:
        from lrrec.plots import plot_range_test

        plot_range_test(result, plot_path)
    if as_json:
        emit_json(result.to_dict())
        return
    end = "stopped when the loss blew up" if result.stopped_early else "reached --high"
    found = (f"lowest loss at lr {result.min_loss_lr:.3g}, steepest descent at lr {result.steepest_lr:.3g}"
             if result.steepest_lr is not None else f"inconclusive: {result.note}")
    click.echo(f"{task.name}: {len(result.lrs)} updates from lr {result.lrs[0]:g} ({end} at lr "
               f"{result.lrs[-1]:.3g}); {found}")


def _curvature_report(task: Any, budget: Any, batches: int | None, seed: int, data_root: str | None,
                      device: str | None, as_json: bool, progress: bool) -> None:
    from lrrec.runners.curvature import curvature_probe

    given = {"n_batches": batches} if batches is not None else {}
    result = curvature_probe(task, budget, seed=seed, data_root=data_root, device=device, progress=progress, **given)
    if as_json:
        emit_json(result.to_dict())
        return

    def fmt(value: float | None) -> str:
        return "undefined" if value is None else f"{value:.3g}"

    click.echo(f"{task.name} at initialisation, {result.batches} batches of {result.batch_size}: gradient noise scale "
               f"{fmt(result.noise_scale)}, best step along the gradient {fmt(result.max_step)}, top Hessian "
               f"eigenvalue {result.top_eigenvalue:.3g} (stable below lr {fmt(result.stable_lr)}); suggested lr "
               f"{fmt(result.lr)}" + (f" ({result.note})" if result.note else ""))


@cli.command("sweep")
@click.option("--tasks", "task_names", required=True, help="Comma-separated task names.")
@click.option("--schedules", "schedule_names", required=True,
              help="Comma-separated schedule names, or 'families' for each family's default schedule.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True, help="Seeds 0..N-1 per config.")
@click.option("--lr-grid", default=None, help="Comma-separated initial LRs (default: each schedule's default LR).")
@click.option("--population", is_flag=True,
              help="Train all configs of a small norm-free task at once (torch.func.vmap); same outcomes.")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@_budget_options
def sweep_command(task_names: str, schedule_names: str, seeds: int, lr_grid: str | None, population: bool,
                  quiet: bool, epochs: int | None, batch_size: int | None, optimizer: str | None,
                  momentum: float | None, device: str | None, data_root: str | None, store_path: str | None,
                  as_json: bool) -> None:
    """Train many runs, recording each as it finishes; a rerun skips what is already done."""
    from lrrec.runners.execute import describe, sweep
    from lrrec.schedules import FAMILY_DEFAULTS

    names = split_list(schedule_names)
    if names == ["families"]:
        names = list(FAMILY_DEFAULTS.values())
    grid = [parse_float(v, "--lr-grid") for v in split_list(lr_grid)] if lr_grid else None
    store = cli_store(store_path, announce=not as_json)
    lines: list[dict[str, Any]] = []

    def report(result: Any) -> None:
        summary = describe(result)
        lines.append(summary)
        if not as_json:
            final = "-" if summary["final_metric"] is None else f"{summary['final_metric']:.4g}"
            click.echo(f"{summary['status']:<9} {summary['task']:<18} {summary['schedule']['name']:<14} "
                       f"lr {summary['schedule']['lr']:<8.4g} seed {summary['seed']}  {summary['metric']} "
                       f"{final}  {summary['wall_time_s']:.3g} s")

    try:
        sweep(store, split_list(task_names), names, seeds, grid, epochs, batch_size, optimizer, data_root, device,
              report, population=population, momentum=momentum, progress=not quiet,
              on_note=lambda m: click.echo(f"note: {m}", err=True))
    except KeyboardInterrupt:
        click.echo(f"interrupted after {len(lines)} runs; rerun the same command to continue", err=True)
        raise SystemExit(130) from None
    if as_json:
        emit_json(lines)
    else:
        click.echo(f"{len(lines)} runs recorded in {store.path}")


# --- ingest -------------------------------------------------------------------------------------------------
@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "jsonl", "csv", "parquet", "optuna", "deepobs"]),
              help="Input format; auto goes by suffix (.jsonl .csv .parquet .json=DeepOBS, URL/.db/.log=Optuna).")
@click.option("--source", default=None, help="Source name recorded on every run (default: the format).")
@click.option("--skip-invalid", is_flag=True, help="Ingest the valid rows and report the invalid ones.")
@click.option("--study", default=None, help="Optuna: study name (needed when the storage holds several).")
@click.option("--schedule", default=None, help="Optuna, foreign study: the lrrec schedule its trials used.")
@click.option("--task", default=None, help="Optuna, foreign study: the task as DATASET/MODEL.")
@click.option("--dataset", default=None, help="Optuna, foreign study: dataset (with --model, instead of --task).")
@click.option("--model", default=None, help="Optuna, foreign study: model (with --dataset).")
@click.option("--metric", default=None, help="Optuna, foreign study: name of the objective (default objective).")
@store_option
@json_option
def ingest_command(paths: tuple[str, ...], fmt: str, source: str | None, skip_invalid: bool, study: str | None,
                   schedule: str | None, task: str | None, dataset: str | None, model: str | None,
                   metric: str | None, store_path: str | None, as_json: bool) -> None:
    """Add runs from interchange files, Optuna studies or DeepOBS result files; all or nothing per call."""
    from lrrec.store.ingest import add_validated, read_inputs

    if (dataset is None) != (model is None) or (task and dataset):
        raise InvalidValueError("give either --task DATASET/MODEL or both --dataset and --model")
    task = task or (f"{dataset}/{model}" if dataset else None)
    validated = read_inputs(list(paths), fmt=fmt, source=source, skip_invalid=skip_invalid, study=study,
                            schedule=schedule, task=task, metric=metric)  # before a new store is made
    report = add_validated(cli_store(store_path, announce=not as_json), validated)
    if as_json:
        emit_json(report)
        return
    for problem in report["skipped"]:
        click.echo(f"skipped {problem}", err=True)
    click.echo(f"{report['added']} runs added, {report['duplicates']} already present, "
               f"{len(report['skipped'])} skipped ({report['rows']} rows from {len(report['files'])} inputs) "
               f"-> {report['store']}" + (f" (batch {report['batch']}; undo with `lrrec store rm --batch "
                                          f"{report['batch']}`)" if report["batch"] else ""))


# --- recommender --------------------------------------------------------------------------------------------
def _target(dataset: str | None, model: str | None, task_name: str | None, data_root: str | None) -> Any:
    """The fingerprint to recommend for: the catalog (no data needed) or a measured task."""
    from lrrec.catalog import catalog_fingerprint

    if task_name:
        if dataset or model:
            raise InvalidValueError("give either --task or --dataset/--model, not both")
        from lrrec.runners.tasks import TASKS

        known = TASKS.get(task_name)
        if known is not None and not known.needs_data_root and known.kind != "surface":
            return catalog_fingerprint(known.dataset, known.model)
        from lrrec.runners.execute import task_fingerprint

        return task_fingerprint(task_name, data_root)
    if not dataset or not model:
        raise InvalidValueError("name the task: --dataset NAME --model NAME (e.g. --dataset cifar100 --model wrn), "
                                "or --task NAME")
    return catalog_fingerprint(dataset, model)


@cli.command("suggest")
@click.option("--dataset", default=None, help="A catalog dataset (cifar10, cifar100, imagenet, mnist, svhn, ...).")
@click.option("--model", default=None, help="A catalog model (wrn, wrn-16-4, resnet-18, resnet-50, efficientnet-b0, mlp).")
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
    from lrrec.recommender.suggest import suggest, with_probed_lr

    if probe and not task_name:
        raise InvalidValueError("--probe trains the task for a few steps, so it needs --task (a built-in task or "
                                "module:function), not catalog --dataset/--model")
    target = _target(dataset, model, task_name, data_root)
    task = None
    if task_name:  # measured above, so the runners are loaded already
        from lrrec.runners.tasks import get_task

        task = get_task(task_name)
        epochs = epochs or task.budget.epochs  # the task's own budget: evidence at other budgets weighs less
    rec = suggest(cli_store(store_path, reading=True, announce=not as_json), target, optimizer=optimizer,
                  batch_size=batch_size, epochs=epochs, top=top)
    if probe and task is not None:
        from lrrec.runners.execute import budget_for
        from lrrec.runners.probes import lr_range_test

        result = lr_range_test(task, budget_for(task, epochs, batch_size, optimizer, None), data_root=data_root)
        rec = with_probed_lr(rec, result.steepest_lr, result.note)
    if as_json:
        emit_json(rec.to_dict())
        return
    click.echo(f"task {target.name}: " + ", ".join(
        f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:.3g}" for k, v in
        (("samples", target.n_train), ("classes", target.n_classes), ("params", target.n_params),
         ("fwd FLOPs", target.forward_flops)) if v is not None))
    click.echo("nearest tasks: " + ", ".join(f"{n['task']} ({n['similarity']:.2f})" for n in rec.nearest_tasks))
    if rec.fallback:
        click.echo(f"note: {rec.fallback}")
    for s in rec.suggestions:
        cfg = s.config
        params = " ".join(f"{k}={v}" for k, v in cfg["params"].items())
        warm = f" warmup={cfg['warmup']['kind']}:{cfg['warmup']['frac']}" if cfg["warmup"] else ""
        click.echo(f"{s.rank}. {cfg['name']} ({cfg['family']})  lr={cfg['lr']:g} {params}{warm}")
        line = (f"   expected score {s.expected_score:.2f} +- {s.score_sd:.2f} (1 = best on similar tasks)"
                if not rec.fallback else "   expected score: none (no evidence; a default to start from)")
        if s.expected_metric:
            m = s.expected_metric
            line += f"; {m['name']} {m['value']:.4g} +- {m['sd']:.2g} on {', '.join(m['from'])}"
        click.echo(line)
        odds = f", P(beats #{s.rank + 1}) {s.p_beats_next:.2f}" if s.p_beats_next is not None else ""
        click.echo(f"   confidence {s.confidence}{odds}")
        for e in s.evidence:
            metric = "diverged" if e["metric"] is None else f"{e['metric']:.4g}"
            runs = f"{e['finished']} finished run(s)" + (f", {e['diverged']} diverged" if e["diverged"] else "")
            budget = f", {e['epochs']} epochs" if e["epochs"] else ""
            click.echo(f"   evidence: {e['task']} (similarity {e['similarity']:.2f}): {e['metric_name']} {metric} "
                       f"at lr {e['lr']:g}{budget}, {runs}, {e['source']}")
        for note in s.adjustments:
            click.echo(f"   adjusted: {note}")


@cli.command("evaluate")
@store_option
@json_option
@click.option("--plot", default=None, type=click.Path(dir_okay=False), help="Write a PNG of the regrets.")
def evaluate_command(store_path: str | None, as_json: bool, plot: str | None) -> None:
    """Leave-one-task-out evaluation of the recommender against its baselines."""
    from lrrec.recommender.evaluate import evaluate

    if plot:
        from lrrec.plots import check_png_path

        check_png_path(plot, "--plot")  # before the work, not after it
    report = evaluate(cli_store(store_path, reading=True, announce=not as_json))
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


@cli.command("tune")
@click.option("--task", "task_name", default=None, help="A task from `lrrec tasks list` / module:function.")
@click.option("--dataset", default=None, help="Or a catalog dataset with a built-in task (with --model).")
@click.option("--model", default=None, help="Catalog model (with --dataset).")
@click.option("--schedule", default=None, help="Tune one schedule's hyperparameters.")
@click.option("--families", default=None, help="Or search these families (comma-separated; default: all).")
@click.option("--n-trials", type=click.IntRange(min=1), default=None, help="Trials for the whole study.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, help="Seconds per worker.")
@click.option("--seed-top", type=click.IntRange(min=0), default=5, show_default=True,
              help="Enqueue the top K suggested configs first (and build a transferred space from them).")
@click.option("--space", type=click.Choice(["transferred", "library"]), default="transferred", show_default=True,
              help="transferred: the top suggestions' schedules, LR within 3x of theirs; library: every "
              "parameter's full library range.")
@click.option("--probe/--no-probe", default=True, show_default=True,
              help="Run an LR range test first and enqueue the suggestions at its steepest-descent LR.")
@click.option("--storage", default=None, help="Optuna storage: a journal file (one machine) or an RDB URL "
              "(several machines). Default: OUT/study.journal.")
@click.option("--study", "study_name", default=None, help="Study name (reuse it to resume).")
@click.option("--n-jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the figures and summary (default: tune-STUDY).")
@click.option("--quiet", is_flag=True, help="Show no progress on stderr.")
@_budget_options
def tune_command(task_name: str | None, dataset: str | None, model: str | None, schedule: str | None,
                 families: str | None, n_trials: int | None, timeout: float | None, seed_top: int, space: str,
                 probe: bool, storage: str | None, study_name: str | None, n_jobs: int, out_dir: str | None,
                 quiet: bool, epochs: int | None, batch_size: int | None, optimizer: str | None,
                 momentum: float | None, device: str | None, data_root: str | None, store_path: str | None,
                 as_json: bool) -> None:
    """Tune a schedule's hyperparameters with Optuna, seeded by the recommendation; trials go to the store."""
    from pathlib import Path

    from lrrec.recommender.tune import TuneJob, resolve_schedules, tune, write_figures

    task = _trainable_task(task_name, dataset, model)
    target = _target(dataset, model, task_name, data_root)
    schedules = resolve_schedules(schedule, families)
    study_name = study_name or f"lrrec-{task.replace('/', '-').replace(':', '-')}-{schedule or families or 'all'}"
    folder = Path(out_dir or f"tune-{study_name}")
    store = cli_store(store_path, announce=not as_json)
    job = TuneJob(task, schedules, storage or str(folder / "study.journal"), study_name, str(store.path), epochs,
                  batch_size, optimizer, data_root, device, momentum=momentum)
    try:
        summary = tune(job, target, n_trials=n_trials, timeout=timeout, seed_top=seed_top, space=space,
                       probe=probe, n_jobs=n_jobs, out=folder, progress=not quiet)
    except KeyboardInterrupt:
        click.echo(f"interrupted; rerun with --study {study_name} to resume", err=True)
        raise SystemExit(130) from None
    summary["figures"] = write_figures(summary, store, folder)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"study {summary['study']} ({summary['storage']}): " +
               ", ".join(f"{n} {state}" for state, n in summary["trials"].items()) +
               (" (suggested configs beyond --n-trials: they run first when the study is resumed)"
                if summary["trials"].get("waiting") else ""))
    searched = summary["space"]
    lr_range = searched["lr_range"]
    click.echo(f"{searched['kind']} space: {', '.join(searched['schedules'])}"
               + (f"; lr {lr_range[0]:.3g} to {lr_range[1]:.3g}" if lr_range else ""))
    if summary["resumed"]:
        click.echo("resumed: the study keeps the space it began with (--space, --schedule, --families and "
                   "--seed-top shape new studies only)")
    if summary["probe"]:
        probe = summary["probe"]
        click.echo(f"LR range test: steepest descent at lr {probe['steepest_lr']:.3g}" if probe["steepest_lr"]
                   else f"LR range test inconclusive ({probe['note']}); suggested LRs kept")

    def described(config: dict[str, Any]) -> str:
        params = "".join(f" {k}={v:.4g}" if isinstance(v, float) else f" {k}={v}" for k, v in config["params"].items())
        warmup = config["warmup"]
        return f"{config['name']} lr={config['lr']:.4g}{params}" + (
            f" warmup={warmup['kind']}:{warmup['frac']:.4g}" if warmup else "")

    for config in summary["seeded"]:
        click.echo(f"seeded: {described(config)}")
    if summary["best"]:
        best = summary["best"]
        click.echo(f"best: trial {best['trial']} value {best['value']:.4g}: {described(best['config'])} "
                   f"(run {best['run_id']})")
    click.echo(f"figures in {folder}")


def _trainable_task(task_name: str | None, dataset: str | None, model: str | None) -> str:
    """The task to train: --task, or the built-in task of a catalog dataset and model."""
    if task_name:
        return task_name
    from lrrec.catalog import canonical
    from lrrec.runners.tasks import TASKS

    if not dataset or not model:
        raise InvalidValueError("name the task: --task NAME, or --dataset NAME --model NAME")
    name = f"{canonical(dataset)}/{canonical(model)}"
    if name not in TASKS:
        raise InvalidValueError(f"no built-in task trains {name}; pass --task (a built-in task or module:function)")
    return name


from lrrec.bench.cli import bench
from lrrec.cli_store import store

cli.add_command(bench)
cli.add_command(store)


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
