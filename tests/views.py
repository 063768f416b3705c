"""Build the :class:`~bench.method.base.TrainingViews` a method's ``extra_losses`` receives."""

from __future__ import annotations

import torch

from bench.method.base import TrainingViews, View


def views(mask: torch.Tensor, preds=None, labels=None, feature=None, image=None) -> TrainingViews:
    """One view used as both the main and the second view (as without ``needs_second_view``)."""
    v = View(image, preds, labels, feature)
    return TrainingViews(mask, v, v)
