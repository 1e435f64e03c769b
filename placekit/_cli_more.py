"""Command-line subcommands for the analysis modules (cluster, drivers, scenario, report)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction, levels: list[str]) -> None:  # type: ignore[type-arg]
    """Add the analysis subcommands to the ``placekit`` parser."""
    return None
