"""lrrec: a learning-rate schedule recommender for deep-network training.

Importing this package is cheap: it loads no torch, optuna, scikit-learn or duckdb.
"""

__version__ = "0.1.0"
