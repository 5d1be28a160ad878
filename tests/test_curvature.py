"""The curvature probe: its estimators against exact answers, and the probe on real tasks."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn
from torch.func import functional_call

from lrrec.cli import cli
from lrrec.errors import InvalidValueError
from lrrec.runners.curvature import _hvp, _summarise, _top_eigenvalue, curvature_probe
from lrrec.runners.data import load_sklearn
from lrrec.runners.tasks import get_task


@pytest.fixture(scope="module")
def wine_logistic():
    """Logistic regression on the wine data (42 parameters): small enough for its exact Hessian."""
    data = load_sklearn("wine")
    torch.manual_seed(0)
    model = nn.Linear(13, 3)
    sample = [(data.x_train[i:i + 32], data.y_train[i:i + 32]) for i in range(0, 128, 32)]
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]

    def mean_loss(flat: torch.Tensor) -> torch.Tensor:
        chunks, start = {}, 0
        for name, shape in zip(names, shapes):
            chunks[name] = flat[start:start + shape.numel()].view(shape)
            start += shape.numel()
        return torch.stack([F.cross_entropy(functional_call(model, chunks, (x,)), y) for x, y in sample]).mean()

    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return model, sample, torch.func.hessian(mean_loss)(flat)


def test_hessian_vector_products_match_the_exact_hessian(wine_logistic):
    model, sample, hessian = wine_logistic
    vector = torch.randn(hessian.shape[0], generator=torch.Generator().manual_seed(1))
    product = _hvp(model, list(model.parameters()), sample, vector)
    torch.testing.assert_close(product, hessian @ vector, rtol=1e-4, atol=1e-6)


def test_power_iteration_finds_the_top_eigenvalue(wine_logistic):
    model, sample, hessian = wine_logistic
    exact = torch.linalg.eigvalsh(hessian.double())[-1].item()
    assert _top_eigenvalue(model, list(model.parameters()), sample, seed=0) == pytest.approx(exact, rel=1e-2)


def test_the_noise_estimators_recover_a_known_gradient_and_variance():
    """E|g_B|^2 = |G|^2 + tr(Sigma) / B, so exact small- and big-batch norms give back |G|^2 and tr(Sigma)."""
    task, budget = get_task("wine/mlp"), get_task("wine/mlp").budget
    grad_sq, trace, batches = 0.5, 40.0, 16
    small_sq = grad_sq + trace / budget.batch_size
    big_sq = grad_sq + trace / (budget.batch_size * batches)
    result = _summarise(task, budget, batches, small_sq, big_sq, curvature=4.0, eigenvalue=10.0)
    assert result.grad_norm_sq == pytest.approx(grad_sq) and result.noise_trace == pytest.approx(trace)
    assert result.noise_scale == pytest.approx(80.0) and result.max_step == pytest.approx(0.25)
    assert result.lr == pytest.approx(0.25 / (1 + 80.0 / budget.batch_size) * (1 - budget.momentum))
    assert result.stable_lr == pytest.approx(2 * (1 + budget.momentum) / 10.0)


def test_a_gradient_lost_in_noise_or_negative_curvature_gives_no_lr():
    task, budget = get_task("wine/mlp"), get_task("wine/mlp").budget
    noisy = _summarise(task, budget, 4, small_sq=1.0, big_sq=0.2, curvature=1.0, eigenvalue=1.0)
    assert noisy.noise_scale is None and noisy.lr is None and "raise --batches" in noisy.note
    concave = _summarise(task, budget, 4, small_sq=2.0, big_sq=1.9, curvature=-1.0, eigenvalue=1.0)
    assert concave.max_step is None and concave.lr is None and "curves down" in concave.note


def test_the_probe_on_a_real_task_is_seeded_and_sgd_only():
    task = get_task("digits/mlp")
    first = curvature_probe(task, task.budget, n_batches=8)
    again = curvature_probe(task, task.budget, n_batches=8)
    assert first == again
    assert first.noise_scale > 0 and first.max_step > 0 and first.top_eigenvalue > 0 and first.lr > 0
    other_seed = curvature_probe(task, task.budget, n_batches=8, seed=1)
    assert other_seed.noise_scale != first.noise_scale
    adam = curvature_probe(task, replace(task.budget, optimizer="adam"), n_batches=8)
    assert adam.lr is None and adam.stable_lr is None and "for SGD" in adam.note
    with pytest.raises(InvalidValueError, match="exceeds the 142 training samples"):
        curvature_probe(get_task("wine/mlp"), replace(get_task("wine/mlp").budget, batch_size=1000))
    with pytest.raises(InvalidValueError, match="2-D surface"):
        curvature_probe(get_task("surface/peaks"), get_task("surface/peaks").budget)


def test_cli_probe_curvature():
    result = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--method", "curvature", "--batches", "8",
                                      "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["task"] == "wine/mlp" and report["batches"] == 8 and report["lr"] > 0
    text = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", "--method", "curvature", "--batches", "8"])
    assert "gradient noise scale" in text.output and "suggested lr" in text.output
    for args, message in ((["--method", "curvature", "--plot", "x.png", "--low", "0.1"], "--low, --plot belong(s)"),
                          (["--batches", "4"], "--batches belong(s) to the other probe")):
        bad = CliRunner().invoke(cli, ["probe", "--task", "wine/mlp", *args])
        assert bad.exit_code == 1 and message in bad.output
