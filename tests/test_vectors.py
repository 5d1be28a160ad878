"""lrrec reproduces the reference libraries' LR vectors to 1e-6 wherever its parameters mean the same thing.

Each case maps a reference call (a key of tests/data/vectors/*.json) to an lrrec config, the budget T and the
steps compared. Durations are fractions of T in lrrec, so e.g. torch StepLR(step_size=3) with T=12 is
step_frac=0.25. Where lrrec deliberately differs, a `test_pinned_*` test states and checks lrrec's choice.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrrec.schedules import ScheduleConfig, Warmup
from lrrec.schedules.plateau import scales_for

VECTORS: dict[str, list[float]] = {}
for _path in sorted((Path(__file__).parent / "data" / "vectors").glob("*.json")):
    VECTORS.update(json.loads(_path.read_text()))


def cfg(name: str, lr: float = 1.0, warmup: Warmup | None = None, **params) -> ScheduleConfig:
    return ScheduleConfig.create(name, lr=lr, params=params, warmup=warmup)


SGDR_4_2 = dict(t0_frac=0.25, t_mult=2)
CLR = dict(half_cycle_frac=0.25, min_lr_ratio=0.1)
NOAM_LR = (512 * 4000) ** -0.5

# (reference key, lrrec config, T, steps compared (None = every value), steps offset in the reference)
CASES = [
    ("torch.StepLR(step_size=3,gamma=0.5)", cfg("step", step_frac=0.25, gamma=0.5), 12, None),
    ("timm.StepLRScheduler(decay_t=3,decay_rate=0.5)", cfg("step", step_frac=0.25, gamma=0.5), 12, None),
    ("optax.exponential_decay(1.0,3,0.5,staircase=True)", cfg("step", step_frac=0.25, gamma=0.5), 12, None),
    ("LRBench STEP(k0=1,gamma=0.5,l=3)", cfg("step", step_frac=0.25, gamma=0.5), 12, None),
    ("torch.MultiStepLR(milestones=[3,6],gamma=0.1)", cfg("multistep", milestones=[1 / 3, 2 / 3]), 9, None),
    ("mmengine.MultiStepLR(milestones=[3,6],gamma=0.1,by_epoch=False)", cfg("multistep", milestones=[1 / 3, 2 / 3]), 9, None),
    ("optax.piecewise_constant_schedule(1.0,{3:0.1,6:0.1})", cfg("multistep", milestones=[1 / 3, 2 / 3]), 9, None),
    ("torch.ExponentialLR(gamma=0.9)", cfg("exponential", final_factor=0.9**7), 7, None),
    ("optax.exponential_decay(1.0,transition_steps=1,decay_rate=0.9)", cfg("exponential", final_factor=0.9**7), 7, None),
    ("keras.ExponentialDecay(1.0,decay_steps=1,decay_rate=0.9)", cfg("exponential", final_factor=0.9**7), 7, None),
    ("LRBench EXP(k0=1,gamma=0.9)", cfg("exponential", final_factor=0.9**7), 7, None),
    ("torch.PolynomialLR(total_iters=5,power=2)", cfg("polynomial", power=2.0), 5, None),
    ("timm.PolyLRScheduler(t_initial=5,power=2)", cfg("polynomial", power=2.0), 5, None),
    ("optax.polynomial_schedule(1.0,0.0,power=2,transition_steps=5)", cfg("polynomial", power=2.0), 5, None),
    ("keras.PolynomialDecay(1.0,decay_steps=5,end_learning_rate=0.0,power=2)", cfg("polynomial", power=2.0), 5, None),
    ("LRBench POLY(k0=0,k1=1,p=2,l=5)  [NB k1=start, k0=end]", cfg("polynomial", power=2.0), 5, None),
    ("hf.get_polynomial_decay_schedule_with_warmup(0,5,lr_end=1e-7,power=2)", cfg("polynomial", power=2.0, end_factor=1e-7), 5, None),
    ("keras.InverseTimeDecay(1.0,decay_steps=1,decay_rate=0.5)", cfg("inverse_time", final_factor=1 / 4.5), 7, None),
    ("LRBench INV(k0=1,gamma=0.5,p=1)", cfg("inverse_time", final_factor=1 / 4.5), 7, None),
    ("Bottou lr0/(1+lr0*lam*t), lr0=1, lam=0.5", cfg("inverse_time", final_factor=1 / 4.5), 7, None),
    ("torch.CosineAnnealingLR(T_max=10,eta_min=0.1) [t=0..14]", cfg("cosine", min_lr_ratio=0.1), 10, range(11)),
    ("mmengine.CosineAnnealingLR(T_max=10,eta_min=0.1,by_epoch=False) [t=0..14]", cfg("cosine", min_lr_ratio=0.1), 10, range(11)),
    ("timm.CosineLRScheduler(t_initial=10,lr_min=0.1) [t=0..14]", cfg("cosine", min_lr_ratio=0.1), 10, None),
    ("optax.cosine_decay_schedule(1.0,10,alpha=0.1) [t=0..14]", cfg("cosine", min_lr_ratio=0.1), 10, None),
    ("keras.CosineDecay(1.0,decay_steps=10,alpha=0.1) [t=0..14]", cfg("cosine", min_lr_ratio=0.1), 10, None),
    ("hf.get_cosine_schedule_with_warmup(0,10) [t=0..14]", cfg("cosine"), 10, range(11)),
    ("formula HTD 0.5*(1-tanh(L+(U-L)*t/T)), L=-6,U=3,T=10", cfg("htd"), 10, None),
    ("timm.TanhLRScheduler(t_initial=10,lb=-6,ub=3)", cfg("htd"), 10, range(10)),
    ("timm.TanhLRScheduler(t_initial=10) defaults lb=-7,ub=3", cfg("htd", lower=-7.0), 10, range(10)),
    ("cosine power closed form (p^(c+1)-p)/(p^2-p), t=0..10", cfg("cosine_power", lr=0.1), 10, None),
    ("TF linear_cosine_decay(lr=1,decay_steps=10) defaults", cfg("linear_cosine"), 10, None),
    ("TF linear_cosine_decay(lr=1,decay_steps=10,num_periods=2)", cfg("linear_cosine", num_periods=2.0), 10, None),
    ("T5 rsqrt 1/sqrt(max(n,1e4)) @ [0,5000,10000,40000,1e6]", cfg("inverse_sqrt", lr=0.01, hold_frac=0.01), 10**6,
     [0, 5000, 10000, 40000, 10**6]),
    ("formula REX (1-p)/(1-p/2), p=t/10", cfg("rex"), 10, None),
    ("torch.CyclicLR(base_lr=0.1,max_lr=1.0,step_size_up=4,mode=triangular,gamma=0.9)", cfg("tri", **CLR), 16, None),
    ("LRBench TRI(k0=0.1,k1=1.0,l=4)", cfg("tri", **CLR), 16, None),
    ("torch.CyclicLR(base_lr=0.1,max_lr=1.0,step_size_up=4,mode=triangular2,gamma=0.9)", cfg("tri2", **CLR), 16, None),
    ("LRBench TRI2(k0=0.1,k1=1.0,l=4)", cfg("tri2", **CLR), 16, None),
    ("torch.CyclicLR(base_lr=0.1,max_lr=1.0,step_size_up=4,mode=exp_range,gamma=0.9)",
     cfg("triexp", final_factor=0.9**16, **CLR), 16, None),
    ("LRBench TRIEXP(k0=0.1,k1=1.0,l=4,gamma=0.9)", cfg("triexp", final_factor=0.9**16, **CLR), 16, None),
    ("LRBench SIN(k0=0.1,k1=1.0,l=4)", cfg("sin", **CLR), 16, None),
    ("LRBench SIN2(k0=0.1,k1=1.0,l=4)", cfg("sin2", **CLR), 16, None),
    ("LRBench SINEXP(k0=0.1,k1=1.0,l=4,gamma=0.9)", cfg("sinexp", final_factor=0.9**16, **CLR), 16, None),
    ("torch.CosineAnnealingWarmRestarts(T_0=4,T_mult=2)", cfg("sgdr", **SGDR_4_2), 16, None),
    ("timm.CosineLRScheduler(t_initial=4,cycle_mul=2,cycle_limit=3)", cfg("sgdr", **SGDR_4_2), 16, None),
    ("keras.CosineDecayRestarts(1.0,first_decay_steps=4,t_mul=2.0,m_mul=1.0)", cfg("sgdr", **SGDR_4_2), 16, None),
    ("optax.sgdr_schedule([dict(init_value=1,peak_value=1,warmup_steps=0,decay_steps=d) for d in (4,8,16)])",
     cfg("sgdr", **SGDR_4_2), 16, None),
    ("timm.CosineLRScheduler(t_initial=4,cycle_mul=2,cycle_decay=0.5,cycle_limit=3)",
     cfg("sgdr", restart_decay=0.5, **SGDR_4_2), 16, None),
    ("mmengine.CosineRestartLR(periods=[4,8,16],restart_weights=[1,0.5,0.25],eta_min=0,by_epoch=False)",
     cfg("sgdr", restart_decay=0.5, **SGDR_4_2), 16, None),
    ("keras.CosineDecayRestarts(1.0,4,t_mul=2.0,m_mul=0.5)", cfg("sgdr", restart_decay=0.5, **SGDR_4_2), 16, None),
    ("pytorch_optimizer.CosineAnnealingWarmupRestarts(first_cycle_steps=4,cycle_mult=2,max_lr=1,min_lr=0,"
     "warmup_steps=0,gamma=0.5)", cfg("sgdr", restart_decay=0.5, **SGDR_4_2), 16, range(1, 16)),
    ("hf.get_cosine_with_hard_restarts_schedule_with_warmup(0,12,num_cycles=3)", cfg("sgdr", t0_frac=1 / 3, t_mult=1),
     12, range(12)),
    ("ESPNetv2 CyclicLR(min_lr=0.1,cycle_len=5,steps=[8],gamma=0.5) epochs 0..14",
     cfg("espnet", lr=0.5, cycle_frac=5 / 14, milestones=[0.5], gamma=0.5,
         warmup=Warmup("constant", 1 / 15, 0.2)), 15, None),
    ("torch.OneCycleLR(max_lr=1,total_steps=10) [cos, 2-phase]", cfg("one_cycle"), 10, range(10)),
    ("mmengine.OneCycleLR(eta_max=1,total_steps=10,by_epoch=False)", cfg("one_cycle"), 10, None),
    ("torch.OneCycleLR(max_lr=1,total_steps=10,three_phase=True)", cfg("one_cycle", three_phase=True), 10, None),
    ("torch.OneCycleLR(max_lr=1,total_steps=10,anneal_strategy=linear)", cfg("one_cycle", anneal="linear"), 10, None),
    ("torch.ConstantLR(factor=0.1,total_iters=3)", cfg("constant_warmup", warmup_frac=0.5, start_factor=0.1), 6, None),
    ("torch.LinearLR(start_factor=0.1,total_iters=5)", cfg("linear_warmup", warmup_frac=5 / 7, start_factor=0.1), 7, None),
    ("hf.get_constant_schedule_with_warmup(3)", cfg("linear_warmup", warmup_frac=0.5), 6, None),
    ("optax.warmup_constant_schedule(0.0,1.0,3)", cfg("linear_warmup", warmup_frac=0.5), 6, None),
    ("hf.get_linear_schedule_with_warmup(3,10)", cfg("linear", warmup=Warmup("linear", 0.3)), 10, None),
    ("optax.linear_schedule(1.0,0.0,transition_steps=7,transition_begin=3)",
     cfg("linear", warmup=Warmup("constant", 0.3, 1.0)), 10, None),
    ("hf.get_cosine_schedule_with_warmup(3,10)", cfg("warmup_cosine", warmup_frac=0.3), 10, range(11)),
    ("optax.warmup_cosine_decay_schedule(0.0,1.0,warmup_steps=3,decay_steps=10)", cfg("warmup_cosine", warmup_frac=0.3), 10, None),
    ("keras.CosineDecay(0.0,decay_steps=7,warmup_target=1.0,warmup_steps=3)", cfg("warmup_cosine", warmup_frac=0.3), 10, None),
    ("timm.CosineLRScheduler(t_initial=7,warmup_t=3,warmup_prefix=True,warmup_lr_init=0)",
     cfg("warmup_cosine", warmup_frac=0.3), 10, None),
    ("optax.join_schedules([linear 0->1 over 3, cosine_decay(1,7)],[3])", cfg("warmup_cosine", warmup_frac=0.3), 10, None),
    ("pytorch_optimizer.CosineScheduler(t_max=10,max_lr=1,warmup_steps=3) step() returns",
     cfg("warmup_cosine", warmup_frac=0.3), 10, range(11)),
    ("pytorch_optimizer.LinearScheduler(t_max=10,max_lr=1,warmup_steps=3) step() returns",
     cfg("linear", warmup=Warmup("linear", 0.3)), 10, range(11)),
    ("hf.get_cosine_with_min_lr_schedule_with_warmup(3,10,min_lr_rate=0.1)",
     cfg("warmup_cosine", warmup_frac=0.3, min_lr_ratio=0.1), 10, range(11)),
    ("torch.SequentialLR([LinearLR(start_factor=0.25,total_iters=3), CosineAnnealingLR(T_max=7)], milestones=[3])",
     cfg("warmup_cosine", warmup_frac=0.3, start_factor=0.25), 10, range(11)),
    ("hf.get_inverse_sqrt_schedule(num_warmup_steps=4) (timescale=4)", cfg("noam", warmup_frac=1 / 3), 12, None),
    ("hf.get_inverse_sqrt_schedule(num_warmup_steps=4,timescale=8)", cfg("noam", warmup_frac=1 / 3, timescale_ratio=2.0), 12, None),
    ("Noam d_model=512,warmup=4000 @ steps [1,1000,2000,4000,8000,16000,100000]",
     cfg("noam", lr=NOAM_LR, warmup_frac=0.04), 100_000, [1, 1000, 2000, 4000, 8000, 16000, 100_000]),
    ("ULMFiT STLR T=20,cut_frac=0.1,ratio=32,lr_max=1 (t=0..20)", cfg("stlr"), 20, None),
    ("trapezoid T=10,w=2,c=3 (GUESS shape)", cfg("trapezoid", warmup_frac=0.2, decay_frac=0.3), 10, None),
    ("hf.get_wsd_schedule(warmup=2,decay=3,total=10,decay_type=linear)",
     cfg("wsd", warmup_frac=0.2, decay_frac=0.3, decay_type="linear"), 10, None),
    ("hf.get_wsd_schedule(warmup=2,decay=3,total=10,decay_type=cosine)",
     cfg("wsd", warmup_frac=0.2, decay_frac=0.3, decay_type="cosine"), 10, None),
    ("hf.get_wsd_schedule(warmup=2,decay=3,total=10,decay_type=1-sqrt)", cfg("wsd", warmup_frac=0.2, decay_frac=0.3), 10, None),
    ("timm.WSDLRScheduler(t_initial=8,decay_t=3,warmup_t=2,decay_fn=1-sqrt)", cfg("wsd", warmup_frac=0.2, decay_frac=0.3), 10, None),
    ("timm.WSDLRScheduler(t_initial=8,decay_t=3,warmup_t=2,decay_fn=linear)",
     cfg("wsd", warmup_frac=0.2, decay_frac=0.3, decay_type="linear"), 10, None),
    ("pytorch_optimizer.get_wsd_schedule(2,5,3) (cooldown 1-sqrt default)", cfg("wsd", warmup_frac=0.2, decay_frac=0.3), 10, None),
    ("hf.get_wsd_schedule(2,3,num_training_steps=10,decay_type=1-sqrt,min_lr_ratio=0.1)",
     cfg("wsd", warmup_frac=0.2, decay_frac=0.3, min_lr_ratio=0.1, start_factor=0.1), 10, None),
]


@pytest.mark.parametrize("key, config, total, steps", CASES, ids=[c[0][:60] for c in CASES])
def test_reference_vector(key, config, total, steps):
    expected = np.array(VECTORS[key], dtype=float)
    if steps is None:
        steps = range(len(expected))
    steps = list(steps)
    if len(steps) != len(expected):  # a subset of a vector indexed from t=0
        expected = expected[steps]
    np.testing.assert_allclose(config.lrs(steps, total), expected, rtol=1e-6, atol=1e-6)


def test_rex_matches_pytorch_optimizer_shifted_by_its_first_step():
    """pytorch-optimizer's REXScheduler returns t=1, 2, ... from step(); t=0 (the peak) is never applied."""
    theirs = VECTORS["pytorch_optimizer.REXScheduler(total_steps=10,max_lr=1,min_lr=0) step() returns"]
    np.testing.assert_allclose(cfg("rex").lrs(range(1, 12), 10), theirs, atol=1e-9)


