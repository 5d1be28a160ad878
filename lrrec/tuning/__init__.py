"""Tuning (`lrrec tune`): an Optuna study over schedule hyperparameters, seeded with the recommender's top
suggestions; above the recommender (which plans it) and the runners (which train its trials).

The search space comes from the schedule library (`space`). By default it is transferred from the
recommendation: the schedules of the top suggestions, with the LR searched within a factor `LR_BAND` of their
LRs (the other parameters keep the library's ranges): a search space learned from similar tasks, as in Perrone
et al., NeurIPS 2019; `benchmarks/bench_tune.py` measures it against the library space. A new study first runs
an LR range test on the task and enqueues the suggestions at its steepest-descent LR (`tune`). The study's user
attributes (`lrrec.task`, `lrrec.metric`, `lrrec.budget`, `lrrec.space`, `lrrec.schedule`) make `lrrec ingest`
map it back exactly. Every trial trains with a real runner, reports each epoch for pruning, and is recorded in
the experience store as it finishes (`worker`). Several processes (or machines) share a study through its
storage (`job`): a journal file on one machine, an RDB URL across machines.
"""
