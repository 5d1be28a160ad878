"""The survey's 2-D test surfaces (section 4.1), optimised by SGD with or without momentum.

Each surface is a torch function of a (2,) parameter; the runner records the trajectory and the loss at every
step. The saddles are made bounded below (a quartic term far from the saddle) so that a run can finish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface with its default start point, plotting window and a success threshold."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    start: tuple[float, float]
    window: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    threshold: float  # "converged" when the loss falls below this
    doc: str


def _rosenbrock(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _peaks(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    return (3 * (1 - x) ** 2 * torch.exp(-x**2 - (y + 1) ** 2)
            - 10 * (x / 5 - x**3 - y**5) * torch.exp(-x**2 - y**2)
            - torch.exp(-(x + 1) ** 2 - y**2) / 3)


def _saddle(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    return x**2 - y**2 + 0.25 * y**4


def _monkey_saddle(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    return x**3 - 3 * x * y**2 + 0.25 * (x**2 + y**2) ** 2


def _cliff(p: torch.Tensor) -> torch.Tensor:
    x, y = p[..., 0], p[..., 1]
    plateau = torch.tanh(4 * (x - 1.0))  # flat for x << 1, a steep cliff at x = 1, flat again beyond
    return 1.0 - plateau + 0.05 * (x - 2.0) ** 2 + 0.5 * y**2


SURFACES: dict[str, Surface] = {s.name: s for s in (
    Surface("rosenbrock", _rosenbrock, (-1.5, 2.0), (-2.0, 2.0, -1.0, 3.0), 1e-2,
            "narrow curved valley, minimum 0 at (1, 1)"),
    Surface("peaks", _peaks, (-0.2, -1.8), (-3.0, 3.0, -3.0, 3.0), -6.0,
            "MATLAB peaks: several local minima, global minimum about -6.55 near (0.23, -1.63)"),
    Surface("saddle", _saddle, (-1.0, 1e-3), (-1.5, 1.5, -2.0, 2.0), -0.9,
            "x^2 - y^2 + y^4/4: a saddle at the origin, minima -1 at (0, +-sqrt 2)"),
    Surface("monkey_saddle", _monkey_saddle, (-0.5, 1e-3), (-2.0, 2.0, -2.0, 2.0), -1.5,
            "x^3 - 3xy^2 + (x^2+y^2)^2/4: a monkey saddle at the origin, three minima -6.75 at radius 3"),
    Surface("cliff", _cliff, (-1.0, 1.0), (-2.0, 3.0, -1.5, 1.5), 0.05,
            "a plateau, a steep cliff at x = 1, and a shallow bowl beyond (minimum near (2, 0))"),
)}
