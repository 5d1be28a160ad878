"""Runners: built-in tasks (dataset + model + budget), training under a schedule, fingerprints, sweeps.

    >>> from lrrec.runners.tasks import get_task
    >>> from lrrec.runners.train import train
    >>> outcome = train(get_task("digits/mlp"), ScheduleConfig.create("cosine", lr=0.05), budget, seed=0)

Importing this package loads torch.
"""
