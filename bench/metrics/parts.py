"""Human-parts mIoU, counted only on the images that contain (part-annotated) people.

As :class:`~bench.metrics.SemanticMetric` (one confusion matrix, mIoU over the classes present),
but an image whose part label has no valid pixel (no person: every pixel −1) is skipped, as the
reference evaluation does; ``images`` reports how many images were counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.metrics.semantic import SemanticMetric, confusion_per_image, semantic_scores


class HumanPartsMetric(SemanticMetric):
    """mIoU and pixel accuracy over the images with people."""

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        pred, label = self.predictions_and_labels(data_batch, data_samples)
        has_people = ((label >= 0) & (label < self.num_classes)).flatten(1).any(1)
        for row, keep in zip(confusion_per_image(pred, label, self.num_classes), has_people,
                             strict=True):
            if keep:
                self.results.append(row.cpu().numpy())

    def compute_metrics(self, results: list) -> dict[str, float]:
        if not results:
            return {"mIoU": float("nan"), "pixAcc": float("nan"), "images": 0.0}
        return {**semantic_scores(np.sum(results, axis=0)), "images": float(len(results))}