@pytest.mark.parametrize("key, patience, cooldown", [
    ("torch.ReduceLROnPlateau(mode=min,factor=0.5,patience=2,threshold=1e-4,cooldown=1)", 2, 1),
    ("torch.ReduceLROnPlateau(mode=min,factor=0.5,patience=0)", 0, 0),
])
def test_plateau_matches_torch(key, patience, cooldown):
    config = cfg("plateau", factor=0.5, patience=patience, cooldown=cooldown)
    scales = scales_for(config.params, VECTORS["plateau metrics fed after each epoch"])
    np.testing.assert_allclose(scales, VECTORS[key], atol=1e-12)


# --- deliberate differences, pinned ---------------------------------------------------------------------
def test_pinned_multistep_switches_at_the_milestone_not_one_step_early_like_timm():
    ours = cfg("multistep", milestones=[1 / 3, 2 / 3]).lrs(range(9), 9)
    timm = np.array(VECTORS["timm.MultiStepLRScheduler(decay_t=[3,6],decay_rate=0.1)"])
    keras = np.array(VECTORS["keras.PiecewiseConstantDecay(boundaries=[3,6],values=[1.0,0.1,0.01])"])
    assert ours[2] == 1.0 and timm[2] == pytest.approx(0.1)  # timm decays at t = m - 1
    assert ours[3] == pytest.approx(0.1) and keras[3] == 1.0  # keras decays at t = m + 1
    np.testing.assert_allclose(ours[:2], timm[:2])


