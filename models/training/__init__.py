"""Training: the `train()` entry and one module per method (fine-tune loop, classic, probe, zero-shot)."""
