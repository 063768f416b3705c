"""Benchmark harness for multi-task dense prediction from partially annotated data."""

__version__ = "0.1.0"
