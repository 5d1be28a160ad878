"""`LrrecCallback`: record a PyTorch Lightning `Trainer.fit` in the store, and train it under an lrrec schedule.

    trainer = lightning.Trainer(max_epochs=20, callbacks=[LrrecCallback(name="mydigits/mlp", metric="val_acc")])

Needs the `lightning` package (`pip install 'lrrec[lightning]'`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.types import LRSchedulerConfig

from lrrec.errors import InvalidValueError
from lrrec.hooks.recording import RecordingSettings, begin_run, optimizer_name, schedule_for
from lrrec.schedules.config import ScheduleConfig
from lrrec.suggestions import resolve_store

if TYPE_CHECKING:
    from lrrec.schedules.torch_adapter import ScheduleLR
    from lrrec.store.run import Run


@dataclass(kw_only=True, eq=False, repr=False)
class LrrecCallback(pl.Callback, RecordingSettings):
    """Records each epoch's LR, `train_loss`, `val_loss` and `metric` (as the LightningModule logs them) with the
    task's fingerprint (measured from the module and its train loader, unless given) and the run's status:
    finished (diverged on a non-finite value), failed, or interrupted.

    With `install_schedule` (default) it also sets the LR schedule, stepped after every optimizer update: the
    given `schedule` (a config, a suggestion or a schedule name), else the top suggestion for the task. The
    module's `configure_optimizers` then returns only its optimizer.
    """

    metric: str = "val_loss"

    def __post_init__(self) -> None:
        self.config: ScheduleConfig | None = None
        self.scheduler: ScheduleLR | None = None
        self.run: Run | None = None
        self._last_lr: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        from lrrec.runners.measure_loader import fingerprint_of
        from lrrec.schedules.torch_adapter import make_scheduler

        if not trainer.optimizers:
            raise InvalidValueError("LrrecCallback: the LightningModule's configure_optimizers returns no optimizer")
        optimizer = trainer.optimizers[0]
        loader = trainer.train_dataloader
        if loader is None:
            raise InvalidValueError("LrrecCallback: the Trainer has no train dataloader to measure the task from")
        batch_size = getattr(loader, "batch_size", None)
        epochs = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        fingerprint = self.fingerprint or fingerprint_of(pl_module, loader, name=self.name)
        store = resolve_store(self.store)
        self.config = schedule_for(self.schedule, fingerprint, store, optimizer_name(optimizer), batch_size, epochs)
        if self.install_schedule:
            if trainer.lr_scheduler_configs:
                raise InvalidValueError("LrrecCallback installs the LR schedule: return only the optimizer from "
                                        "configure_optimizers, or pass install_schedule=False")
            self.scheduler = make_scheduler(optimizer, self.config, int(trainer.estimated_stepping_batches))
            trainer.strategy.lr_scheduler_configs.append(LRSchedulerConfig(self.scheduler, "lrrec", "step"))
        self.run = begin_run(store, fingerprint, self.config, optimizer, metric=self.metric, direction=self.direction,
                             batch_size=batch_size, epochs=epochs, seed=self.seed)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        self._last_lr = optimizer.param_groups[0]["lr"]  # the LR this update uses

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get("val_loss")
        if self.scheduler is not None and self.scheduler.plateau is not None and value is not None \
                and not trainer.sanity_checking:
            self.scheduler.report_metric(float(value))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is None:
            return
        logged = trainer.callback_metrics
        metrics = {key: float(logged[key]) for key in dict.fromkeys(("train_loss", "val_loss", self.metric))
                   if key in logged}
        if self._last_lr is not None:
            metrics["lr"] = self._last_lr
        self.run.log_metrics(metrics, step=trainer.global_step, epoch=trainer.current_epoch + 1)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.run is not None and self.run.status is None:
            self.run.end("interrupted" if trainer.interrupted else "finished")

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.run is not None and self.run.status is None:
            self.run.__exit__(type(exception), exception, exception.__traceback__)
