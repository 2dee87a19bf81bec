"""Command-line subcommands of this package for `python -m models` (models/cli.py registers them)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
"""Subcommand name -> handler returning the exit status."""


def add_parsers(sub: Any) -> None:
    """Register this package's subcommands on `sub` (argparse subparsers)."""