def test_pinned_cosine_holds_its_floor_after_the_budget_where_torch_climbs_back():
    ours = cfg("cosine", min_lr_ratio=0.1).lrs(range(15), 10)
    torch_values = np.array(VECTORS["torch.CosineAnnealingLR(T_max=10,eta_min=0.1) [t=0..14]"])
    np.testing.assert_allclose(ours[10:], 0.1)
    assert np.all(torch_values[11:] > 0.1 + 1e-3)


def test_pinned_cosine_is_half_a_period_over_the_budget_not_lrbench_period_2l():
    ours = cfg("cosine", min_lr_ratio=0.1).lrs(range(17), 4)
    lrbench = np.array(VECTORS["LRBench COS(k0=0.1,k1=1.0,l=4)"])
    np.testing.assert_allclose(ours[:5], lrbench[:5], atol=1e-9)
    np.testing.assert_allclose(ours[5:], 0.1)
    assert lrbench[8] == pytest.approx(1.0)  # LRBench is back at the peak after 2l


def test_pinned_one_cycle_holds_the_final_value_where_torch_extrapolates():
    ours = cfg("one_cycle").lrs([9, 10, 11], 10)
    torch_t10 = VECTORS["torch.OneCycleLR(max_lr=1,total_steps=10) [cos, 2-phase]"][10]
    np.testing.assert_allclose(ours, 4e-6)
    assert torch_t10 > 0.04


