"""Smooth-decay schedules. Every one holds its end value for t > T (no climb back after the budget)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrrec.schedules.lazy_numpy import np
from lrrec.schedules.params import final_factor, flag, integer, min_lr_ratio, real
from lrrec.schedules.registry import ScheduleSpec, register
from lrrec.schedules.units import steps_of


def progress(t: np.ndarray, T: int) -> np.ndarray:
    """Fraction of the budget done, clamped to [0, 1]."""
    return np.minimum(t, T) / T


def floored(shape: np.ndarray, ratio: float) -> np.ndarray:
    """Lift a 1 -> 0 shape onto 1 -> ratio."""
    return ratio + (1.0 - ratio) * shape


def cosine_shape(t: np.ndarray, T: int) -> np.ndarray:
    """Half a cosine from 1 at t=0 to 0 at t=T, held at 0 after T."""
    return 0.5 * (1.0 + np.cos(np.pi * progress(t, T)))


register(ScheduleSpec(
    name="exponential", family="smooth",
    formula=lambda t, T, p: p["final_factor"] ** progress(t, T),
    params={"final_factor": final_factor(0.01, "multiplier reached at the end of the budget (gamma**T)")},
    aliases=("exp", "exponential_decay", "exponentiallr"),
    summary="geometric decay reaching final_factor at the end of the budget (gamma = final_factor**(1/T))",
    citation="Ioffe & Szegedy 2015 (exponential decay); torch ExponentialLR, keras ExponentialDecay",
))

register(ScheduleSpec(
    name="polynomial", family="smooth",
    formula=lambda t, T, p: p["end_factor"] + (1.0 - p["end_factor"]) * (1.0 - progress(t, T)) ** p["power"],
    params={
        "power": real("power", 1.0, "exponent of the decay", valid=(0.0, 10.0), search=(0.5, 3.0),
                      open_low=True),
        "end_factor": real("end_factor", 0.0, "multiplier reached at the end of the budget", valid=(0.0, 1.0),
                           search=(0.0, 0.1), open_high=True),
    },
    aliases=("poly", "polynomiallr", "polynomial_decay"),
    summary="(1 - t/T)**power down to end_factor",
    citation="Chen et al. 2018, DeepLab (poly decay); torch PolynomialLR, optax polynomial_schedule",
))

def _inverse_sqrt(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    hold = steps_of(p["hold_frac"], T, minimum=1)
    return np.sqrt(hold / np.maximum(t, hold))


register(ScheduleSpec(
    name="inverse_sqrt", family="smooth", formula=_inverse_sqrt,
    params={"hold_frac": real("hold_frac", 0.02, "constant phase k as a fraction of the budget; then sqrt(k/t)",
                              valid=(0.0, 1.0), search=(0.005, 0.1), log=True, open_low=True)},
    aliases=("rsqrt", "inverse_square_root", "t5"),
    summary="constant for k steps, then proportional to 1/sqrt(t) (T5: k = 10^4)",
    citation="Raffel et al. 2020, T5 (inverse square root decay 1/sqrt(max(n, k)))",
))

register(ScheduleSpec(
    name="inverse_time", family="smooth",
    formula=lambda t, T, p: 1.0 / (1.0 + (1.0 / p["final_factor"] - 1.0) * progress(t, T)),
    params={"final_factor": final_factor(0.1, "multiplier reached at the end of the budget")},
    aliases=("inv", "inverse_time_decay", "bottou"),
    summary="1 / (1 + a t) with a chosen so the budget ends at final_factor (Bottou: a = lr0 * lambda)",
    citation="Bottou 2012, 'Stochastic gradient descent tricks' (inverse time decay)",
))

register(ScheduleSpec(
    name="cosine", family="smooth",
    formula=lambda t, T, p: floored(cosine_shape(t, T), p["min_lr_ratio"]),
    params={"min_lr_ratio": min_lr_ratio()},
    aliases=("cos", "cosine_annealing", "cosineannealinglr", "cosine_with_min_lr"),
    summary="half cosine from the initial LR to the floor, held after T (torch climbs back; lrrec does not)",
    citation="Loshchilov & Hutter 2017, SGDR (cosine annealing)",
))


# --- linear-cosine with noise -----------------------------------------------------------------------------
_MASK = 0xFFFFFFFFFFFFFFFF  # as np.uint64 where used


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a counter-based hash, so the noise at step t is a pure function of (seed, t)."""
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(_MASK)
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(_MASK)
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(_MASK)
        return x ^ (x >> np.uint64(31))


