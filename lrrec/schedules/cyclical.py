"""Cyclical schedules. The config's LR is the peak; `min_lr_ratio` sets the trough. They keep cycling past T."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import (
    Param,
    final_factor,
    fractions,
    integer,
    min_lr_ratio,
    real,
)
from lrrec.schedules.registry import ScheduleSpec, register
from lrrec.schedules.units import steps_of

_HALF_CYCLE = real("half_cycle_frac", 0.1, "half a cycle (Smith's step size) as a fraction of the budget",
                   valid=(0.0, 1.0), search=(0.02, 0.25), log=True, open_low=True)
def _trough() -> Param:
    return real("min_lr_ratio", 0.1, "LR at the trough, as a fraction of the peak", valid=(0.0, 1.0),
                search=(0.01, 0.5), log=True, open_high=True)


def _cycle_scale(kind: str, t: np.ndarray, T: int, half: int, p: Mapping[str, Any]) -> np.ndarray:
    """The amplitude factor of the plain (1), halving (2) and exponential (exp) variants."""
    if kind == "1":
        return np.ones_like(t)
    if kind == "2":
        return 0.5 ** np.floor(t / (2 * half))
    return p["final_factor"] ** (t / T)  # gamma**t with gamma = final_factor**(1/T)


def _triangular(kind: str):
    def formula(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
        half = steps_of(p["half_cycle_frac"], T, minimum=1)
        cycle = np.floor(1.0 + t / (2 * half))
        x = np.abs(t / half - 2.0 * cycle + 1.0)
        shape = np.maximum(0.0, 1.0 - x) * _cycle_scale(kind, t, T, half, p)
        return p["min_lr_ratio"] + (1.0 - p["min_lr_ratio"]) * shape
    return formula


def _sine(kind: str):
    def formula(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
        half = steps_of(p["half_cycle_frac"], T, minimum=1)
        shape = np.abs(np.sin(np.pi * t / (2 * half))) * _cycle_scale(kind, t, T, half, p)
        return p["min_lr_ratio"] + (1.0 - p["min_lr_ratio"]) * shape
    return formula


_EXP = {"final_factor": final_factor(0.1, "amplitude factor reached at the end of the budget (gamma**T)")}
_VARIANTS = {
    "1": ("", "constant amplitude", {}),
    "2": ("2", "amplitude halves every cycle", {}),
    "exp": ("exp", "amplitude decays as gamma**t", _EXP),
}
for _kind, (_suffix, _what, _extra) in _VARIANTS.items():
    register(ScheduleSpec(
        name=f"tri{_suffix}", family="cyclical", formula=_triangular(_kind),
        params={"half_cycle_frac": _HALF_CYCLE, "min_lr_ratio": _trough(), **_extra},
        aliases=(f"triangular{_suffix}", f"clr_tri{_suffix}"),
        summary=f"triangular cycles between trough and peak, starting at the trough; {_what}",
        citation="Smith 2017, 'Cyclical learning rates for training neural networks' (CLR); torch CyclicLR",
    ))
    register(ScheduleSpec(
        name=f"sin{_suffix}", family="cyclical", formula=_sine(_kind),
        params={"half_cycle_frac": _HALF_CYCLE, "min_lr_ratio": _trough(), **_extra},
        aliases=(f"sine{_suffix}",),
        summary=f"|sin(pi t / 2l)| cycles between trough and peak; {_what}",
        citation="Wu et al. 2019, 'Demystifying learning rate policies for high accuracy training' (LRBench)",
    ))


def restart_cycles(t: np.ndarray, first: int, mult: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For cycles of length first * mult**i: (cycle index i, steps into the cycle, cycle length)."""
    if mult == 1:
        index = np.floor(t / first)
    else:
        index = np.floor(np.log(t / first * (mult - 1) + 1.0) / np.log(mult))
        start = first * (mult ** index - 1) / (mult - 1)
        index = np.where(t < start, index - 1, index)  # correct float error at cycle boundaries
        index = np.where(t >= first * (mult ** (index + 1) - 1) / (mult - 1), index + 1, index)
    start = first * index if mult == 1 else first * (mult ** index - 1) / (mult - 1)
    length = first * float(mult) ** index
    return index, t - start, length


