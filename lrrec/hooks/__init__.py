"""Hooks that record a user's own training in the store: a plain loop (`track`), PyTorch Lightning
(`lrrec.hooks.lightning.LrrecCallback`) and the HF Trainer (`lrrec.hooks.hf_trainer.LrrecTrainerCallback`).

Each records every epoch's LR, losses and metric with the measured fingerprint and the run's status, and sets
the LR schedule of a given config or of the top suggestion. Importing a hook loads its library.
"""
