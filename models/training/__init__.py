"""Training: the `train()` entry (train.py), one module per method (finetune, classic, probe, zeroshot) and
the fine-tune loop's parts: setup, accelerator, loop (the training step), checkpoints, meters, session."""
