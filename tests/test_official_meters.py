"""The harness's metrics equal the official MTPSL meters' (``utils/evaluation.py``) on random inputs.

The references below restate, independently, what the official ``ConfMatrix``, ``DepthMeter``
and ``NormalsMeter`` compute, batch by batch: one confusion matrix over the split; depth
predictions clamped at 1e-9 before the absolute error over pixels whose label is not 0; the
angle between prediction and label over pixels whose label is not all zero. Inputs include
negative depth predictions, ignored segmentation pixels and missing depth / normal labels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator

from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask

B, H, W, C = 3, 16, 24, 5


def official_confmatrix(batches) -> tuple[float, float]:
    mat = torch.zeros(C, C, dtype=torch.int64)
    for pred, target in batches:
        k = (target >= 0) & (target < C)
        mat += torch.bincount(C * target[k].long() + pred[k], minlength=C * C).reshape(C, C)
    h = mat.double()
    iu = torch.diag(h) / (h.sum(1) + h.sum(0) - torch.diag(h))
    return float(iu.mean() * 100), float(torch.diag(h).sum() / h.sum() * 100)


def official_depth(batches) -> float:
    total, n = 0.0, 0.0
    for pred, gt in batches:
        mask = gt != 0
        pred = torch.clamp(pred, min=1e-9)
        total += float((gt[mask] - pred[mask]).abs().double().sum())
        n += float(mask.sum())
    return total / n


def official_normals(batches) -> tuple[float, float]:
    angles = []
    for pred, gt in batches:
        valid = gt.abs().sum(1) != 0
        cos = torch.clamp((pred * gt).sum(1)[valid].double(), -1, 1)
        angles.append(torch.rad2deg(torch.acos(cos)))
    a = torch.cat(angles)
    return float(a.mean()), float((a < 22.5).double().mean() * 100)


def harness(task, batches) -> dict[str, float]:
    ev = Evaluator([task.build_metric()])
    n = 0
    for pred, label in batches:
        out = task.metric_prediction(pred)
        ev.process(data_samples=[{task.name: p} for p in out],
                   data_batch={"labels": {task.name: label}})
        n += len(out)
    return ev.evaluate(n)


def random_batches(seed: int, kind: str) -> list:
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(4):
        if kind == "semantic":
            label = torch.randint(-1, C, (B, H, W), generator=g)
            out.append((torch.randn(B, C, H, W, generator=g), label))
        elif kind == "depth":
            label = torch.rand(B, 1, H, W, generator=g) * 4 + 0.5
            label[torch.rand(B, 1, H, W, generator=g) < 0.2] = 0  # missing depth
            pred = torch.randn(B, 1, H, W, generator=g) * 2 + 1.0  # many negative predictions
            out.append((pred, label))
        else:
            label = F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
            label[:, :, torch.rand(H, W, generator=g) < 0.2] = 0  # missing normals
            pred = F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
            out.append((pred, label))
    return out


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_semantic_equals_official_confmatrix(seed):
    batches = random_batches(seed, "semantic")
    miou, acc = official_confmatrix([(p.argmax(1), y) for p, y in batches])
    out = harness(SemanticTask(C), batches)
    assert rel(out["semantic/mIoU"], miou) <= 1e-6 and rel(out["semantic/pixAcc"], acc) <= 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_depth_equals_official_meter_with_negative_predictions(seed):
    batches = random_batches(seed, "depth")
    assert sum(int((p < 0).sum()) for p, _ in batches) > 0.1 * 4 * B * H * W
    out = harness(DepthTask(), batches)
    assert rel(out["depth/absErr"], official_depth(batches)) <= 1e-6


def test_the_clamp_matters_with_negative_predictions():
    batches = random_batches(0, "depth")
    unclamped = sum(float((p - y).abs()[y != 0].double().sum()) for p, y in batches) / sum(
        float((y != 0).sum()) for _, y in batches)
    assert rel(unclamped, official_depth(batches)) > 0.01


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_normals_equal_official_meter(seed):
    batches = random_batches(seed, "normal")
    mean, within = official_normals(batches)
    out = harness(NormalTask(), batches)
    assert rel(out["normal/mean"], mean) <= 1e-6
    assert math.isclose(out["normal/within22.5"], within, rel_tol=1e-6)
    assert np.isfinite(out["normal/median"])
