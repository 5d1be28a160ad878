"""Catalog fingerprints (no data on disk) agree with fingerprints measured from the real tasks."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from lrrec.catalog import DATASETS, MODELS, catalog_fingerprint
from lrrec.errors import UnknownNameError
from lrrec.fingerprint import TASK_KINDS
from lrrec.runners import models
from lrrec.runners.measure import measure, model_features
from lrrec.runners.tasks import get_task, load_data

LITERATURE = Path(__file__).resolve().parents[1] / "lrrec" / "data" / "literature"


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


# --- the literature corpus's models: measured figures re-measured, aliases, variants, partial knowledge ---

def _measure_script():
    """scripts/measure_catalog_models.py, the builders behind the catalog's MEASURED lines."""
    path = Path(__file__).resolve().parents[1] / "scripts" / "measure_catalog_models.py"
    spec = importlib.util.spec_from_file_location("measure_catalog_models", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return _measure_script()


@pytest.mark.parametrize("name", ["wrn-16-8", "resnet-20", "preresnet-20", "stochastic-depth", "resnet-50-cifar",
                                  "resnet-18-imagenet", "googlenet", "alexnet"])
def test_measured_catalog_entries_match_their_builders(script, name):
    make, shape, classes = script.BUILDERS[name]
    model = make(classes)
    measured = script.features(model, shape)
    facts = MODELS[name]
    assert (facts.n_params, facts.depth, facts.has_norm) == (measured["n_params"], measured["depth"],
                                                              measured["has_norm"])
    assert facts.forward_flops == pytest.approx(measured["forward_flops"], rel=1e-9)
    assert facts.has_residual == bool(getattr(model, "has_residual", False))
    head = script.head_of(model)
    assert (facts.head_in, facts.ref_classes, facts.head_bias) == (head.in_features, classes, head.bias is not None)
    assert facts.ref_area == shape[-2] * shape[-1]


def test_the_cifar100_heads_follow_the_class_count_with_and_without_a_bias(script):
    for model, make in (("resnet-50", lambda c: script.PreActResNet(50, c, head_bias=False)),  # BIGBALLON/HTD's
                        ("resnet-20", lambda c: script.CifarResNet(20, c))):
        measured = script.features(make(100), (3, 32, 32))
        known = catalog_fingerprint("cifar100", model)
        assert known.n_params == measured["n_params"], model
        assert known.forward_flops == pytest.approx(measured["forward_flops"], rel=1e-9), model


def test_one_name_means_the_architecture_used_on_that_dataset():
    cifar, imagenet = catalog_fingerprint("cifar10", "resnet-18"), catalog_fingerprint("imagenet", "resnet18")
    assert cifar.n_params == MODELS["resnet-18"].n_params  # lrrec's CIFAR ResNet-18 (3x3 stem)
    assert imagenet.n_params == MODELS["resnet-18-imagenet"].n_params  # torchvision's, 7x7 stem + max-pool
    assert imagenet.forward_flops == MODELS["resnet-18-imagenet"].forward_flops
    assert imagenet.name == "imagenet/resnet-18"  # the name stays the one the corpus and the user give
    assert catalog_fingerprint("imagenet", "resnet-50").n_params == 25_557_032
    assert catalog_fingerprint("cifar10", "resnet-50").n_params == MODELS["resnet-50-cifar"].n_params


@pytest.mark.parametrize("alias, key", [("wrn-28-10-dropout", "wrn-28-10"), ("WRN-52-1-dropout", "wrn-52-1"),
                                        ("wrn-16-4-dropout", "wrn-16-4"), ("resnet-preact-56", "preresnet-56"),
                                        ("resnet-preact-20", "preresnet-20"), ("mae-vit-b-16", "vit-b-16")])
def test_literature_model_aliases_resolve_to_the_same_architecture(alias, key):
    fp, same = catalog_fingerprint("cifar100", alias), catalog_fingerprint("cifar100", key)
    assert fp == same and fp.model == key and fp.n_params is not None
    assert catalog_fingerprint("kinetics400", "i3d").dataset == "kinetics"


def test_a_partially_known_task_leaves_the_unknown_features_none():
    gpt = catalog_fingerprint("openwebtext", "gpt2-124m")
    assert gpt.n_params == 124_000_000 and gpt.has_norm and gpt.has_residual  # as stated
    assert (gpt.forward_flops, gpt.depth, gpt.n_classes, gpt.input_shape, gpt.class_balance) == (None,) * 5
    densenet = catalog_fingerprint("cifar10", "densenet")  # configuration not stated: dataset features only
    assert (densenet.n_train, densenet.n_classes, densenet.input_numel) == (50_000, 10, 3 * 32 * 32)
    assert (densenet.n_params, densenet.forward_flops, densenet.depth) == (None, None, None)
    i3d = catalog_fingerprint("kinetics", "i3d")
    assert i3d.n_classes == 400 and i3d.n_params is None and i3d.has_norm is None
    coco = catalog_fingerprint("coco", "resnet-50")  # a classifier on a task without a class count
    assert coco.n_train == 118_287 and coco.n_params is None and coco.forward_flops is None and coco.has_norm
    mlp = catalog_fingerprint("openwebtext", "mlp")
    assert mlp.n_params is None and mlp.has_norm is False


def test_dataset_task_kinds_are_fingerprint_kinds():
    assert {facts.task_kind for facts in DATASETS.values()} <= set(TASK_KINDS)
    assert catalog_fingerprint("fastmri-knee", "varnet-2.0-12l").task_kind == "regression"
    assert catalog_fingerprint("imagenet", "alexnet").task_kind == "classification"


def test_names_never_heard_of_still_raise():
    with pytest.raises(UnknownNameError, match="unknown model 'bert'"):
        catalog_fingerprint("wmt16-en-de", "bert")
    with pytest.raises(UnknownNameError, match="unknown dataset 'wikitext-2'"):
        catalog_fingerprint("wikitext-2", "gpt2-124m")


def test_every_literature_dataset_and_model_is_in_the_catalog():
    pairs = {(row["dataset"], row["model"]) for path in LITERATURE.glob("*.csv")
             for row in csv.DictReader(path.open(encoding="utf-8"))}
    assert len(pairs) >= 50  # the corpus's 57 tasks, read
    for dataset, model in sorted(pairs):
        catalog_fingerprint(dataset, model)  # raises UnknownNameError for a name the catalog lacks


def test_the_catalog_loads_no_torch():
    code = "import sys, lrrec.catalog; assert 'torch' not in sys.modules, 'lrrec.catalog imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
