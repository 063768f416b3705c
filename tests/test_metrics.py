"""Metrics against hand-computed values, and independence from batching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator

from bench.metrics import (
    confusion_per_image,
    histogram_median,
    semantic_scores,
)
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask


def _evaluate(metric, batches):
    """Feed (labels, predictions) batches through an mmengine Evaluator like the val loop."""
    ev = Evaluator([metric])
    n = 0
    for labels, preds in batches:
        name = metric.task
        samples = [{name: p} for p in preds]
        ev.process(data_samples=samples, data_batch={"labels": {name: labels}})
        n += len(preds)
    return ev.evaluate(n)


def test_semantic_miou_and_pixel_accuracy_by_hand():
    task = SemanticTask(3)
    label = torch.tensor([[[0, 0, 1, 1], [2, 2, -1, -1]]])
    pred = torch.tensor([[[0, 1, 1, 1], [2, 0, 2, 0]]])
    # valid pixels: 6. class 0: tp 1, gt 2, pred 2 (one at a 2-pixel) -> IoU 1/3
    # class 1: tp 2, gt 2, pred 3 -> 2/3; class 2: tp 1, gt 2, pred 1 -> 1/2
    out = _evaluate(task.build_metric(), [(label, pred)])
    assert out["semantic/mIoU"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3 * 100)
    assert out["semantic/pixAcc"] == pytest.approx(4 / 6 * 100)


def test_semantic_absent_class_is_not_counted_as_zero():
    conf = np.zeros((4, 4), dtype=np.int64)
    conf[0, 0] = 5
    conf[1, 1] = 3
    conf[1, 0] = 1  # class 2 and 3 never appear in gt nor prediction
    # IoU0 = 5/6, IoU1 = 3/4
    assert semantic_scores(conf)["mIoU"] == pytest.approx((5 / 6 + 3 / 4) / 2 * 100)


def test_semantic_accumulates_over_split_not_per_image():
    # per-image mIoU averaging would give a different number; the split-level confusion must win
    task = SemanticTask(2)
    l1, p1 = torch.tensor([[[0, 0, 0, 1]]]), torch.tensor([[[0, 0, 0, 0]]])
    l2, p2 = torch.tensor([[[1, 1, 1, 1]]]), torch.tensor([[[1, 1, 1, 1]]])
    whole = _evaluate(task.build_metric(), [(torch.cat([l1, l2]), torch.cat([p1, p2]))])
    split = _evaluate(task.build_metric(), [(l1, p1), (l2, p2)])
    # confusion: [[3,0],[1,4]] -> IoU0 = 3/4, IoU1 = 4/5
    assert whole["semantic/mIoU"] == pytest.approx((3 / 4 + 4 / 5) / 2 * 100)
    assert split["semantic/mIoU"] == pytest.approx(whole["semantic/mIoU"])


def test_confusion_per_image_shapes_and_counts():
    label = torch.tensor([[[0, 1]], [[1, -1]]])
    pred = torch.tensor([[[1, 1]], [[0, 0]]])
    conf = confusion_per_image(pred, label, 2)
    assert conf.shape == (2, 2, 2)
    assert conf[0].tolist() == [[0, 1], [0, 1]]
    assert conf[1].tolist() == [[0, 0], [1, 0]]


def test_depth_errors_over_valid_pixels_by_hand():
    task = DepthTask()
    label = torch.tensor([[[[1.0, 2.0], [0.0, 4.0]]]])  # one missing pixel
    pred = torch.tensor([[[[1.5, 1.0], [9.0, 5.0]]]])
    out = _evaluate(task.build_metric(), [(label, pred)])
    assert out["depth/absErr"] == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    assert out["depth/relErr"] == pytest.approx((0.5 / 1 + 1.0 / 2 + 1.0 / 4) / 3)


def test_depth_accumulates_over_pixels_of_the_split():
    task = DepthTask()
    a = (torch.tensor([[[[1.0, 1.0]]]]), torch.tensor([[[[2.0, 2.0]]]]))  # 2 px, err 1
    b = (torch.tensor([[[[1.0, 0.0]]]]), torch.tensor([[[[4.0, 7.0]]]]))  # 1 px, err 3
    out = _evaluate(task.build_metric(), [a, b])
    assert out["depth/absErr"] == pytest.approx((1 + 1 + 3) / 3)


def _unit(deg: float) -> list[float]:
    r = math.radians(deg)
    return [math.sin(r), 0.0, math.cos(r)]


def test_normal_angles_by_hand():
    task = NormalTask()
    gt = torch.tensor([[0.0, 0.0, 1.0]] * 5).T.reshape(1, 3, 1, 5)
    gt[0, :, 0, 4] = 0  # missing
    angles = [5.0, 15.0, 25.0, 40.0, 90.0]
    pred = torch.tensor([_unit(a) for a in angles]).T.reshape(1, 3, 1, 5)
    out = _evaluate(task.build_metric(), [(gt, pred)])
    valid = np.array(angles[:4])
    assert out["normal/mean"] == pytest.approx(valid.mean(), abs=1e-4)
    assert out["normal/median"] == pytest.approx(np.median(valid), abs=0.01)
    assert out["normal/within11.25"] == pytest.approx(25.0)
    assert out["normal/within22.5"] == pytest.approx(50.0)
    assert out["normal/within30"] == pytest.approx(75.0)


def test_histogram_median_matches_numpy_on_binned_values():
    rng = np.random.default_rng(0)
    for n in (1, 2, 7, 100, 1001):
        values = rng.uniform(0, 180, size=n)
        hist = np.bincount((values / 0.01).astype(int), minlength=18000)
        assert histogram_median(hist) == pytest.approx(np.median(values), abs=0.01)


def test_metrics_with_no_valid_pixel_are_nan_not_crash():
    out = _evaluate(DepthTask().build_metric(), [(torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2))])
    assert math.isnan(out["depth/absErr"])
