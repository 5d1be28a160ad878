"""TaskFingerprint: validation, canonical JSON and a stable task_id."""

import pytest

from lrrec.errors import InvalidValueError, UnknownNameError
from lrrec.fingerprint import TaskFingerprint


def full() -> TaskFingerprint:
    return TaskFingerprint(name="cifar100/wrn-28-10", dataset="cifar100", model="wrn-28-10", n_train=50000,
                           n_classes=100, input_numel=3072, input_shape=[3, 32, 32], class_balance=1.0,
                           data_hash="ab12", n_params=36_479_194, forward_flops=10.49e9, depth=28, has_norm=True,
                           has_residual=True, extra={"augment": "crop+flip"})


def test_round_trip_and_task_id_are_stable():
    task = full()
    again = TaskFingerprint.from_dict(task.to_dict())
    assert again == task and again.task_id == task.task_id
    assert len(task.task_id) == 64
    assert TaskFingerprint.from_dict({**task.to_dict(), "n_classes": 10}).task_id != task.task_id


def test_int_and_float_features_give_one_id():
    a = TaskFingerprint.from_dict({"name": "d/m", "class_balance": 1})
    b = TaskFingerprint.from_dict({"name": "d/m", "class_balance": 1.0})
    assert a.task_id == b.task_id and (a.dataset, a.model) == ("d", "m")


def test_from_name_splits_dataset_and_model():
    task = TaskFingerprint.from_name("mnist1d/cnn", task_kind="classification")
    assert (task.dataset, task.model, task.task_kind) == ("mnist1d", "cnn", "classification")
    with pytest.raises(InvalidValueError, match="dataset/model"):
        TaskFingerprint.from_name("mnist1d")


@pytest.mark.parametrize("change, message", [
    ({"n_train": -1}, "n_train"), ({"n_train": 1.5}, "n_train"), ({"class_balance": 1.5}, "class_balance"),
    ({"class_balance": float("nan")}, "class_balance"), ({"input_shape": [3, 0]}, "input_shape"),
    ({"has_norm": "yes"}, "has_norm"), ({"dataset": ""}, "dataset"),
])
def test_bad_features_are_rejected(change, message):
    with pytest.raises(InvalidValueError, match=message):
        TaskFingerprint.from_dict({**full().to_dict(), **change})


def test_unknown_kind_and_field_name_the_choices():
    with pytest.raises(UnknownNameError, match="classification"):
        TaskFingerprint.from_dict({"name": "d/m", "task_kind": "classifcation"})
    with pytest.raises(UnknownNameError, match="n_classes"):
        TaskFingerprint.from_dict({"name": "d/m", "n_clases": 3})
