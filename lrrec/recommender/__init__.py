"""The recommender: rank schedule configs for a task from similar past tasks (`suggest`), and check the
ranking against held-out tasks (`evaluate`). Torch-free: it reads only the store and the catalog, and loads
the runners only to measure or probe (`RangeProbe`) a task. Tuning builds on it (`lrrec.tuning`).
"""
