"""Shared fixtures: tiny datasets in the real on-disk layouts, isolated result stores.

Every test reads and writes data under its own temporary folders, never ``./datasets`` or
``./results``. Training and end-to-end tests are marked ``slow`` (``pytest -m "not slow"``
skips them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from layouts import write_cityscapes, write_nyuv2

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def nyuv2_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root holding a 16/8-image NYUv2 fixture at 64×64 (``ROOT/nyuv2``)."""
    root = tmp_path_factory.mktemp("data")
    write_nyuv2(root / "nyuv2", n_train=16, n_val=8, h=64, w=64)
    return root


@pytest.fixture(scope="session")
def cityscapes_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data_cs")
    write_cityscapes(root / "cityscapes", n_train=12, n_val=6, h=64, w=128)
    return root


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both built-in synthetic datasets, generated once per test session."""
    from bench.cli import main

    root = tmp_path_factory.mktemp("synthetic")
    for name in ("synthetic-nyuv2", "synthetic-cityscapes"):
        assert main(["data", "synth", "--dataset", name, "--data-root", str(root)]) == 0
    return root


@pytest.fixture(autouse=True)
def isolated_roots(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                   ) -> None:
    """Default data and results roots in a temporary folder: nothing lands in the checkout."""
    base = tmp_path_factory.mktemp("defaults")
    monkeypatch.setenv("BENCH_DATA_ROOT", str(base / "datasets"))
    monkeypatch.setenv("BENCH_RESULTS", str(base / "results"))


class BuildsRunnerOutsideSlow(pytest.fail.Exception):
    """A test not marked ``slow`` built an mmengine Runner (it trains)."""


@pytest.fixture(autouse=True)
def no_training_outside_slow(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                             ) -> None:
    """The fast suite (``-m "not slow"``) never trains: outside ``slow`` tests, building an
    mmengine Runner in this process fails the test (``tests/test_architecture.py`` shows it)."""
    if request.node.get_closest_marker("slow") is not None:
        return
    from mmengine.runner import Runner

    def refuse(self: Runner, *args: object, **kwargs: object) -> None:
        raise BuildsRunnerOutsideSlow(f"{request.node.nodeid} builds an mmengine Runner (it "
                                      "trains) but is not marked slow", pytrace=False)

    monkeypatch.setattr(Runner, "__init__", refuse)
