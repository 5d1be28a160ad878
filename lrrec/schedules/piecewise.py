"""Constant and piecewise-decay schedules: constant, step, multi-step, linear-then-constant, reduce-on-plateau."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import choice, fractions, integer, real
from lrrec.schedules.registry import ScheduleSpec, register
from lrrec.schedules.units import steps_of

register(ScheduleSpec(
    name="constant", family="constant",
    formula=lambda t, T, p: np.ones_like(t),
    params={}, aliases=("fixed", "fix", "none"),
    summary="the initial LR throughout",
    citation="Liu & Zhang 2023, survey section 3.1 (constant LR)",
))

register(ScheduleSpec(
    name="step", family="piecewise",
    formula=lambda t, T, p: p["gamma"] ** np.floor(t / steps_of(p["step_frac"], T, minimum=1)),
    params={
        "step_frac": real("step_frac", 0.3, "steps between decays, as a fraction of the budget",
                          valid=(0.0, 1.0), search=(0.1, 0.5), open_low=True),
        "gamma": real("gamma", 0.1, "multiplier applied at each decay", valid=(0.0, 1.0), search=(0.05, 0.7),
                      log=True, open_low=True),
    },
    aliases=("step_decay", "steplr"),
    summary="multiply by gamma every step_frac of the budget",
    citation="He et al. 2016, 'Deep residual learning' (step decay); torch StepLR",
))


def _multistep(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    """Decay takes effect at the milestone step itself (torch / mmengine / optax semantics)."""
    milestones = np.array([steps_of(m, T) for m in p["milestones"]], dtype=np.float64)
    count = np.searchsorted(milestones, t, side="right")
    return p["gamma"] ** count


register(ScheduleSpec(
    name="multistep", family="piecewise", formula=_multistep,
    params={
        "milestones": fractions("milestones", [0.5, 0.75], "decay points as fractions of the budget",
                                ((0.5, 0.75), (0.3, 0.6, 0.9), (0.5,), (1 / 3, 2 / 3), (0.6, 0.8))),
        "gamma": real("gamma", 0.1, "multiplier applied at each milestone", valid=(0.0, 1.0),
                      search=(0.05, 0.5), log=True, open_low=True),
    },
    aliases=("multi_step", "multisteplr", "nstep", "piecewise_constant"),
    summary="multiply by gamma at each milestone (the decay applies from the milestone step on; timm "
            "switches one step earlier, keras one step later)",
    citation="Krizhevsky et al. 2012 / He et al. 2016 (multi-step decay); torch MultiStepLR",
))


def _linear(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    n = steps_of(p["decay_frac"], T, minimum=1)
    return 1.0 + (p["end_factor"] - 1.0) * np.minimum(t, n) / n


register(ScheduleSpec(
    name="linear", family="piecewise", formula=_linear,
    params={
        "end_factor": real("end_factor", 0.0, "multiplier reached at the end of the decay", valid=(0.0, 1.0),
                           search=(0.0, 0.2)),
        "decay_frac": real("decay_frac", 1.0, "length of the decay as a fraction of the budget; then constant",
                           valid=(0.0, 1.0), search=(0.3, 1.0), open_low=True),
    },
    aliases=("linear_decay", "linearlr"),
    summary="linear decay to end_factor over decay_frac of the budget, then constant",
    citation="Liu & Zhang 2023, survey Table 2 (linear decay); torch LinearLR, optax linear_schedule",
))


register(ScheduleSpec(
    name="plateau", family="piecewise",
    formula=lambda t, T, p: np.ones_like(t),
    params={
        "mode": choice("mode", "min", "min for a loss, max for an accuracy", ("min", "max")),
        "factor": real("factor", 0.1, "multiplier applied at each reduction", valid=(0.0, 1.0),
                       search=(0.1, 0.7), open_low=True, open_high=True),
        "patience": integer("patience", 10, "evaluations without improvement tolerated (strictly more reduce)",
                            valid=(0, 1_000_000), search=(1, 20)),
        "threshold": real("threshold", 1e-4, "minimum change that counts as an improvement", valid=(0.0, 1e9),
                          search=(1e-5, 1e-2), log=True),
        "threshold_mode": choice("threshold_mode", "rel", "threshold relative to the best, or absolute",
                                 ("rel", "abs")),
        "cooldown": integer("cooldown", 0, "evaluations to wait after a reduction", valid=(0, 1_000_000),
                            search=(0, 5)),
        "min_lr_ratio": real("min_lr_ratio", 0.0, "floor of the scale, as a fraction of the initial LR",
                             valid=(0.0, 1.0), open_high=True),
        "eps": real("eps", 1e-8, "reductions smaller than this (on the scale) are skipped", valid=(0.0, 1.0)),
    },
    metric_driven=True,
    aliases=("reduce_on_plateau", "reducelronplateau", "loss_based", "loss_decay"),
    summary="multiply by factor when the monitored metric stops improving (feed it with step(metric))",
    citation="Senior et al. 2013, 'An empirical study of learning rates in DNNs for speech' (loss-based decay);"
             " torch ReduceLROnPlateau",
))
