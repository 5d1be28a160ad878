"""The warmup family (and WSD / REX). Each warmup here is the shared `apply_warmup` prefix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrrec.errors import InvalidValueError
from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import Param, choice, flag, min_lr_ratio, real
from lrrec.schedules.registry import ScheduleSpec, register
from lrrec.schedules.smooth import cosine_shape, floored, progress
from lrrec.schedules.units import steps_of
from lrrec.schedules.warmup import apply_warmup


def _warmup_frac(default: float = 0.05) -> Param:
    return real("warmup_frac", default, "warmup length as a fraction of the budget", valid=(0.0, 1.0),
                search=(0.01, 0.3), log=True, open_high=True)


def _start_factor(default: float) -> Param:
    return real("start_factor", default, "LR at step 0 as a fraction of the peak", valid=(0.0, 1.0),
                search=(0.0, 0.5))


def _warm(main, kind: str = "linear"):
    """A formula: `main(t', T', p)` behind a `kind` warmup of warmup_frac of the budget from start_factor."""
    def formula(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
        return apply_warmup(lambda tm, Tm: main(tm, Tm, p), t, T, steps_of(p["warmup_frac"], T),
                            kind, p["start_factor"])
    return formula


register(ScheduleSpec(
    name="constant_warmup", family="warmup",
    formula=_warm(lambda t, T, p: np.ones_like(t), kind="constant"),
    params={"warmup_frac": _warmup_frac(0.02), "start_factor": _start_factor(0.1)},
    includes_warmup=True, aliases=("gradual_constant_warmup",),
    summary="a low constant LR (start_factor) for the warmup, then the initial LR",
    citation="He et al. 2016, 'Deep residual learning' (0.01 until training error < 80%, then 0.1)",
))

register(ScheduleSpec(
    name="linear_warmup", family="warmup",
    formula=_warm(lambda t, T, p: np.ones_like(t)),
    params={"warmup_frac": _warmup_frac(), "start_factor": _start_factor(0.0)},
    includes_warmup=True, aliases=("constant_with_warmup", "gradual_warmup"),
    summary="a linear ramp from start_factor to the initial LR, then constant",
    citation="Goyal et al. 2017, 'Accurate, large minibatch SGD: training ImageNet in 1 hour'",
))


def _noam(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    warmup = steps_of(p["warmup_frac"], T)
    tau = max(p["timescale_ratio"] * warmup, 1.0)
    return apply_warmup(lambda tm, Tm: np.sqrt(tau / (tm + tau)), t, T, warmup, "linear", 0.0)


register(ScheduleSpec(
    name="noam", family="warmup", formula=_noam,
    params={
        "warmup_frac": _warmup_frac(0.04),
        "timescale_ratio": real("timescale_ratio", 1.0, "decay timescale as a multiple of the warmup "
                                "(1 = Vaswani: sqrt(w/t))", valid=(0.0, 100.0), search=(0.5, 4.0),
                                log=True, open_low=True),
    },
    includes_warmup=True, aliases=("warmup_inverse_sqrt", "transformer", "inverse_sqrt_warmup"),
    summary="linear warmup from 0, then sqrt(w/t); the peak LR equals (d_model * w)**-0.5 in Vaswani's form",
    citation="Vaswani et al. 2017, 'Attention is all you need' (warmup + inverse square root)",
))


def _stlr(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    cut = int(np.floor(T * p["cut_frac"]))
    low = 1.0 / p["ratio"]
    decay = lambda tm, Tm: low + (1.0 - low) * (1.0 - progress(tm, Tm))  # noqa: E731
    return apply_warmup(decay, t, T, cut, "linear", low)


register(ScheduleSpec(
    name="stlr", family="warmup", formula=_stlr,
    params={
        "cut_frac": real("cut_frac", 0.1, "fraction of the budget spent increasing", valid=(0.0, 1.0),
                         search=(0.02, 0.3), open_low=True, open_high=True),
        "ratio": real("ratio", 32.0, "peak LR / lowest LR", valid=(1.0, 1e6), search=(4.0, 100.0), log=True),
    },
    includes_warmup=True, aliases=("slanted_triangular", "ulmfit"),
    summary="linear rise over cut_frac of the budget from lr/ratio to lr, then linear fall back to lr/ratio",
    citation="Howard & Ruder 2018, 'Universal language model fine-tuning' (ULMFiT slanted triangular)",
))


def decay_tail(t: np.ndarray, T: int, decay_steps: int, kind: str) -> np.ndarray:
    """1 until the last `decay_steps` of the budget, then down to 0 at T by `kind` (linear/cosine/1-sqrt)."""
    frac = np.clip((t - (T - decay_steps)) / max(decay_steps, 1), 0.0, 1.0)
    if kind == "linear":
        return 1.0 - frac
    if kind == "cosine":
        return 0.5 * (1.0 + np.cos(np.pi * frac))
    return 1.0 - np.sqrt(frac)


def _check_phases(p: Mapping[str, Any], where: str) -> None:
    if p["warmup_frac"] + p["decay_frac"] > 1.0:
        raise InvalidValueError(f"{where}: warmup_frac + decay_frac must not exceed 1, got "
                                f"{p['warmup_frac']} + {p['decay_frac']}")


def _wsd(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    decay_steps = steps_of(p["decay_frac"], T)
    main = lambda tm, Tm: floored(decay_tail(tm, Tm, decay_steps, p["decay_type"]), p["min_lr_ratio"])  # noqa: E731
    return apply_warmup(main, t, T, steps_of(p["warmup_frac"], T), "linear", p["start_factor"])


_DECAY_FRAC = real("decay_frac", 0.2, "final decay phase as a fraction of the budget", valid=(0.0, 1.0),
                   search=(0.05, 0.5), open_low=True)

register(ScheduleSpec(
    name="trapezoid", family="warmup",
    formula=lambda t, T, p: _wsd(t, T, {**p, "decay_type": "linear", "min_lr_ratio": 0.0, "start_factor": 0.0}),
    params={"warmup_frac": _warmup_frac(), "decay_frac": _DECAY_FRAC},
    includes_warmup=True, check=_check_phases, aliases=("long_trapezoid", "trapezoidal"),
    summary="linear warmup from 0, constant, linear cooldown to 0 over the last decay_frac",
    citation="Xing et al. 2018, 'A walk with SGD' (long trapezoid), as named by Hagele et al. 2024",
))

register(ScheduleSpec(
    name="wsd", family="warmup", formula=_wsd,
    params={
        "warmup_frac": _warmup_frac(),
        "decay_frac": _DECAY_FRAC,
        "decay_type": choice("decay_type", "1-sqrt", "shape of the final decay", ("1-sqrt", "linear", "cosine")),
        "min_lr_ratio": min_lr_ratio(),
        "start_factor": _start_factor(0.0),
    },
    includes_warmup=True, check=_check_phases, aliases=("warmup_stable_decay",),
    summary="warmup, a stable plateau at the peak, then a short decay to the floor",
    citation="Hu et al. 2024, 'MiniCPM' (warmup-stable-decay); 1-sqrt cooldown from Hagele et al. 2024",
))


def _anneal(start: float, end: float, pct: np.ndarray, kind: str) -> np.ndarray:
    if kind == "cos":
        return end + (start - end) / 2.0 * (1.0 + np.cos(np.pi * pct))
    return start + (end - start) * pct


def _one_cycle(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    """torch OneCycleLR's phases (phase ends at pct*T - 1, ...); held at the final value from t = T - 1 on."""
    initial = 1.0 / p["div_factor"]
    final = initial / p["final_div_factor"]
    up_end = p["pct_start"] * T - 1.0
    if p["three_phase"]:
        phases = [(up_end, initial, 1.0), (2.0 * p["pct_start"] * T - 2.0, 1.0, initial), (T - 1.0, initial, final)]
    else:
        phases = [(up_end, initial, 1.0), (T - 1.0, 1.0, final)]
    tc = np.minimum(t, T - 1.0)
    out = np.empty_like(tc)
    done = np.zeros(tc.shape, dtype=bool)
    begin = 0.0
    for i, (end, lo, hi) in enumerate(phases):
        here = ~done & ((tc <= end) | (i == len(phases) - 1))
        span = end - begin
        pct = np.clip((tc - begin) / span, 0.0, 1.0) if span > 0 else np.ones_like(tc)
        out = np.where(here, _anneal(lo, hi, pct, p["anneal"]), out)
        done |= here
        begin = end
    return out


