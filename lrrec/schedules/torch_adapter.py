"""Turn any `ScheduleConfig` into a `torch.optim.lr_scheduler.LRScheduler`.

- Closed form: the LR at step t is computed from t, never by multiplying the previous LR, so resuming from
  `state_dict()` reproduces the uninterrupted values exactly.
- Per-parameter-group base LRs keep their ratios: group g gets `config.lr * initial_lr_g / optimizer lr`.
- The config's LR is the peak: an optimizer built with another LR is rescaled to it, with a `LrOverrideWarning`
  (`warnings.simplefilter("error", LrOverrideWarning)` makes that an error).
- Step it once per optimizer update (`steps_per_epoch=None`), or once per epoch with `steps_per_epoch=1` and
  `total_steps` in epochs. The loss-based schedule takes its metric as `step(metric)` (or `report_metric`
  when the clock runs per iteration), and composes with warmup, which torch's SequentialLR cannot do.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lrrec.errors import InvalidValueError, LrOverrideWarning
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.plateau import PlateauTracker


def reference_lr(optimizer: Optimizer) -> float:
    """The optimizer's default lr, which parameter groups' LRs are scaled from; refused unless positive."""
    reference = optimizer.defaults.get("lr")
    if not reference or float(reference) <= 0:
        raise InvalidValueError("the optimizer needs a positive default lr to scale parameter groups from")
    return float(reference)


class ScheduleLR(LRScheduler):
    """An `LRScheduler` that follows `config` over a budget of `total_steps` steps."""

    def __init__(self, optimizer: Optimizer, config: ScheduleConfig, total_steps: int, last_epoch: int = -1) -> None:
        if int(total_steps) < 1:
            raise InvalidValueError(f"total_steps must be at least 1, got {total_steps}")
        self.config = config
        self.total_steps = int(total_steps)
        self.warmup_steps = config.warmup_steps(self.total_steps)
        self.plateau: PlateauTracker | None = config.plateau_tracker()
        reference = reference_lr(optimizer)
        if last_epoch == -1 and not math.isclose(reference, config.lr, rel_tol=1e-9):
            warnings.warn(LrOverrideWarning(
                f"the optimizer's lr {reference:g} differs from the schedule's {config.lr:g}; the schedule "
                f"sets the LR (peak {config.lr:g}), each parameter group keeping its ratio to the optimizer's lr"),
                stacklevel=3)
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
            group["lrrec_scale"] = group["initial_lr"] / reference
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | Tensor]:  # floats; typed as torch declares it
        """The LR of each parameter group at the current step (`self.last_epoch`)."""
        t = max(self.last_epoch, 0)
        value = self.config.lr * float(self.config.multipliers(np.array([t]), self.total_steps)[0])
        if self.plateau is not None:
            value *= self.plateau.scale
        return [value * group["lrrec_scale"] for group in self.optimizer.param_groups]

    def step(self, metric: float | None = None) -> None:
        """Advance one step; the loss-based schedule takes its metric here (see `report_metric`)."""
        if metric is not None:
            self.report_metric(metric)
        super().step()

    def report_metric(self, metric: float) -> None:
        """Feed the loss-based schedule without advancing the clock (for per-iteration stepping).

        Metrics reported while the warmup is still running are ignored: the LR is still rising then.
        """
        if self.plateau is None:
            raise InvalidValueError(f"{self.config.name} does not take a metric; call step() without one")
        if self.last_epoch >= self.warmup_steps:
            self.plateau.update(metric)

    def state_dict(self) -> dict[str, Any]:
        """Scheduler state: the step, the base LRs, the config (as JSON) and the plateau counters."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "config", "plateau")}
        state["config"] = self.config.to_json()
        state["plateau"] = self.plateau.state_dict() if self.plateau else None
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore from `state_dict()`; the config must be the one this scheduler was built with."""
        state = dict(state_dict)
        saved = ScheduleConfig.from_json(state.pop("config"))
        if saved != self.config:
            raise InvalidValueError(f"checkpoint was made for {saved.to_json()}, not {self.config.to_json()}")
        plateau = state.pop("plateau")
        if self.plateau is not None and plateau is not None:
            self.plateau.load_state_dict(plateau)
        self.__dict__.update(state)
        # the optimizer may hold another step's LR (a fresh optimizer, or one loaded before this scheduler
        # was built): the next update must use the resumed step's LR
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def make_scheduler(optimizer: Optimizer, config: ScheduleConfig, total_steps: int) -> ScheduleLR:
    """Build the scheduler for `config` (the public entry point used by the runners)."""
    return ScheduleLR(optimizer, config, total_steps)
