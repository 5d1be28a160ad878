"""The LR range test on real tasks: its LR sweep, its stopping rule, the LRs it reads off, its CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.errors import InvalidValueError
from lrrec.runners.probes import lr_range_test
from lrrec.runners.tasks import get_task


def test_range_test_sweeps_geometrically_and_reads_off_lrs_on_its_curve():
    task = get_task("wine/mlp")
    result = lr_range_test(task, task.budget, steps=60, low=1e-4, high=1e3)
    ratios = np.diff(np.log(result.lrs))
    assert result.lrs[0] == pytest.approx(1e-4) and np.allclose(ratios, np.log(1e7) / 59)
    assert result.stopped_early and result.lrs[-1] < 1e3  # an LR of 1000 blows the loss up
    assert result.min_loss_lr == result.lrs[int(np.argmin(result.losses))]
    assert result.steepest_lr <= result.min_loss_lr
    assert min(result.losses) < result.losses[0] / 2  # the loss fell on the way


def test_tiny_lrs_run_every_step_without_stopping():
    task = get_task("breast_cancer/mlp")
    result = lr_range_test(task, task.budget, steps=20, low=1e-6, high=1e-5)
    assert not result.stopped_early and len(result.lrs) == len(result.losses) == 20
    assert result.lrs[-1] == pytest.approx(1e-5)


@pytest.mark.parametrize("kwargs, message", [
    ({"low": 1.0, "high": 0.1}, "need 0 < --low < --high"),
    ({"steps": 3}, "at least 5 --steps"),
])
def test_bad_ranges_are_one_line_errors(kwargs, message):
    task = get_task("wine/mlp")
    with pytest.raises(InvalidValueError, match=message):
        lr_range_test(task, task.budget, **kwargs)


def test_surfaces_have_no_range_test():
    task = get_task("surface/peaks")
    with pytest.raises(InvalidValueError, match="not a 2-D surface"):
        lr_range_test(task, task.budget)


def test_cli_probe_prints_json_and_plots(tmp_path):
    plot = tmp_path / "range.png"
    result = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--steps", "40", "--plot", str(plot), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["task"] == "wine/mlp" and len(report["lrs"]) == len(report["losses"]) <= 40
    assert plot.stat().st_size > 0


def test_cli_probe_checks_the_plot_path_before_the_work(tmp_path):
    result = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--plot", str(tmp_path / "none" / "x.png")])
    assert result.exit_code == 1 and "does not exist" in result.output and "--plot" in result.output
    assert "Traceback" not in result.output
