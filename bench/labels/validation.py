"""The validation subset carved from the training images (never trained on).

Of the ``n`` training images a run uses, a seeded ``fraction`` (``data.val_fraction``, seed
``data.val_seed``, both in the profile and the run's identity) is set aside for validation: every
per-epoch evaluation and every choice (epoch selection, tuning) is made on it. None of its labels
is ever trained on: the regime's label mask covers the remaining images only. The subset does not
depend on the run's seed, so every method and seed of a grid is validated on the same images.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrainingSplit:
    """File indices of the images trained on and of the validation subset (both sorted)."""

    train: np.ndarray
    validation: np.ndarray
    fraction: float
    seed: int

    def summary(self) -> dict[str, Any]:
        """What a record stores: sizes, the recipe, the indices and their hash."""
        return {"fraction": self.fraction, "seed": self.seed, "images": int(len(self.validation)),
                "train_images": int(len(self.train)),
                "indices": [int(i) for i in self.validation],
                "sha256": indices_hash(self.validation)}


def indices_hash(indices: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()


def validation_size(n: int, fraction: float) -> int:
    """``round(fraction · n)``, at least one image when ``fraction > 0``, at most ``n − 1``."""
    if fraction <= 0 or n < 2:
        return 0
    return int(min(n - 1, max(1, round(fraction * n))))


def carve_validation(n: int, fraction: float, seed: int) -> TrainingSplit:
    """Set aside :func:`validation_size` of ``n`` images, drawn by a permutation seeded by
    ``seed`` alone."""
    v = validation_size(n, fraction)
    order = np.random.default_rng([seed, 0x7A1]).permutation(n)
    return TrainingSplit(np.sort(order[v:]), np.sort(order[:v]), float(fraction), int(seed))
