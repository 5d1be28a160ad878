"""Runner figures, each as a ratio against a baseline measured in the same run.

1. Throughput: lrrec's runner vs a plain PyTorch loop (bf16 autocast + channels_last on GPU; fp32 on CPU) on
   the same model, batch and synthetic CIFAR-shaped data (synthetic because the figure is about speed).
   Targets on an H100: WRN-28-10 >= 9,500 img/s, WRN-16-4 >= 60,000 img/s.
2. Population mode vs one-by-one on the MNIST-1D MLP. Targets: >= 50x at 512 configs on an H100, >= 1.5x on
   2 CPU cores.
3. A sweep of every family's default schedule x 3 seeds on the digits MLP (CPU): wall time.

Run: python benchmarks/bench_runners.py [--quick]   (--quick: smaller sizes, for a CPU smoke run)
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from lrrec.runners import models
from lrrec.runners.data import CIFAR_MEAN, CIFAR_STD, TensorData, prepare_batch
from lrrec.runners.population import train_population
from lrrec.runners.tasks import Budget, Task, get_task
from lrrec.runners.train import pick_device, train
from lrrec.schedules import FAMILY_DEFAULTS, ScheduleConfig


def synthetic_cifar(n: int) -> TensorData:
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return TensorData(x, y, x[:256], y[:256], 10, augment="cifar", normalize=(CIFAR_MEAN, CIFAR_STD))


def plain_loop(model_fn, data: TensorData, batch: int, steps: int, dev: torch.device) -> float:
    """Images/s of a minimal loop, the ceiling the runner is compared with (as in anchors.md): the images
    normalised once and kept on the device, batch indices drawn there, no augmentation, no schedule."""
    torch.manual_seed(0)
    model = model_fn().to(dev)
    cuda = dev.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x_all = prepare_batch(data.x_train.to(dev), data, False, None)
    if cuda:
        x_all = x_all.contiguous(memory_format=torch.channels_last)
    y_all = data.y_train.to(dev)
    g = torch.Generator(device=dev).manual_seed(0)

    def step() -> None:
        idx = torch.randint(0, len(x_all), (batch,), generator=g, device=dev)
        with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else torch.autocast("cpu", enabled=False):
            loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def runner_throughput(name: str, model_fn, data: TensorData, batch: int, epochs: int, dev: torch.device) -> float:
    """Images/s of lrrec's runner over whole epochs (its evaluation time excluded)."""
    task = Task(f"bench/{name}", "bench", name, "classification", Budget(epochs, batch), "benchmark",
                lambda root: data, lambda d: model_fn())
    config = ScheduleConfig.create("cosine", lr=0.05)
    train(task, config, Budget(1, batch), seed=0, device=str(dev))  # warm-up (cudnn autotune, allocator)
    out = train(task, config, Budget(epochs, batch), seed=0, device=str(dev))
    return out.steps_done * batch / (out.wall_time_s - out.eval_time_s)


def throughput(quick: bool) -> None:
    dev = pick_device()
    cases = [("wrn-16-4", lambda: models.WideResNet(16, 4, 10), 512),
             ("wrn-28-10", lambda: models.WideResNet(28, 10, 10), 256)]
    if dev.type == "cpu":
        cases = cases[:1]
        cases = [(n, f, 32) for n, f, _ in cases]
    n = 256 if dev.type == "cpu" else 50_000
    data = synthetic_cifar(n)
    name_of = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    print(f"[throughput] device {dev} ({name_of}), synthetic CIFAR-shaped data, {n} images; runner: whole "
          f"epochs with augmentation; plain loop: pre-normalised images, no augmentation")
    for name, fn, batch in cases:
        ceiling = plain_loop(fn, data, batch, 5 if dev.type == "cpu" else 50, dev)
        ours = runner_throughput(name, fn, data, batch, 1 if dev.type == "cpu" or quick else 2, dev)
        print(f"  {name} batch {batch}: runner {ours:,.0f} img/s, plain loop {ceiling:,.0f} img/s, "
              f"ratio {ours / ceiling:.2f}")


def population(quick: bool) -> None:
    dev = pick_device()
    task = get_task("mnist1d/mlp")
    budget = replace(task.budget, epochs=2 if quick else 5)
    sizes = [8, 32] if dev.type == "cpu" else [8, 64, 512]
    print(f"[population] device {dev}, {task.name}, {budget.epochs} epochs, batch {budget.batch_size}")
    for size in sizes:
        configs = [ScheduleConfig.create("cosine", lr=float(lr)) for lr in np.geomspace(0.005, 0.5, size)]
        train_population(task, configs[:2], replace(budget, epochs=1), seed=0, device=str(dev))  # warm-up
        start = time.perf_counter()
        train_population(task, configs, budget, seed=0, device=str(dev))
        together = time.perf_counter() - start
        sample = configs if size <= 64 else configs[:: size // 64]  # time a sample one by one, scale up
        start = time.perf_counter()
        for config in sample:
            train(task, config, budget, seed=0, device=str(dev))
        alone = (time.perf_counter() - start) * len(configs) / len(sample)
        print(f"  {size:>4} configs: one by one {alone:7.2f} s, population {together:6.2f} s, "
              f"speed-up {alone / together:6.1f}x")


def sweep_wall_time() -> None:
    from lrrec.runners.execute import SweepPlan, sweep
    from lrrec.store.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"{tmp}/bench.duckdb")
        start = time.perf_counter()
        results = sweep(store, SweepPlan(tasks=["digits/mlp"], schedules=list(FAMILY_DEFAULTS.values()), seeds=3,
                                         device="cpu"))
        elapsed = time.perf_counter() - start
    print(f"[sweep] digits/mlp x {len(FAMILY_DEFAULTS)} family defaults x 3 seeds, "
          f"{get_task('digits/mlp').budget.epochs} epochs: {len(results)} runs in {elapsed:.1f} s "
          f"({elapsed / len(results):.2f} s/run, including store writes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", choices=["throughput", "population", "sweep"])
    args = parser.parse_args()
    for name, fn in (("throughput", lambda: throughput(args.quick)), ("population", lambda: population(args.quick)),
                     ("sweep", sweep_wall_time)):
        if args.only in (None, name):
            fn()
