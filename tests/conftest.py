"""Shared fixtures: tiny datasets in the real on-disk layouts, isolated result stores."""

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
