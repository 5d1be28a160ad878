"""Progress of the long commands (sweep, tune, probe, the run bar): a bar in a terminal, one line per unit of
work in a pipe (no carriage returns), on stderr, so `--json` stdout stays clean; `--quiet` turns it off."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.plots import study_figures
from lrrec.runners.execute import SweepPlan, sweep
from lrrec.runners.tasks import get_task
from lrrec.runners.train import train
from lrrec.schedules import ScheduleConfig
from lrrec.store.store import open_store
from lrrec.tuning.job import open_storage


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def too_precise(text: str) -> list[str]:
    """The decimal numbers in `text` written with more than 4 significant digits."""
    return [n for n in re.findall(r"\d+\.\d+", text) if len(n.replace(".", "").lstrip("0")) > 4]


def lines_of(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_sweep_in_a_pipe_writes_a_line_per_run_to_stderr(tmp_path):
    args = ["sweep", "--tasks", "wine/mlp", "--schedules", "cosine,step", "--lr-grid", "0.05,0.1", "--epochs", "1"]
    human = invoke(*args, "--store", str(tmp_path / "a.duckdb"))
    assert human.exit_code == 0, human.output
    progress = lines_of(human.stderr, "sweep: ")
    assert [line.split(":")[1] for line in progress] == [f" run {i}/4" for i in range(1, 5)]
    assert all(re.search(r"(finished|diverged) wine/mlp (cosine|step) lr 0\.\d+ seed 0", line) for line in progress)
    assert "\r" not in human.output
    assert len(lines_of(human.stdout, "finished")) == 4 and not too_precise(human.stdout)

    as_json = invoke(*args, "--store", str(tmp_path / "b.duckdb"), "--json")
    assert len(json.loads(as_json.stdout)) == 4 and len(lines_of(as_json.stderr, "sweep: ")) == 4

    quiet = invoke(*args, "--store", str(tmp_path / "c.duckdb"), "--json", "--quiet")
    assert len(json.loads(quiet.stdout)) == 4 and "sweep:" not in quiet.stderr


def test_sweep_in_a_terminal_draws_bars(tmp_path, monkeypatch):
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    results = sweep(open_store(tmp_path / "s.duckdb"), SweepPlan(tasks=["wine/mlp"], schedules=["cosine", "step"],
                                                                 seeds=1, epochs=2, progress=True))
    assert len(results) == 2
    drawn = terminal.getvalue()
    assert "\r" in drawn and "sweep:" in drawn and "/2 [" in drawn  # tqdm's bar, not pipe lines
    assert "sweep: run" not in drawn


def test_the_run_bar_in_a_pipe_writes_a_line_per_epoch(capsys):
    task = get_task("wine/mlp")
    train(task, ScheduleConfig.create("cosine", lr=0.05), replace(task.budget, epochs=3), 0, progress=True)
    err = capsys.readouterr().err
    assert "\r" not in err
    epochs = lines_of(err, "wine/mlp: epoch ")
    assert [line.split(":")[1] for line in epochs] == [" epoch 1/3", " epoch 2/3", " epoch 3/3"]
    assert all(re.search(r"loss \S+, val_accuracy \S+, lr \S+$", line) for line in epochs)
    assert not too_precise(err)


@pytest.fixture(scope="module")
def rosenbrock(tmp_path_factory):
    """A minimising study on surface/rosenbrock (cosine, 10 trials, some pruned), tuned from the command line."""
    folder = tmp_path_factory.mktemp("rosenbrock")
    args = ["tune", "--task", "surface/rosenbrock", "--schedule", "cosine", "--seed-top", "0", "--study", "r",
            "--out", str(folder / "out"), "--store", str(folder / "s.duckdb")]
    result = invoke(*args, "--n-trials", "10")
    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="r", storage=open_storage(str(folder / "out" / "study.journal")))
    return args, result, study, folder / "out"


def test_tune_in_a_pipe_writes_a_line_per_trial_with_the_best_so_far(rosenbrock):
    _, result, study, _ = rosenbrock
    progress = lines_of(result.stderr, "tune: ")
    assert [line.split(":")[1] for line in progress] == [f" trial {i}/10" for i in range(1, 11)]
    best = [float(m.group(1)) for m in (re.search(r"best (\S+) \(#\d+\)$", line) for line in progress) if m]
    assert best == sorted(best, reverse=True) and best[-1] == pytest.approx(study.best_value, rel=1e-3)
    assert "\r" not in result.output and not too_precise(result.stdout)
    assert f"value {study.best_value:.4g}:" in result.stdout


def test_tune_json_stays_clean_and_quiet_writes_no_progress(rosenbrock):
    args, *_ = rosenbrock
    resumed = invoke(*args, "--n-trials", "11", "--json", "--quiet")
    assert resumed.exit_code == 0, resumed.output
    assert sum(json.loads(resumed.stdout)["trials"].values()) == 11 and "tune:" not in resumed.stderr


def test_the_history_figure_shows_the_best_so_far_in_the_studys_direction(rosenbrock):
    _, _, _, out = rosenbrock
    assert {p.name for p in out.glob("*.png")} == {"history.png", "importances.png", "slices.png", "best_lr.png",
                                                   "curves.png"}
    # a minimising study whose pruned trials carry values better than any complete one (as Optuna records a
    # pruned trial's last intermediate value): synthetic, since the test is about what the figure draws
    made = optuna.create_study(direction="minimize")
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)}
    for value, state in ((9.0, "COMPLETE"), (5.0, "COMPLETE"), (0.5, "PRUNED"), (7.0, "COMPLETE"),
                         (3.0, "COMPLETE"), (0.1, "PRUNED"), (4.0, "COMPLETE")):
        made.add_trial(optuna.trial.create_trial(params={"lr": value / 10}, distributions=dist, value=value,
                                                 state=optuna.trial.TrialState[state]))
    history = study_figures(made, "final_loss")["history.png"].axes[0]
    (best,) = [line for line in history.get_lines() if line.get_label() == "Best Value"]
    assert [float(v) for v in best.get_ydata()] == [9.0, 5.0, 5.0, 5.0, 3.0, 3.0, 3.0]  # never climbs; pruned: ignored
    plotted = [y for c in history.collections for _, y in c.get_offsets()]
    assert sorted(plotted) == [3.0, 4.0, 5.0, 7.0, 9.0]


def test_the_curves_figure_has_whole_epoch_ticks_and_labels(tmp_path, monkeypatch):
    from lrrec import plots

    drawn = {}
    real = plots.save_and_close

    def keep(fig, out):
        drawn[Path(out).name] = fig
        return real(fig, out)

    monkeypatch.setattr(plots, "save_and_close", keep)
    result = invoke("tune", "--task", "wine/mlp", "--schedule", "cosine", "--n-trials", "2", "--epochs", "3",
                    "--seed-top", "1", "--no-probe", "--quiet", "--out", str(tmp_path / "out"),
                    "--store", str(tmp_path / "s.duckdb"))
    assert result.exit_code == 0, result.output
    ax = drawn["curves.png"].axes[0]
    assert ax.get_title() == "wine/mlp: val_accuracy per epoch" and ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "val_accuracy"
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert all(list(line.get_xdata()) == [1, 2, 3] for line in ax.get_lines())


def test_probes_in_a_pipe_write_their_steps(tmp_path):
    ranged = invoke("probe", "--task", "wine/mlp", "--steps", "20")
    steps = lines_of(ranged.stderr, "LR range test wine/mlp: step ")
    assert 1 <= len(steps) <= 11 and "\r" not in ranged.output
    assert all(re.search(r"step \d+/20: lr \S+, loss \S+$", line) for line in steps)
    assert json.loads(invoke("probe", "--task", "wine/mlp", "--steps", "20", "--json").stdout)["task"] == "wine/mlp"
    assert "LR range test" not in invoke("probe", "--task", "wine/mlp", "--steps", "20", "--quiet").stderr

    curvature = invoke("probe", "--task", "wine/mlp", "--method", "curvature", "--batches", "4", "--json")
    assert json.loads(curvature.stdout)["batches"] == 4 and "\r" not in curvature.output
    steps = lines_of(curvature.stderr, "curvature probe wine/mlp: step ")
    assert steps[0].endswith("step 4/25: gradient of batch 4/4") and "curvature along the gradient" in steps[1]
    assert all("power iteration" in line for line in steps[2:]) and 1 <= len(steps[2:]) <= 20
    quiet = invoke("probe", "--task", "wine/mlp", "--method", "curvature", "--batches", "4", "--quiet")
    assert "curvature probe" not in quiet.stderr and "suggested lr" in quiet.stdout
