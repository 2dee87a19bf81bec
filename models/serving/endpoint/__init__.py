"""Evaluate any OpenAI-compatible endpoint on an evaluation set: budget, cache, retries, a run folder."""
