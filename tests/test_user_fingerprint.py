"""`lrrec.fingerprint_of`: a task measured from a user's model and train loader, torch only."""

from __future__ import annotations

import pytest
import torch
import torchvision
from tiny_data import diabetes_loaders, digits_loaders, mlp
from torch.utils.data import DataLoader, TensorDataset

import lrrec
from lrrec.errors import InvalidValueError


def test_a_digits_mlp_is_measured_from_model_and_loader():
    train, _ = digits_loaders()
    fp = lrrec.fingerprint_of(mlp(64, 256, 10), train, name="mydigits/mlp256")
    assert (fp.name, fp.dataset, fp.model, fp.task_kind) == ("mydigits/mlp256", "mydigits", "mlp256", "classification")
    assert (fp.n_train, fp.n_classes, fp.input_shape, fp.input_numel) == (1437, 10, [64], 64)
    assert fp.n_params == 64 * 256 + 256 + 256 * 10 + 10 and fp.depth == 2
    assert fp.forward_flops == 2 * (64 * 256 + 256 * 10)  # one sample's multiply-adds, counted by torch
    assert (fp.has_norm, fp.has_residual) == (False, False)
    assert 0.99 < fp.class_balance <= 1.0  # digits' ten classes are nearly balanced


def test_float_targets_make_a_regression_task_and_names_default_to_class_names():
    train, _ = diabetes_loaders()
    fp = lrrec.fingerprint_of(mlp(10, 32, 1), train)
    assert (fp.name, fp.task_kind, fp.n_classes, fp.class_balance) == ("tensordataset/sequential", "regression", 1,
                                                                       None)


def test_resnet18_is_measured_from_one_sample():
    """A torchvision ResNet-18 (built from config, no weights) on 224x224 images: its features from one forward pass
    of one sample. Its cost against that pass is a figure of `benchmarks/bench_fingerprint.py`, not a timed test."""
    images = TensorDataset(torch.rand(64, 3, 224, 224), torch.arange(64) % 10)
    model = torchvision.models.resnet18(num_classes=10)
    fp = lrrec.fingerprint_of(model, DataLoader(images, batch_size=32), name="photos/resnet18")
    assert fp.n_params == 11_181_642 and 3.5e9 < fp.forward_flops < 3.7e9 and fp.depth == 21  # 1.8 GMACs
    assert (fp.has_norm, fp.has_residual, fp.input_shape, fp.n_train) == (True, True, [3, 224, 224], 64)


def test_dict_batches_and_tuple_outputs_are_read():
    class Tagger(torch.nn.Module):  # token ids in, (logits, hidden) out: a tiny language-model shape
        def __init__(self) -> None:
            super().__init__()
            self.embed = torch.nn.Embedding(50, 8)
            self.norm = torch.nn.LayerNorm(8)
            self.head = torch.nn.Linear(8, 50)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            hidden = self.norm(self.embed(input_ids)) * attention_mask.unsqueeze(-1)
            return self.head(hidden), hidden

    ids = torch.arange(40).reshape(4, 10) % 50
    rows = [{"input_ids": i, "attention_mask": torch.ones(10), "labels": i} for i in ids]
    loader = DataLoader(rows, batch_size=2)
    fp = lrrec.fingerprint_of(Tagger(), loader, name="toks/tagger")
    assert (fp.task_kind, fp.n_classes, fp.input_shape, fp.n_train, fp.has_norm) == ("classification", 50, [10], 4,
                                                                                      True)


@pytest.mark.parametrize("model, loader, message", [
    (mlp(64, 8, 10), DataLoader(TensorDataset(torch.zeros(0, 64), torch.zeros(0).long())), "yields no batch"),
    ("not a model", [(torch.zeros(1, 64), torch.zeros(1))], "nn.Module"),
    (mlp(64, 8, 10), [(["a list"], torch.zeros(1))], "tensor or a dict"),
    (mlp(32, 8, 10), [(torch.zeros(1, 64), torch.zeros(1).long())], "fails on the train loader's first sample: "),
    (mlp(64, 8, 10), iter([(torch.zeros(1, 64), torch.zeros(1).long())]), "pass n_train="),
    (mlp(64, 8, 10), [(torch.zeros(1, 64), torch.zeros(1))], None),  # a plain list: its length counts batches
])
def test_bad_input_is_one_line_naming_the_fix(model, loader, message):
    if message is None:
        assert lrrec.fingerprint_of(model, loader, name="d/m").n_train == 1
        return
    with pytest.raises(InvalidValueError, match=message) as caught:
        lrrec.fingerprint_of(model, loader, name="d/m")
    assert "\n" not in str(caught.value)
