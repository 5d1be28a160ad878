"""Every LR schedule of the survey (and WSD, REX): closed-form, torch-free, numpy-vectorised.

    >>> from lrrec.schedules import ScheduleConfig
    >>> cfg = ScheduleConfig.create("cosine", lr=0.1, params={"min_lr_ratio": 0.01})
    >>> cfg.lrs([0, 50, 100], total_steps=100)   # array([0.1, 0.0505, 0.001])

Steps are 0-based optimizer updates; durations are fractions of the budget `total_steps`. The torch adapter
lives in `lrrec.schedules.torch_adapter` (imported on demand, so this package stays torch-free).
"""

from lrrec.schedules.config import LR_PARAM, ScheduleConfig, Warmup, with_shared_settings
from lrrec.schedules.plateau import PlateauTracker
from lrrec.schedules.registry import (
    FAMILIES,
    FAMILY_DEFAULTS,
    ScheduleSpec,
    get_spec,
    list_specs,
)
from lrrec.schedules.space import (
    RandomTrial,
    sample_config,
    search_space,
    suggest_config,
)
from lrrec.schedules.warmup import WARMUP_KINDS, WARMUP_PARAMS

__all__ = [
    "FAMILIES", "FAMILY_DEFAULTS", "LR_PARAM", "WARMUP_KINDS", "WARMUP_PARAMS", "PlateauTracker", "RandomTrial",
    "ScheduleConfig", "ScheduleSpec", "Warmup", "get_spec", "list_specs", "sample_config", "search_space",
    "suggest_config", "with_shared_settings",
]
