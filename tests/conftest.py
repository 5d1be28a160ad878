"""Fixtures every test module may use; nothing here reads outside the repository."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrrec.schedules import ScheduleConfig

# DeepOBS names its schedules in file names: none (constant), cosine, cosine_wr (SGDR), ltr (trapezoid)
DEEPOBS_SCHEDULES = {
    "none": ScheduleConfig.create("constant", 0.05),
    "cosine": ScheduleConfig.create("cosine", 0.05),
    "cosine_wr": ScheduleConfig.create("sgdr", 0.05, {"t0_frac": 0.1, "t_mult": 2}),
    "ltr": ScheduleConfig.create("trapezoid", 0.05, {"warmup_frac": 0.1, "decay_frac": 0.1}),
}
DEEPOBS_EPOCHS = 40  # SGDR with t0 = 0.1 x 40 = 4 epochs restarts at 4, 12 and 28: periods 4, 8, 16


def deepobs_result(schedule: ScheduleConfig, seed: int, epochs: int = DEEPOBS_EPOCHS) -> dict:
    """A DeepOBS result file's content from real training: softmax regression on sklearn's digits by
    mini-batch SGD, the LR factor set per epoch as DeepOBS's lr_sched lists do (epoch 0 at the base LR)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    x_train, x_rest, y_train, y_rest = train_test_split(x, y, test_size=0.4, random_state=0, stratify=y)
    x_valid, x_test, y_valid, y_test = train_test_split(x_rest, y_rest, test_size=0.5, random_state=0,
                                                        stratify=y_rest)
    rng = np.random.default_rng(seed)
    weights, bias = rng.normal(0, 0.01, (64, 10)), np.zeros(10)
    factors = [1.0, *(float(f) for f in schedule.multipliers(list(range(1, epochs + 1)), epochs))]
    series: dict[str, list[float]] = {f"{part}_{kind}": [] for part in ("train", "valid", "test")
                                      for kind in ("losses", "accuracies")}

    def evaluate() -> None:
        for part, (xs, ys) in {"train": (x_train, y_train), "valid": (x_valid, y_valid),
                               "test": (x_test, y_test)}.items():
            probs = _softmax(xs @ weights + bias)
            series[f"{part}_losses"].append(float(-np.log(probs[np.arange(len(ys)), ys] + 1e-12).mean()))
            series[f"{part}_accuracies"].append(float((probs.argmax(1) == ys).mean()))

    evaluate()
    for epoch in range(1, epochs + 1):
        lr = schedule.lr * factors[epoch - 1]
        order = rng.permutation(len(y_train))
        for start in range(0, len(order), 128):
            batch = order[start:start + 128]
            grad = _softmax(x_train[batch] @ weights + bias)
            grad[np.arange(len(batch)), y_train[batch]] -= 1
            weights -= lr * x_train[batch].T @ grad / len(batch)
            bias -= lr * grad.mean(0)
        evaluate()
    return {"testproblem": "digits_softmax", "batch_size": 128, "num_epochs": epochs, "random_seed": seed,
            "l2_reg": None, "optimizer_name": "GradientDescentOptimizer",
            "optimizer_hyperparams": {"learning_rate": schedule.lr},
            "training_params": {"lr_sched_epochs": list(range(1, epochs + 1)), "lr_sched_factors": factors[1:]},
            **series}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


@pytest.fixture(scope="session")
def deepobs_dir(tmp_path_factory) -> Path:
    """Four DeepOBS result files (constant, cosine, SGDR, trapezoid), named as DeepOBS names them."""
    folder = tmp_path_factory.mktemp("deepobs")
    for seed, (name, schedule) in enumerate(DEEPOBS_SCHEDULES.items(), start=42):
        path = folder / f"{name}__digits_softmax__GradientDescentOptimizer__seed{seed}.json"
        path.write_text(json.dumps(deepobs_result(schedule, seed)))
    return folder


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server for this test session (tests/postgres_server.py): the URL of its database."""
    from postgres_server import postgres_server

    with postgres_server() as url:
        yield url
