"""Data hygiene of the built-in sklearn tasks: stratified splits, standardised with training statistics only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import datasets
from sklearn.preprocessing import StandardScaler

from lrrec.runners.data import load_sklearn, split_fixed
from lrrec.runners.tasks import load_data

SIZES = {"digits/mlp": (1438, 359), "digits/cnn": (1438, 359), "breast_cancer/mlp": (455, 114),
         "wine/mlp": (142, 36)}


@pytest.mark.parametrize("task_name", sorted(SIZES))
def test_split_keeps_its_sizes_and_the_class_shares(task_name):
    data = load_data(task_name, None)
    n_train, n_val = len(data.y_train), len(data.y_val)
    assert (n_train, n_val) == SIZES[task_name]
    train_share = torch.bincount(data.y_train, minlength=data.n_classes) / n_train
    val_share = torch.bincount(data.y_val, minlength=data.n_classes) / n_val
    # a stratified split puts each class's validation count within one sample of its exact share
    assert (train_share - val_share).abs().max().item() <= 1 / n_train + 1 / n_val


@pytest.mark.parametrize("name, loader", [("wine", datasets.load_wine),
                                          ("breast_cancer", datasets.load_breast_cancer)])
def test_tabular_features_are_standardised_with_training_statistics(name, loader):
    data = load_sklearn(name)
    x, y = loader(return_X_y=True)
    raw = split_fixed(x.astype(np.float32), y, standardise=False)  # the same rows, untransformed
    scaler = StandardScaler().fit(raw.x_train.numpy())
    assert data.x_train.mean(0).abs().max() < 1e-5 and (data.x_train.std(0, correction=0) - 1).abs().max() < 1e-4
    np.testing.assert_allclose(data.x_val.numpy(), scaler.transform(raw.x_val.numpy()), rtol=1e-4, atol=1e-4)
    assert data.x_val.mean(0).abs().max() > 1e-2  # validation statistics played no part


def test_validation_rows_do_not_change_the_transformed_training_rows():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(3), 20)
    x = np.column_stack([np.arange(len(y)), rng.normal(size=(len(y), 4))]).astype(np.float32)
    val_rows = split_fixed(x, y, standardise=False).x_val[:, 0].long().numpy()
    shifted = x.copy()
    shifted[val_rows, 1:] = shifted[val_rows, 1:] * 50 + 100
    before, after = split_fixed(x, y, standardise=True), split_fixed(shifted, y, standardise=True)
    assert torch.equal(before.x_train, after.x_train)
    assert not torch.equal(before.x_val, after.x_val)
