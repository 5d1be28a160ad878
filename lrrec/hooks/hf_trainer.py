"""`LrrecTrainerCallback`: record a Hugging Face `Trainer.train` in the store, and train it under an lrrec schedule.

    trainer = Trainer(model, args, train_dataset=..., eval_dataset=...,
                      callbacks=[LrrecTrainerCallback(name="mytext/bert-tiny", metric="eval_accuracy")])

Needs the `transformers` package (`pip install 'lrrec[transformers]'`). Evaluation (`eval_strategy="epoch"`)
gives the points it records.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.optim.lr_scheduler import LambdaLR
from transformers import TrainerCallback

from lrrec.errors import InvalidValueError, LrOverrideWarning
from lrrec.hooks.recording import RecordingSettings, begin_run, optimizer_name, schedule_for
from lrrec.schedules.config import ScheduleConfig
from lrrec.schedules.torch_adapter import reference_lr
from lrrec.suggestions import resolve_store

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from lrrec.schedules.plateau import PlateauTracker
    from lrrec.store.run import Run


@dataclass(kw_only=True, eq=False, repr=False)
class LrrecTrainerCallback(TrainerCallback, RecordingSettings):
    """Records, at each evaluation, the LR, the last logged training `loss`, `eval_loss` and `metric` with the
    task's fingerprint (measured from the model and its train loader, unless given); the run ends finished at the
    end of training (diverged on a non-finite value). The Trainer tells callbacks nothing of a crash: train
    inside `with callback.recording():` to record it failed (interrupted on Ctrl-C); otherwise it stays
    `running` until `lrrec store repair` marks it interrupted.

    With `install_schedule` (default) the Trainer's own scheduler (a LambdaLR, as `lr_scheduler_type="linear"`,
    the default, makes) follows the given `schedule` (a config, a suggestion or a schedule name), else the top
    suggestion; the Trainer steps, logs and checkpoints it as its own. The config's LR is the peak: a different
    `learning_rate` is rescaled to it with a `LrOverrideWarning`.
    """

    metric: str = "eval_loss"

    def __post_init__(self) -> None:
        self.config: ScheduleConfig | None = None
        self.run: Run | None = None
        self._plateau: PlateauTracker | None = None
        self._warmup_steps = 0
        self._last_lr: float | None = None
        self._train_loss: float | None = None

    @contextlib.contextmanager
    def recording(self) -> Iterator[LrrecTrainerCallback]:
        """Around `trainer.train()`: an exception escaping it ends the run failed (Ctrl-C: interrupted)."""
        try:
            yield self
        except BaseException as exc:
            if self.run is not None and self.run.status is None:
                self.run.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       lr_scheduler: Any = None, train_dataloader: Any = None, **kwargs: Any) -> None:
        from lrrec.runners.measure_loader import fingerprint_of

        fingerprint = self.fingerprint or fingerprint_of(model, train_dataloader, name=self.name)
        batch_size = args.train_batch_size * args.gradient_accumulation_steps
        epochs = math.ceil(args.num_train_epochs) if args.max_steps <= 0 else None
        store = resolve_store(self.store)
        self.config = schedule_for(self.schedule, fingerprint, store, optimizer_name(optimizer), batch_size, epochs)
        if self.install_schedule:
            self._follow(lr_scheduler, optimizer, self.config, state.max_steps)
        self.run = begin_run(store, fingerprint, self.config, optimizer, metric=self.metric, direction=self.direction,
                             batch_size=batch_size, epochs=epochs, seed=self.seed)

    def _follow(self, scheduler: Any, optimizer: Optimizer, config: ScheduleConfig, total: int) -> None:
        """Make the Trainer's LambdaLR follow `config` over `total` updates, keeping parameter groups' ratios."""
        if not isinstance(scheduler, LambdaLR):
            raise InvalidValueError(f"LrrecTrainerCallback sets the schedule through the Trainer's LambdaLR "
                                    f"(lr_scheduler_type='linear', the default), not a {type(scheduler).__name__}; "
                                    f"or pass install_schedule=False to only record")
        reference = reference_lr(optimizer)
        if not math.isclose(reference, config.lr, rel_tol=1e-9):
            warnings.warn(LrOverrideWarning(
                f"the Trainer's learning_rate {reference:g} differs from the schedule's {config.lr:g}; the schedule "
                f"sets the LR (peak {config.lr:g})"), stacklevel=2)
        self._plateau = config.plateau_tracker()
        self._warmup_steps = config.warmup_steps(total)

        def factor(step: int) -> float:
            value = float(config.multipliers(np.array([step]), total)[0]) * config.lr / reference
            return value * (self._plateau.scale if self._plateau is not None else 1.0)

        scheduler.lr_lambdas = [factor] * len(optimizer.param_groups)
        scheduler._last_lr = [base * factor(scheduler.last_epoch) for base in scheduler.base_lrs]
        for group, lr in zip(optimizer.param_groups, scheduler._last_lr):
            group["lr"] = lr

    def on_optimizer_step(self, args: Any, state: Any, control: Any, optimizer: Any = None, **kwargs: Any) -> None:
        self._last_lr = optimizer.param_groups[0]["lr"]  # the LR this update used (the scheduler steps after it)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
               **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self._train_loss = float(logs["loss"])

    def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                    **kwargs: Any) -> None:
        if self.run is None or self.run.status is not None or not metrics:
            return
        if self._plateau is not None and "eval_loss" in metrics and state.global_step >= self._warmup_steps:
            self._plateau.update(float(metrics["eval_loss"]))
        points = {"lr": self._last_lr, "train_loss": self._train_loss, "val_loss": metrics.get("eval_loss"),
                  self.metric: metrics.get(self.metric)}
        self.run.log_metrics({k: float(v) for k, v in points.items() if v is not None}, step=state.global_step,
                             epoch=state.epoch)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.run is not None and self.run.status is None:
            self.run.end("finished")
