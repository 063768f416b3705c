"""Argument helpers shared by every command line module: lists, folders, consoles."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

DEFAULT_DATA_ROOT = "datasets"
DEFAULT_RESULTS = "results"


def split_list(text: str | None) -> list[str] | None:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; ``None`` (or nothing but commas) → ``None``."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def data_root(args: argparse.Namespace) -> Path:
    """``--data-root``, else ``$BENCH_DATA_ROOT``, else ``./datasets``."""
    return Path(getattr(args, "data_root", None)
                or os.environ.get("BENCH_DATA_ROOT", DEFAULT_DATA_ROOT))


def results_root(args: argparse.Namespace) -> Path:
    """``--results``, else ``$BENCH_RESULTS``, else ``./results``."""
    return Path(getattr(args, "results", None)
                or os.environ.get("BENCH_RESULTS", DEFAULT_RESULTS))


def table_console(stderr: bool = False) -> Console:
    """Console for tables: never narrower than a table needs when output is not a terminal."""
    console = Console(emoji=False, stderr=stderr)
    if not console.is_terminal:
        console = Console(emoji=False, width=200, stderr=stderr)
    return console


def add_results_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--results", help="record store (default: $BENCH_RESULTS or ./results)")


def add_folder_options(p: argparse.ArgumentParser) -> None:
    """``--data-root`` and ``--results``."""
    p.add_argument("--data-root", help="data root (default: $BENCH_DATA_ROOT or ./datasets)")
    add_results_option(p)
