"""Runners: real training on the built-in CPU tasks, the real CIFAR / ImageFolder loaders on small files,
user tasks, divergence, and reproducibility."""

from __future__ import annotations

import pickle
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lrrec.cli import cli
from lrrec.errors import InvalidValueError, LrrecError
from lrrec.runners.data import DataMissingError, load_cifar, random_crop_flip
from lrrec.runners.execute import RunResult, budget_for
from lrrec.runners.measure import measure
from lrrec.runners.tasks import TASKS, Budget, _load_cached, get_task, load_data
from lrrec.runners.train import Outcome, train
from lrrec.schedules import ScheduleConfig
from lrrec.store import open_store

SMALL_TASKS = [name for name, t in TASKS.items() if t.kind == "classification" and not t.needs_data_root]


def test_a_run_result_as_plain_data_has_the_same_keys_with_or_without_an_outcome():
    config = ScheduleConfig.create("cosine", lr=0.05)
    outcome = Outcome("diverged", "val_accuracy", "max", None, 0.5, 2, 20, 100, 1.23456, "cpu")
    ran = RunResult("r1", "wine/mlp", config, 3, "diverged", outcome).to_dict()
    assert ran == {"run_id": "r1", "task": "wine/mlp", "schedule": config.to_dict(), "seed": 3, "status": "diverged",
                   "metric": "val_accuracy", "final_metric": None, "best_metric": 0.5, "epochs_done": 2,
                   "wall_time_s": 1.235, "device": "cpu"}
    stopped = RunResult("r2", "wine/mlp", config, 0, "interrupted", None).to_dict()
    assert list(stopped) == list(ran) and stopped["epochs_done"] == 0
    assert all(stopped[key] is None for key in ("metric", "final_metric", "best_metric", "wall_time_s", "device"))


@pytest.mark.parametrize("name", SMALL_TASKS)
def test_small_tasks_learn_and_are_reproducible(name):
    task = get_task(name)
    budget = replace(task.budget, epochs=3)
    config = ScheduleConfig.create("cosine", lr=0.05)
    first = train(task, config, budget, seed=0)
    again = train(task, config, budget, seed=0)
    other = train(task, config, budget, seed=1)
    assert first.status == "finished" and first.epochs_done == 3
    chance = 1.0 / load_data(name, None).n_classes
    assert first.best_metric > chance + 0.1  # it learns something
    assert [r.val_loss for r in first.curve] == [r.val_loss for r in again.curve]
    assert [r.val_loss for r in first.curve] != [r.val_loss for r in other.curve]
    assert first.curve[-1].lr == pytest.approx(config.lrs([first.total_steps - 1], first.total_steps)[0])


def test_a_huge_lr_is_recorded_as_diverged_and_stops_early():
    task = get_task("digits/mlp")
    outcome = train(task, ScheduleConfig.create("constant", lr=500.0), replace(task.budget, epochs=10), seed=0)
    assert outcome.status == "diverged"
    assert outcome.steps_done < outcome.total_steps


def test_plateau_schedule_reduces_on_the_validation_loss():
    task = get_task("wine/mlp")
    config = ScheduleConfig.create("plateau", lr=0.05, params={"patience": 0, "factor": 0.5, "threshold": 0.5})
    outcome = train(task, config, replace(task.budget, epochs=6), seed=0)
    lrs = [r.lr for r in outcome.curve]
    assert lrs[0] == 0.05 and lrs[-1] < 0.05  # a 50 % improvement threshold is soon missed


@pytest.mark.parametrize("surface", ["rosenbrock", "peaks", "saddle", "monkey_saddle", "cliff"])
def test_surfaces_record_a_trajectory_and_decay_helps_on_rosenbrock(surface):
    task = get_task(f"surface/{surface}")
    budget = replace(task.budget, epochs=200, momentum=0.9)
    outcome = train(task, ScheduleConfig.create("cosine", lr=5e-4), budget, seed=0)
    assert len(outcome.trajectory) == outcome.steps_done + 1
    assert outcome.trajectory[0] == pytest.approx(tuple(task.load(None).start))
    assert outcome.final_metric is not None and outcome.direction == "min"
    if surface == "rosenbrock":
        assert outcome.final_metric < task.load(None).fn(torch.tensor(task.load(None).start)).item()


