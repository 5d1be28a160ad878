"""Catalog fingerprints (no data on disk) agree with fingerprints measured from the real tasks."""

from __future__ import annotations

import pytest

from lrrec.catalog import catalog_fingerprint
from lrrec.errors import UnknownNameError
from lrrec.runners import models
from lrrec.runners.measure import measure, model_features
from lrrec.runners.tasks import get_task, load_data


@pytest.mark.parametrize("task_name", ["digits/mlp", "digits/cnn", "mnist1d/mlp", "mnist1d/cnn1d",
                                       "breast_cancer/mlp", "wine/mlp", "mnist5k/mlp", "gunpoint/mlp",
                                       "italypower/mlp", "arrowhead/mlp", "osuleaf/mlp", "basicmotions/mlp",
                                       "japanesevowels/mlp"])
def test_catalog_matches_measured_small_tasks(task_name):
    task = get_task(task_name)
    measured = measure(task, load_data(task_name, None))
    known = catalog_fingerprint(task.dataset, task.model)
    for key in ("n_train", "n_classes", "input_numel", "n_params", "forward_flops", "depth", "has_norm",
                "has_residual"):
        assert getattr(known, key) == getattr(measured, key), key
    assert known.class_balance == pytest.approx(measured.class_balance, abs=1e-4)


@pytest.mark.parametrize("model_name, make, classes", [
    ("wrn-16-4", lambda c: models.WideResNet(16, 4, c), 100),
    ("resnet-18", lambda c: models.CifarResNet18(c), 100),
])
def test_catalog_adjusts_cifar_models_for_the_class_count(model_name, make, classes):
    measured = model_features(make(classes), (3, 32, 32))
    known = catalog_fingerprint("cifar100", model_name)
    assert known.n_params == measured["n_params"]
    assert known.forward_flops == pytest.approx(measured["forward_flops"], rel=1e-6)


def test_aliases_resolve_like_the_suggest_command_expects():
    fp = catalog_fingerprint("CIFAR-100", "wrn")
    assert fp.name == "cifar100/wrn-28-10" and fp.n_classes == 100 and fp.has_norm
    assert catalog_fingerprint("imagenet", "effnet").model == "efficientnet-b0"


def test_unknown_names_list_the_choices():
    with pytest.raises(UnknownNameError, match="unknown dataset 'cifar1000'"):
        catalog_fingerprint("cifar1000", "wrn")
    with pytest.raises(UnknownNameError, match="unknown model 'vgg'"):
        catalog_fingerprint("cifar10", "vgg")
    with pytest.raises(UnknownNameError, match="unknown model 'wrm'. Did you mean wrn"):  # aliases count too
        catalog_fingerprint("cifar100", "wrm")
