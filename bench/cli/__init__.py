"""The command line, one module per command (:mod:`.main` builds the parser)."""

from bench.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
