"""Serve a trained run behind an OpenAI-compatible API, and load-test any such endpoint."""
