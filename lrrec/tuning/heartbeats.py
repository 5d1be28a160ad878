"""How often distributed workers beat (import-light: the CLI reads these for its option defaults at start-up).

A trial or cell silent for 3 beats is failed and given to another worker.
"""

TRIAL_HEARTBEAT_S = 60  # `lrrec tune` on an RDB storage
CELL_HEARTBEAT_S = 30  # `lrrec sweep --storage`: a cell trains for minutes, not hours
