"""The torch adapter: exact values, per-group base LRs, resume from state_dict, and the metric-driven schedule."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch

from lrrec.errors import InvalidValueError, LrOverrideWarning
from lrrec.schedules import ScheduleConfig, Warmup, list_specs
from lrrec.schedules.torch_adapter import make_scheduler

TOTAL = 60


def _model_and_optimizer(lr: float = 0.1) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias], "lr": lr / 10}], lr=lr,
                          momentum=0.9)
    return model, opt


def _train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, step: int) -> float:
    g = torch.Generator().manual_seed(step)
    x = torch.randn(8, 4, generator=g)
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())


def _metric(step: int) -> float:
    return 1.0 / (1 + min(step, 20))  # improves, then plateaus: the loss-based schedule reduces


def _run(config: ScheduleConfig, steps: range, model, opt, sched) -> list[list[float]]:
    seen = []
    for t in steps:
        seen.append([g["lr"] for g in opt.param_groups])
        _train_step(model, opt, t)
        sched.step(_metric(t)) if config.spec.metric_driven else sched.step()
    return seen


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_adapter_follows_the_closed_form_for_every_group(name):
    config = ScheduleConfig.create(name, lr=0.2)
    model, opt = _model_and_optimizer(lr=0.2)
    sched = make_scheduler(opt, config, TOTAL)
    seen = np.array(_run(config, range(TOTAL), model, opt, sched))
    if not config.spec.metric_driven:
        np.testing.assert_allclose(seen[:, 0], config.lrs(range(TOTAL), TOTAL), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(seen[:, 1], seen[:, 0] / 10, rtol=1e-12)  # group ratios kept


@pytest.mark.parametrize("name", [s.name for s in list_specs()])
def test_resume_from_state_dict_equals_the_uninterrupted_run(name):
    config = ScheduleConfig.create(name, lr=0.1, params={"patience": 2} if name == "plateau" else None)
    model, opt = _model_and_optimizer()
    sched = make_scheduler(opt, config, TOTAL)
    straight = _run(config, range(TOTAL), model, opt, sched)
    final_weights = model.weight.detach().clone()

    k = 23
    model, opt = _model_and_optimizer()
    sched = make_scheduler(opt, config, TOTAL)
    first = _run(config, range(k), model, opt, sched)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buffer)

    for optimizer_first in (False, True):  # either order of restoring optimizer and scheduler
        buffer.seek(0)
        checkpoint = torch.load(buffer, weights_only=True)  # fresh: training mutates loaded momentum buffers
        model, opt = _model_and_optimizer()
        model.load_state_dict(checkpoint["model"])
        if optimizer_first:
            opt.load_state_dict(checkpoint["opt"])
        sched = make_scheduler(opt, config, TOTAL)
        if not optimizer_first:
            opt.load_state_dict(checkpoint["opt"])
        sched.load_state_dict(checkpoint["sched"])
        rest = _run(config, range(k, TOTAL), model, opt, sched)
        assert first + rest == straight
        assert torch.equal(model.weight, final_weights)


def test_plateau_composes_with_warmup_and_ignores_metrics_during_it():
    config = ScheduleConfig.create("plateau", lr=1.0, params={"patience": 0, "factor": 0.5},
                                   warmup=Warmup("linear", 0.3, 0.0))
    model, opt = _model_and_optimizer(lr=1.0)
    sched = make_scheduler(opt, config, 10)
    lrs = []
    for _ in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        _train_step(model, opt, 0)
        sched.step(1.0)  # a flat metric: every evaluation after warmup is a plateau
    assert lrs[:4] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    # the first metric after warmup sets the best; each later one is a plateau with patience 0
    assert lrs[4:] == pytest.approx([1.0, 0.5, 0.25, 0.125, 0.0625, 0.03125])


def test_metric_to_a_schedule_that_takes_none_is_a_clear_error():
    model, opt = _model_and_optimizer()
    sched = make_scheduler(opt, ScheduleConfig.create("cosine"), 10)
    with pytest.raises(InvalidValueError, match="does not take a metric"):
        sched.step(0.5)


def test_loading_a_checkpoint_of_another_config_is_refused():
    model, opt = _model_and_optimizer()
    state = make_scheduler(opt, ScheduleConfig.create("cosine"), 10).state_dict()
    other = make_scheduler(opt, ScheduleConfig.create("step"), 10)
    with pytest.raises(InvalidValueError, match="checkpoint was made for"):
        other.load_state_dict(state)


def test_an_optimizer_at_another_lr_is_rescaled_with_a_warning_never_silently():
    """The config's LR is the peak: SGD(lr=0.01) under a config at 0.1 trains at 0.1 and says so."""
    model, opt = _model_and_optimizer(lr=0.01)
    with pytest.warns(LrOverrideWarning, match="optimizer's lr 0.01 differs from the schedule's 0.1"):
        make_scheduler(opt, ScheduleConfig.create("cosine", lr=0.1), 100)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1, 0.01])  # group ratio kept
    with warnings.catch_warnings():
        warnings.simplefilter("error", LrOverrideWarning)  # the documented way to refuse instead
        _, other = _model_and_optimizer(lr=0.01)
        with pytest.raises(LrOverrideWarning):
            make_scheduler(other, ScheduleConfig.create("cosine", lr=0.1), 100)
        _, same = _model_and_optimizer(lr=0.1)
        make_scheduler(same, ScheduleConfig.create("cosine", lr=0.1), 100)  # equal LRs: no warning


def test_an_optimizer_without_a_positive_lr_is_one_error_for_the_scheduler_and_the_hf_callback():
    from torch.optim.lr_scheduler import LambdaLR

    from lrrec.hooks.hf_trainer import LrrecTrainerCallback

    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.0)
    config = ScheduleConfig.create("cosine", lr=0.1)
    with pytest.raises(InvalidValueError, match="positive default lr"):
        make_scheduler(optimizer, config, 10)
    with pytest.raises(InvalidValueError, match="positive default lr"):  # the Trainer's learning_rate=0
        LrrecTrainerCallback()._follow(LambdaLR(optimizer, lambda _: 1.0), optimizer, config, 10)