def _write_cifar(folder, n_train: int = 20, n_test: int = 10, classes: int = 10, seed: int = 0) -> None:
    """Synthetic images in the real CIFAR-10 python-batch format (the test is about the loader)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for i in range(1, 6):
        batch = {b"data": rng.integers(0, 256, (n_train // 5, 3072), dtype=np.uint8),
                 b"labels": rng.integers(0, classes, n_train // 5).tolist()}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    test = {b"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, classes, n_test).tolist()}
    (folder / "test_batch").write_bytes(pickle.dumps(test))


def test_cifar_loader_reads_the_python_batches_and_trains_a_wrn(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py")
    data = load_cifar("cifar10", tmp_path)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_train.dtype == torch.uint8 and len(data.y_val) == 10
    task = get_task("cifar10/wrn-16-4")
    outcome = train(task, ScheduleConfig.create("cosine", lr=0.01), Budget(epochs=1, batch_size=10), seed=0,
                    data_root=str(tmp_path))
    assert outcome.status == "finished" and outcome.steps_done == 2
    fingerprint = measure(task, load_data(task.name, str(tmp_path)))
    assert fingerprint.n_params == 2_748_890 and fingerprint.has_residual and fingerprint.n_train == 20


def test_cifar_errors_name_the_expected_location_and_format(tmp_path):
    with pytest.raises(DataMissingError, match="needs --data-root DIR containing cifar-10-batches-py"):
        load_cifar("cifar10", None)
    with pytest.raises(DataMissingError, match="lacks data_batch_1"):
        load_cifar("cifar10", tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)
    (folder / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(DataMissingError, match="data_batch_3: not a CIFAR python batch"):
        load_cifar("cifar10", tmp_path)


def test_cifar_loader_refuses_pickles_that_would_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    (folder / "test_batch").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(DataMissingError, match="refusing builtins.print"):
        load_cifar("cifar10", tmp_path)


def test_imagenet_folder_task_trains_through_dataloaders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("val", 2)):
        for cls in ("n01", "n02"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(tmp_path / split / cls / f"{i}.JPEG", format="JPEG")
    task = get_task("imagenet/efficientnet-b0")
    data = load_data(task.name, str(tmp_path))
    data.workers = 0
    outcome = train(task, ScheduleConfig.create("warmup_cosine", lr=0.01), Budget(epochs=1, batch_size=4), seed=0,
                    data_root=str(tmp_path))
    assert outcome.status == "finished" and outcome.steps_done == 2
    assert outcome.final_metric is not None
    with pytest.raises(DataMissingError, match="train/<class>"):
        load_data(task.name, str(tmp_path / "nothing"))


def test_user_task_module_function(tmp_path, monkeypatch):
    (tmp_path / "my_task.py").write_text(textwrap.dedent("""
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        def build():
            g = torch.Generator().manual_seed(0)
            x = torch.randn(64, 5, generator=g)
            y = (x[:, 0] > 0).long()
            data = TensorDataset(x, y)
            model = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
            return {"model": model, "train_loader": DataLoader(data, batch_size=16),
                    "val_loader": DataLoader(data, batch_size=32)}

        def broken():
            raise ValueError("boom")

        def wrong():
            return {"model": 1, "train_loader": [], "val_loader": []}
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    task = get_task("my_task:build")
    outcome = train(task, ScheduleConfig.create("cosine", lr=0.1), Budget(epochs=3, batch_size=16), seed=0)
    assert outcome.status == "finished" and outcome.steps_done == 12
    assert measure(task, load_data(task.name, None)).input_shape == [5]
    with pytest.raises(LrrecError, match="cannot import nope"):
        get_task("my_task:nope")
    with pytest.raises(LrrecError, match="my_task:broken raised ValueError: boom"):
        load_data("my_task:broken", None)
    with pytest.raises(LrrecError, match="model must be a torch.nn.Module, got int"):
        load_data("my_task:wrong", None)
    sys.modules.pop("my_task", None)


