"""The base of every task's metric: an mmengine ``BaseMetric`` prefixed with its task.

``process`` turns each image of a batch into small sufficient statistics (a confusion matrix,
error sums and counts, an angle histogram); ``compute_metrics`` adds them up over the split and
only then divides, so the result does not depend on batch size or image order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from mmengine.evaluator import BaseMetric


class TaskMetric(BaseMetric):
    """A metric of one task: its scores are prefixed with the task's name (``semantic/mIoU``)."""

    def __init__(self, task: str, **kwargs: Any) -> None:
        super().__init__(prefix=task, **kwargs)
        self.task = task

    def predictions_and_labels(self, data_batch: Any, data_samples: Sequence[dict]
                               ) -> tuple[torch.Tensor, torch.Tensor]:
        """The task's predictions of the batch stacked ``[B, …]`` and its labels, on the
        predictions' device."""
        pred = torch.stack([s[self.task] for s in data_samples])
        return pred, data_batch["labels"][self.task].to(pred.device)


def build_metrics(tasks: Sequence[Any]) -> list[BaseMetric]:
    """One metric per task (:meth:`bench.tasks.Task.build_metric`), in task order."""
    return [task.build_metric() for task in tasks]


def metric_key(task: str, metric: str) -> str:
    """The key under which mmengine reports ``metric`` of ``task`` (``'semantic/mIoU'``)."""
    return f"{task}/{metric}"
