"""Stage 3, masks: which weights are prunable, magnitude pruning and rewinding, the IMP loop of
train_single.py, task masks in the forward pass, the choice of one mask per task and its statistics,
and the original code's mask files."""