BROKEN_TASKS = textwrap.dedent("""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(0))

    def _task(y, model=None, batch_size=8, **loader):
        model = model or torch.nn.Linear(5, 2)
        data = DataLoader(TensorDataset(x, y), batch_size=batch_size, **loader)
        return {"model": model, "train_loader": data, "val_loader": data}

    def unseeded():
        return _task((x[:, 0] > 0).long())

    def empty():
        return _task((x[:, 0] > 0).long(), drop_last=True, batch_size=64)

    def label_too_big():
        return _task(torch.full((32,), 7))

    def regression():
        return _task(x[:, 0], model=torch.nn.Linear(5, 1))

    def one_output():
        return _task(torch.zeros(32, dtype=torch.long), model=torch.nn.Linear(5, 1))

    def dict_batches():
        data = [{"x": x[:8], "y": x[:8, 0].long()}]
        return {"model": torch.nn.Linear(5, 2), "train_loader": data, "val_loader": data}

    def wrong_width():
        return _task((x[:, 0] > 0).long(), model=torch.nn.Linear(3, 2))

    def int32_labels():
        return _task((x[:, 0] > 0).int())

    class Pair(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(5, 2)

        def forward(self, inputs):
            return self.linear(inputs), None

    def tuple_output():
        return _task((x[:, 0] > 0).long(), model=Pair())

    def bad_val():
        task = _task((x[:, 0] > 0).long())
        return {**task, "val_loader": [1, 2]}
""")


@pytest.fixture
def broken_tasks(tmp_path, monkeypatch):
    (tmp_path / "broken_tasks.py").write_text(BROKEN_TASKS)
    (tmp_path / "syntax_error.py").write_text("def make(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("broken_tasks", "syntax_error"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("spec, message", [
    (":make", "give module:function"),
    ("syntax_error:make", "cannot import make from syntax_error (SyntaxError"),
    ("broken_tasks:empty", "train_loader yields no batch"),
    ("broken_tasks:label_too_big", "train_loader's labels run from 7 to 7 but the model scores 2 classes"),
    ("broken_tasks:regression", "labels must be a non-empty 1-D int64 (torch.long) tensor of class indices"),
    ("broken_tasks:int32_labels", "labels must be a non-empty 1-D int64"),
    ("broken_tasks:tuple_output", "must return one tensor of (batch, classes) scores"),
    ("broken_tasks:bad_val", "val_loader must yield (inputs, labels) pairs"),
    ("broken_tasks:one_output", "at least 2 classes"),
    ("broken_tasks:dict_batches", "must yield (inputs, labels) pairs of tensors, got a dict"),
    ("broken_tasks:wrong_width", "the model fails on the first batch of train_loader (RuntimeError"),
])
def test_a_broken_user_task_is_a_one_line_error_and_records_nothing(broken_tasks, spec, message):
    store = broken_tasks / "s.duckdb"
    result = CliRunner().invoke(cli, ["run", "--task", spec, "--schedule", "cosine", "--epochs", "1",
                                      "--store", str(store)])
    assert result.exit_code == 1 and message in result.output and len(result.output.splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not store.exists() or open_store(store).info().by_source.get("lrrec", 0) == 0


def test_a_user_task_starts_from_the_same_weights_and_records_its_loaders_batch_size(broken_tasks):
    weights = []
    for state in (1, 2):
        torch.manual_seed(state)  # whatever the process drew before, the user's function sees seed 0
        _load_cached.cache_clear()
        weights.append(load_data("broken_tasks:unseeded", None).model.weight.clone())
    assert torch.equal(*weights)
    task = get_task("broken_tasks:unseeded")
    assert budget_for(task, None, None, None).batch_size == 8
    with pytest.raises(InvalidValueError, match="train_loader sets its batch size"):
        budget_for(task, None, 7, None)


def test_a_user_task_in_the_current_folder_imports_without_pythonpath(tmp_path, monkeypatch):
    (tmp_path / "here_task.py").write_text(BROKEN_TASKS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    try:
        assert load_data(get_task("here_task:unseeded"), None).batch_size == 8
    finally:
        sys.modules.pop("here_task", None)


def test_a_surface_refuses_an_optimizer_or_batch_size_it_would_ignore():
    surface = get_task("surface/peaks")
    with pytest.raises(InvalidValueError, match="2-D surface, optimised by SGD"):
        budget_for(surface, None, None, "adam")
    with pytest.raises(InvalidValueError, match="2-D surface"):
        budget_for(surface, None, 4, None)
    assert budget_for(surface, 10, None, "sgd", 0.5).momentum == 0.5


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(LrrecError, match="unknown task 'digit/mlp'. Did you mean digits/mlp"):
        get_task("digit/mlp")


def test_crop_flip_keeps_shape_and_pixels():
    x = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape
    assert set(out[out != 0].tolist()) <= set(x.flatten().tolist())  # only original pixels or zero padding
