"""The training loop both scripts share, and what a run needs around it: batch schedules,
optimizers and lr schedules, metrics, the non-finite guard, checkpoints, run folders and resuming,
presets, and the multi-task run's setup."""
