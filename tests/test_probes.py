"""The LR range test on real tasks: its LR sweep, its stopping rule, the LRs it reads off, its CLI."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.errors import InvalidValueError, LrrecError
from lrrec.runners.probes import lr_range_test
from lrrec.runners.tasks import get_task, load_data


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
    report = json.loads(result.stdout)
    assert report["task"] == "wine/mlp" and len(report["lrs"]) == len(report["losses"]) <= 40
    assert plot.stat().st_size > 0


def test_cli_probe_checks_the_plot_path_before_the_work(tmp_path):
    result = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--plot", str(tmp_path / "none" / "x.png")])
    assert result.exit_code == 1 and "does not exist" in result.output and "--plot" in result.output
    assert "Traceback" not in result.output


def test_a_loss_rising_from_the_start_is_inconclusive_not_a_made_up_lr():
    task = get_task("wine/mlp")
    result = lr_range_test(task, task.budget, low=100.0, high=1e6)
    assert result.steepest_lr is None and result.min_loss_lr is None and "lower --low" in result.note
    output = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--low", "100", "--high", "1e6"]).output
    assert "inconclusive: the loss did not fall" in output


@pytest.fixture
def user_tasks(tmp_path, monkeypatch):
    """User tasks (module:function) on a small synthetic problem: the tests are about the probe's edge cases."""
    (tmp_path / "probe_tasks.py").write_text(textwrap.dedent("""
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        def _data():
            g = torch.Generator().manual_seed(0)
            x = torch.randn(64, 5, generator=g)
            return TensorDataset(x, (x[:, 0] > 0).long())

        def _model():
            torch.manual_seed(0)
            return torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))

        def fine():
            return {"model": _model(), "train_loader": DataLoader(_data(), batch_size=8),
                    "val_loader": DataLoader(_data(), batch_size=32)}

        def nan():
            model = _model()
            with torch.no_grad():
                model[0].weight.fill_(float("nan"))
            return {"model": model, "train_loader": DataLoader(_data(), batch_size=8),
                    "val_loader": DataLoader(_data(), batch_size=32)}

        def no_batches():
            return {"model": _model(), "train_loader": DataLoader(_data(), batch_size=100, drop_last=True),
                    "val_loader": DataLoader(_data(), batch_size=32)}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("probe_tasks", None)


def test_the_probe_leaves_a_user_model_as_the_user_built_it(user_tasks):
    task = get_task("probe_tasks:fine")
    before = {k: v.clone() for k, v in load_data(task, None).model.state_dict().items()}
    lr_range_test(task, task.budget, high=1e3)  # trains to divergence
    after = load_data(task, None).model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("name, message", [
    ("probe_tasks:nan", "the loss is not finite at lr 1e-05"),
    ("probe_tasks:no_batches", "yields no batch"),
])
def test_user_data_the_probe_cannot_use_is_a_one_line_error(user_tasks, name, message):
    with pytest.raises(LrrecError, match=message):  # loading a user task checks its first batches
        task = get_task(name)
        lr_range_test(task, task.budget)