register(ScheduleSpec(
    name="one_cycle", family="warmup", formula=_one_cycle,
    params={
        "pct_start": real("pct_start", 0.3, "fraction of the budget spent increasing", valid=(0.0, 0.5),
                          search=(0.1, 0.45), open_low=True, open_high=True),
        "div_factor": real("div_factor", 25.0, "peak / starting LR", valid=(1.0, 1e6), search=(5.0, 100.0),
                           log=True),
        "final_div_factor": real("final_div_factor", 1e4, "starting / final LR", valid=(1.0, 1e9),
                                 search=(10.0, 1e5), log=True),
        "anneal": choice("anneal", "cos", "interpolation between phases", ("cos", "linear")),
        "three_phase": flag("three_phase", False, "the paper's three phases (down to the start, then below)"),
    },
    includes_warmup=True, aliases=("onecycle", "1cycle", "onecyclelr", "super_convergence"),
    summary="rise to the peak over pct_start, then anneal far below the start (torch OneCycleLR phases; "
            "held at the final value instead of extrapolating past the budget)",
    citation="Smith & Topin 2019, 'Super-convergence' (1cycle policy)",
))

register(ScheduleSpec(
    name="warmup_cosine", family="warmup",
    formula=_warm(lambda t, T, p: floored(cosine_shape(t, T), p["min_lr_ratio"])),
    params={"warmup_frac": _warmup_frac(), "start_factor": _start_factor(0.0), "min_lr_ratio": min_lr_ratio()},
    includes_warmup=True, aliases=("linear_warmup_cosine", "cosine_with_warmup", "lwarmcosine"),
    summary="linear warmup, then cosine from the peak to the floor over the rest of the budget",
    citation="Pham et al. (as cited by Liu & Zhang 2023); transformers get_cosine_schedule_with_warmup",
))
