"""`lrrec.recommender.targets`: the fingerprint a recommendation is for, and the task `lrrec tune` trains."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrrec.catalog import catalog_fingerprint
from lrrec.errors import InvalidValueError, LrrecError
from lrrec.recommender.targets import target_fingerprint, trainable_task


def test_a_catalog_dataset_and_model_is_the_catalog_fingerprint():
    assert target_fingerprint("CIFAR-100", "wrn", None) == catalog_fingerprint("cifar100", "wrn-28-10")


def test_a_built_in_task_the_catalog_describes_needs_no_data():
    assert target_fingerprint(None, None, "wine/mlp") == catalog_fingerprint("wine", "mlp")


def test_a_surface_is_measured():
    from lrrec.runners.execute import task_fingerprint

    measured = target_fingerprint(None, None, "surface/peaks")
    assert measured.task_kind == "surface" and measured == task_fingerprint("surface/peaks", None)


@pytest.mark.parametrize("dataset, model, task, message", [
    ("cifar100", None, "wine/mlp", "give either --task or --dataset/--model, not both"),
    (None, "wrn", "wine/mlp", "give either --task or --dataset/--model, not both"),
    ("cifar100", None, None, "name the task: --dataset NAME --model NAME"),
    (None, None, None, "name the task: --dataset NAME --model NAME"),
    ("cifar100", "vgg", None, "unknown model 'vgg'"),
])
def test_target_errors_name_the_options(dataset, model, task, message):
    with pytest.raises(LrrecError, match=message):
        target_fingerprint(dataset, model, task)


def test_a_catalog_target_loads_no_torch():
    code = ("import sys; from lrrec.recommender.targets import target_fingerprint; "
            "target_fingerprint('cifar100', 'wrn', None); print('torch' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_trainable_task_is_the_named_task_or_the_catalogs_built_in_one():
    assert trainable_task("my_tasks:make", "ignored", None) == "my_tasks:make"
    assert trainable_task(None, "CIFAR-10", "resnet18") == "cifar10/resnet-18"
    assert trainable_task(None, "digits", "mlp") == "digits/mlp"


@pytest.mark.parametrize("dataset, model, message", [
    ("cifar100", None, "name the task: --task NAME, or --dataset NAME --model NAME"),
    (None, "wrn", "name the task: --task NAME, or --dataset NAME --model NAME"),
    ("cifar100", "vgg", "no built-in task trains cifar100/vgg"),
])
def test_trainable_task_errors(dataset, model, message):
    with pytest.raises(InvalidValueError, match=message):
        trainable_task(None, dataset, model)