def standard_normal_at(steps: np.ndarray, seed: int) -> np.ndarray:
    """A standard normal draw per step, deterministic in (seed, step) (Box-Muller over two hashed uniforms)."""
    base = np.asarray(steps, dtype=np.float64).astype(np.uint64) * np.uint64(2)
    key = _mix(np.array([seed], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        u1 = ((_mix(base ^ key) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
        u2 = ((_mix((base + np.uint64(1)) ^ key) >> np.uint64(11)).astype(np.float64) + 0.5) / 2.0**53
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def _linear_cosine(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    tc = np.minimum(t, T)
    linear = (T - tc) / T
    if p["noisy"]:
        std = np.sqrt(p["initial_variance"] / (1.0 + tc) ** p["variance_decay"])
        linear = linear + std * standard_normal_at(tc, p["seed"])
    cos = 0.5 * (1.0 + np.cos(2.0 * np.pi * p["num_periods"] * tc / T))
    return np.maximum((p["alpha"] + linear) * cos + p["beta"], 0.0)


register(ScheduleSpec(
    name="linear_cosine", family="smooth", formula=_linear_cosine,
    params={
        "num_periods": real("num_periods", 0.5, "cosine periods over the budget", valid=(0.0, 100.0),
                            search=(0.5, 4.0), open_low=True),
        "alpha": real("alpha", 0.0, "offset added to the linear part", valid=(0.0, 1.0), search=(0.0, 0.1)),
        "beta": real("beta", 0.001, "constant floor added to the product", valid=(0.0, 1.0),
                     search=(1e-4, 0.01), log=True),
        "noisy": flag("noisy", False, "add Gaussian noise N(0, v / (1+t)**d) to the linear part"),
        "initial_variance": real("initial_variance", 1.0, "v: noise variance at t=0", valid=(0.0, 10.0),
                                 search=(0.01, 1.0), log=True, condition=("noisy", (True,))),
        "variance_decay": real("variance_decay", 0.55, "d: decay exponent of the noise variance",
                               valid=(0.0, 10.0), search=(0.1, 1.0), condition=("noisy", (True,))),
        "seed": integer("seed", 0, "seed of the noise (the noise at step t depends only on seed and t)",
                        valid=(0, 2**32 - 1)),
    },
    aliases=("noisy_linear_cosine", "linear_cosine_decay"),
    summary="((alpha + (1 - t/T) [+ noise]) * cosine + beta), clipped at 0 (TF's noise can go negative)",
    citation="Bello et al. 2017, 'Neural optimizer search with RL' (linear cosine decay, with noise)",
))


def _cosine_power(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    c = cosine_shape(t, T)
    base = p["exponent"]
    shape = c if base == 1.0 else (base ** (c + 1.0) - base) / (base * base - base)
    return floored(shape, p["min_lr_ratio"])


register(ScheduleSpec(
    name="cosine_power", family="smooth", formula=_cosine_power,
    params={
        "exponent": real("exponent", 10.0, "base p of the power; p=1 is plain cosine", valid=(0.0, 1e6),
                         search=(1.5, 100.0), log=True, open_low=True),
        "min_lr_ratio": min_lr_ratio(1e-3),
    },
    aliases=("cosine_exponential", "cosine_power_annealing", "sharpdarts"),
    summary="(p**(c+1) - p)/(p**2 - p) with c the cosine shape (closed form; sharpDARTS' code maps t=1 to max)",
    citation="Hundt et al. 2019, 'sharpDARTS' (cosine power annealing)",
))

register(ScheduleSpec(
    name="htd", family="smooth",
    formula=lambda t, T, p: floored(
        0.5 * (1.0 - np.tanh(p["lower"] + (p["upper"] - p["lower"]) * progress(t, T))), p["min_lr_ratio"]),
    params={
        "lower": real("lower", -6.0, "L: tanh argument at t=0", valid=(-100.0, 0.0), search=(-8.0, -3.0)),
        "upper": real("upper", 3.0, "U: tanh argument at t=T", valid=(0.0, 100.0), search=(1.0, 5.0),
                      open_low=True),
        "min_lr_ratio": min_lr_ratio(),
    },
    aliases=("tanh", "hyperbolic_tangent", "tanh_decay"),
    summary="(1 - tanh(L + (U-L) t/T))/2 (timm's default L is -7 and it returns exactly lr_min at T)",
    citation="Hsueh et al. 2019, 'SGD with hyperbolic-tangent decay on classification' (WACV)",
))


def _rex(t: np.ndarray, T: int, p: Mapping[str, Any]) -> np.ndarray:
    done = progress(t, T)
    return floored((1.0 - done) / (1.0 - done / 2.0), p["min_lr_ratio"])


register(ScheduleSpec(
    name="rex", family="smooth", formula=_rex,
    params={"min_lr_ratio": min_lr_ratio()},
    aliases=("reflected_exponential",),
    summary="(1 - p) / (1 - p/2) with p = t/T: stays high longer than linear, ends at the floor",
    citation="Chen et al. 2022, 'REX: revisiting budgeted training with an improved schedule' (MLSys)",
))