def test_pinned_htd_keeps_the_formula_value_at_t_equals_T_where_timm_returns_lr_min():
    ours = cfg("htd").lrs([10], 10)[0]
    assert ours == pytest.approx(VECTORS["formula HTD 0.5*(1-tanh(L+(U-L)*t/T)), L=-6,U=3,T=10"][10])
    assert VECTORS["timm.TanhLRScheduler(t_initial=10,lb=-6,ub=3)"][10] == 0.0


def test_pinned_cosine_power_is_the_closed_form_not_sharpdarts_epoch_1_indexing():
    ours = cfg("cosine_power", lr=0.1).lrs(range(10), 10)
    repo = np.array(VECTORS["sharpDARTS cosine_power_annealing repo impl T=10,max=0.1,min=1e-4,p=10 (epochs 1..10)"])
    assert ours[0] == pytest.approx(repo[0])
    assert abs(ours[1] - repo[1]) > 1e-3  # the repo maps t=1 (not t=0) to the peak and rescales


def test_pinned_mmengine_poly_reaches_zero_one_step_before_torch():
    ours = cfg("polynomial", power=2.0).lrs(range(8), 5)
    mm = np.array(VECTORS["mmengine.PolyLR(eta_min=0,power=2,begin=0,end=5,by_epoch=False)"])
    assert ours[4] == pytest.approx(0.04) and mm[4] == 0.0