def restart_cosine(t: np.ndarray, first: int, mult: int, decay: float, floor: float) -> np.ndarray:
    """Cosine cycles with warm restarts; cycle i peaks at decay**i and falls to `floor`."""
    index, into, length = restart_cycles(t, first, mult)
    peak = decay ** index
    return floor + (peak - floor) * 0.5 * (1.0 + np.cos(np.pi * into / length))


register(ScheduleSpec(
    name="sgdr", family="cyclical",
    formula=lambda t, T, p: restart_cosine(t, steps_of(p["t0_frac"], T, minimum=1), p["t_mult"],
                                           p["restart_decay"], p["min_lr_ratio"]),
    params={
        "t0_frac": real("t0_frac", 0.1, "T0: first cycle as a fraction of the budget", valid=(0.0, 1.0),
                        search=(0.03, 0.5), log=True, open_low=True),
        "t_mult": integer("t_mult", 2, "Tmult: each cycle is this many times longer", valid=(1, 10),
                          search=(1, 3)),
        "restart_decay": real("restart_decay", 1.0, "peak multiplier per restart (1 = no decay)",
                              valid=(0.0, 1.0), search=(0.3, 1.0), open_low=True),
        "min_lr_ratio": min_lr_ratio(),
    },
    aliases=("cosine_warm_restarts", "cosineannealingwarmrestarts", "cosine_with_restarts"),
    summary="cosine cycles with warm restarts; cycle i lasts T0*Tmult**i and peaks at restart_decay**i",
    citation="Loshchilov & Hutter 2017, 'SGDR: stochastic gradient descent with warm restarts'",
))

register(ScheduleSpec(
    name="ssgdr", family="cyclical",
    formula=lambda t, T, p: restart_cosine(t, steps_of(p["cycle_frac"], T, minimum=1), 1, p["gamma"],
                                           p["min_lr_ratio"]),
    params={
        "cycle_frac": real("cycle_frac", 0.25, "cycle length (= step-decay period) as a fraction of the budget",
                           valid=(0.0, 1.0), search=(0.05, 0.5), log=True, open_low=True),
        "gamma": real("gamma", 0.5, "step decay of the peak at each restart", valid=(0.0, 1.0),
                      search=(0.1, 0.9), open_low=True),
        "min_lr_ratio": min_lr_ratio(),
    },
    aliases=("sgdr_step", "step_sgdr"),
    summary="SGDR with equal cycles whose peak decays by gamma each cycle (step decay with the SGDR period); "
            "formula as the survey's Table 4 states it, the original paper was not available",
    citation="Yang et al. 2017, 'Diversity encouraging ensemble of CNNs for action recognition' (ICIP), "
             "as described by Liu & Zhang 2023",
))


def _espnet(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    cycle = steps_of(p["cycle_frac"], T, minimum=1)
    milestones = np.array([steps_of(m, T) for m in p["milestones"]], dtype=np.float64)
    decays = np.searchsorted(milestones, t, side="right")
    return (cycle - np.mod(t, cycle)) / cycle * p["gamma"] ** decays


register(ScheduleSpec(
    name="espnet", family="cyclical", formula=_espnet,
    params={
        "cycle_frac": real("cycle_frac", 0.05, "cycle length C as a fraction of the budget", valid=(0.0, 1.0),
                           search=(0.02, 0.2), log=True, open_low=True),
        "milestones": fractions("milestones", [0.5], "points where the LR range is multiplied by gamma",
                                ((0.5,), (0.5, 0.75), (1 / 3, 2 / 3))),
        "gamma": real("gamma", 0.5, "multiplier of the whole cycle at each milestone", valid=(0.0, 1.0),
                      search=(0.1, 1.0), open_low=True),
    },
    aliases=("espnetv2", "cyclic_linear", "slanted_triangle", "linear_warm_restarts"),
    summary="linear saw-tooth: peak = C * trough, falling by one trough per step, restarting every C steps",
    citation="Mehta et al. 2019, 'ESPNetv2' (cyclic LR with linear warm restarts)",
))
