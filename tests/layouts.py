"""Tiny fixtures in the exact on-disk layouts of the real datasets (random but valid content)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_nyuv2(root: Path, n_train: int = 6, n_val: int = 4, h: int = 64, w: int = 64,
                seed: int = 0) -> Path:
    """MTAN NYUv2 layout: image/label/depth/normal .npy per split."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for folder in ("image", "label", "depth", "normal"):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            d = root / split
            np.save(d / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            np.save(d / "label" / f"{i}.npy",
                    rng.integers(-1, 13, size=(h, w)).astype(np.float32))
            depth = rng.uniform(0.5, 8.0, size=(h, w, 1)).astype(np.float32)
            depth[rng.random((h, w)) < 0.1] = 0
            np.save(d / "depth" / f"{i}.npy", depth)
            normal = rng.normal(size=(h, w, 3)).astype(np.float32)
            normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
            normal[depth[..., 0] == 0] = 0
            np.save(d / "normal" / f"{i}.npy", normal)
    return root


def write_cityscapes(root: Path, n_train: int = 6, n_val: int = 4, h: int = 64, w: int = 128,
                     seed: int = 0) -> Path:
    """MTAN Cityscapes layout: image/label_7/label_19/depth .npy per split."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for folder in ("image", "label_7", "label_19", "depth"):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            d = root / split
            np.save(d / "image" / f"{i}.npy", rng.random((h, w, 3), dtype=np.float32))
            np.save(d / "label_7" / f"{i}.npy", rng.integers(-1, 7, size=(h, w)).astype(np.float32))
            np.save(d / "label_19" / f"{i}.npy",
                    rng.integers(-1, 19, size=(h, w)).astype(np.float32))
            inv = rng.uniform(0.01, 0.5, size=(h, w, 1)).astype(np.float32)
            inv[rng.random((h, w)) < 0.1] = 0
            np.save(d / "depth" / f"{i}.npy", inv)
    return root
