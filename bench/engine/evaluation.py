"""Evaluating a model on a split, and the rule that selects the epoch whose metrics a run reports.

Splits (see :mod:`bench.labels.validation`): the model trains on the training images minus a seeded
validation subset; every ``val_interval`` epochs it is evaluated on that subset; the test split
(the dataset's ``val`` folder, which the papers use as test) is evaluated once, at the end, on the
selected epoch's weights. The selection rule (``train.selection``):

``last`` (default)
    the last epoch.
``best-val``
    the epoch with the best validation metrics: an evaluated epoch replaces the best so far when
    its multi-task gain over it is positive,
    :math:`\\Delta_m(e, b) = \\frac1K \\sum_k s_k (M_k^e - M_k^b) / M_k^b > 0` over each task's
    primary metric (:math:`s_k = \\pm 1` by direction). Its weights are kept and tested at the end.
``best-test``
    the same rule on the *test* split, evaluated every ``val_interval`` epochs: what the official
    MTPSL scripts do (they compare against fixed STL numbers instead of the best so far). It
    selects on the test set, so its numbers are optimistic; it exists only to reproduce the
    official scripts, and tables mark its rows with †.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from itertools import zip_longest
from typing import Any

import torch
from mmengine.evaluator import Evaluator

from bench.engine.distributed import gather_objects, world_size
from bench.metrics import build_metrics, metric_key
from bench.tasks import Task

SELECTIONS = ("last", "best-val", "best-test")


@torch.no_grad()
def evaluate(model: Any, loader: Any, tasks: Sequence[Task]) -> dict[str, float]:
    """Every metric of every task over the whole split of ``loader`` (model left as it was).

    In a data-parallel run every process evaluates its share of the split (the loader's
    :class:`~bench.engine.build.ShardSampler`); the per-image results of all processes are put
    back in the split's order and every process computes the same metrics from them (not
    mmengine's gathering, which writes its parts to ``./.dist_test``).
    """
    evaluator = Evaluator(build_metrics(tasks))
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            evaluator.process(data_samples=model.val_step(batch), data_batch=batch)
    finally:
        model.train(was_training)
    size = len(loader.dataset)
    if world_size() == 1:
        return {k: float(v) for k, v in evaluator.evaluate(size).items()}
    out: dict[str, float] = {}
    for metric in evaluator.metrics:
        parts = gather_objects(list(metric.results))
        rows = [r for group in zip_longest(*parts, fillvalue=_MISSING) for r in group
                if r is not _MISSING][:size]
        metric.results.clear()
        for key, value in metric.compute_metrics(rows).items():
            out[f"{metric.prefix}/{key}" if metric.prefix else key] = float(value)
    return out


_MISSING = object()


def gain(candidate: Mapping[str, float], best: Mapping[str, float],
         tasks: Sequence[Task]) -> float:
    """:math:`\\Delta_m` (percent) of ``candidate`` against ``best`` on the primary metrics.

    NaN when a primary metric is missing, not finite or zero in ``best``.
    """
    terms = []
    for task in tasks:
        key = metric_key(task.name, task.primary)
        c, b = candidate.get(key), best.get(key)
        if c is None or b is None or not math.isfinite(c) or not math.isfinite(b) or b == 0:
            return float("nan")
        sign = 1.0 if task.primary_metric.higher_is_better else -1.0
        terms.append(sign * (c - b) / abs(b) * 100.0)
    return sum(terms) / len(terms)


def improves(candidate: Mapping[str, float], best: Mapping[str, float] | None,
             tasks: Sequence[Task]) -> bool:
    """Whether an epoch with ``candidate`` metrics replaces the best so far (first one always)."""
    if best is None:
        return all(math.isfinite(v) for v in candidate.values())
    g = gain(candidate, best, tasks)
    return math.isfinite(g) and g > 0


def select_epoch(history: Sequence[Mapping[str, Any]], key: str, tasks: Sequence[Task]
                 ) -> int | None:
    """The epoch the rule picks among ``history`` entries holding metrics under ``key``."""
    best: Mapping[str, float] | None = None
    epoch = None
    for entry in history:
        metrics = entry.get(key)
        if metrics and improves(metrics, best, tasks):
            best, epoch = metrics, int(entry["epoch"])
    return epoch
