"""The task a recommendation is for, named by `--dataset/--model` or `--task`, and the task `lrrec tune` trains.

Torch-free for a catalog dataset and model: only a task that must be measured loads the runners.
"""

from __future__ import annotations

from lrrec.catalog import canonical, catalog_fingerprint
from lrrec.errors import InvalidValueError
from lrrec.fingerprint import TaskFingerprint


def target_fingerprint(dataset: str | None, model: str | None, task: str | None,
                       data_root: str | None = None) -> TaskFingerprint:
    """The fingerprint to recommend for: the catalog's (no data needed) for a dataset and model, or for a
    built-in task the catalog describes; otherwise the task measured on its data."""
    if task:
        if dataset or model:
            raise InvalidValueError("give either --task or --dataset/--model, not both")
        from lrrec.runners.tasks import TASKS

        known = TASKS.get(task)
        if known is not None and not known.needs_data_root and known.kind != "surface":
            return catalog_fingerprint(known.dataset, known.model)
        from lrrec.runners.execute import task_fingerprint

        return task_fingerprint(task, data_root)
    if not dataset or not model:
        raise InvalidValueError("name the task: --dataset NAME --model NAME (e.g. --dataset cifar100 --model wrn), "
                                "or --task NAME")
    return catalog_fingerprint(dataset, model)


def trainable_task(task: str | None, dataset: str | None, model: str | None) -> str:
    """The task to train: `task` itself, or the built-in task of a catalog dataset and model."""
    if task:
        return task
    from lrrec.runners.tasks import TASKS

    if not dataset or not model:
        raise InvalidValueError("name the task: --task NAME, or --dataset NAME --model NAME")
    name = f"{canonical(dataset)}/{canonical(model)}"
    if name not in TASKS:
        raise InvalidValueError(f"no built-in task trains {name}; pass --task (a built-in task or module:function)")
    return name
