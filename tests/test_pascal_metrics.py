"""PASCAL-Context metrics and losses against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.metrics.edge import EdgeMetric, edge_counts, ods_f
from bench.metrics.parts import HumanPartsMetric
from bench.metrics.saliency import SaliencyMetric, saliency_scores, saliency_stats
from bench.tasks.edge import EdgeTask
from bench.tasks.human_parts import HumanPartsTask
from bench.tasks.normal_l1 import NormalL1Task
from bench.tasks.saliency import SaliencyTask

S = 128  # image side: tolerance 0.0075 × diagonal ≈ 1.36 px


def line_map(rows: slice = slice(None), col: int = 64, value: float = 1.0) -> torch.Tensor:
    m = torch.zeros(1, S, S)
    m[0, rows, col] = value
    return m


def test_ods_f_of_a_hand_made_edge_map():
    gt = line_map()  # 128 edge pixels
    # half of the edge found exactly, plus a 32-pixel false edge far from any true edge
    pred = line_map(slice(0, 64))
    pred[0, :32, 10] = 1.0
    counts = edge_counts(pred, gt, 0.0075, 9)
    # every threshold sees the same binary map: recall 64/128, precision 64/96, odsF 400/7.
    # The BSDS matcher pyEdgeEval ports perturbs its assignment with a clock-seeded random
    # generator, so on such a map it sometimes leaves a pixel or two at the end of the found
    # segment unmatched (measured: 64 matched in 35 of 40 evaluations, 63 in 5): the totals are
    # exact, the matches within 4 of the answer.
    # odsF is the best over the thresholds, i.e. over those draws of the matcher
    assert (counts[1] == 128).all() and (counts[3] == 96).all()
    assert ((counts[0] >= 60) & (counts[0] <= 64) & (counts[2] == counts[0])).all()
    best = max(counts[0])
    assert ods_f(counts, 9) == pytest.approx(100 * 2 * (best / 96) * (best / 128)
                                             / (best / 96 + best / 128))
    assert ods_f(counts, 9) == pytest.approx(400 / 7, abs=2.5)


def test_ods_f_matches_within_the_standard_tolerance_only():
    # 0.0075 × the diagonal of a 128×128 image ≈ 1.36 px: an edge one pixel off is found, one
    # three pixels off is not (precision and recall 0)
    gt = line_map()
    assert ods_f(edge_counts(line_map(col=65), gt, 0.0075, 9), 9) == pytest.approx(100.0)
    assert ods_f(edge_counts(line_map(col=67), gt, 0.0075, 9), 9) == 0.0
    # a looser tolerance (0.02 × 181 ≈ 3.6 px) finds it
    assert ods_f(edge_counts(line_map(col=67), gt, 0.02, 9), 9) == pytest.approx(100.0)


def test_ods_f_picks_the_best_threshold_and_ignores_missing_pixels():
    gt = line_map()
    pred = line_map(value=0.8)
    pred[0, :, 10] = 0.3  # weak false edge: gone above threshold 0.3
    assert ods_f(edge_counts(pred, gt, 0.0075, 19), 19) == pytest.approx(100.0)
    # a false edge where the label is missing (−1) does not count
    gt2 = gt.clone()
    gt2[0, :, :20] = -1
    pred2 = line_map()
    pred2[0, :, 10] = 1.0
    assert ods_f(edge_counts(pred2, gt2, 0.0075, 9), 9) == pytest.approx(100.0)


def test_ods_f_is_computed_over_the_dataset_not_averaged_per_image():
    metric = EdgeMetric("edge", max_dist=0.0075, thresholds=9)
    gt = torch.stack([line_map(), line_map(col=30)])
    pred = torch.stack([line_map(), torch.zeros(1, S, S)])  # image 2: nothing found
    metric.process({"labels": {"edge": gt}}, [{"edge": p} for p in pred])
    # recall 128/256, precision 128/128 → F = 2/3 (the mean of per-image F would be 1/2)
    assert metric.compute_metrics(metric.results)["odsF"] == pytest.approx(200 / 3)


def test_saliency_iou_and_max_f_by_hand():
    label = torch.tensor([[1, 1, 0, 0]], dtype=torch.float32).view(1, 1, 1, 4)
    prob = torch.tensor([[0.95, 0.4, 0.6, 0.1]]).view(1, 1, 1, 4)
    stats = saliency_stats(prob, label, (0.3, 0.5, 0.9))
    # τ=0.3: P={0,1,2}: IoU 2/3, prec 2/3, rec 1;  τ=0.5: P={0,2}: IoU 1/3, prec 1/2, rec 1/2;
    # τ=0.9: P={0}: IoU 1/2, prec 1, rec 1/2
    np.testing.assert_allclose(stats[0, :, 0], [2 / 3, 1 / 3, 1 / 2])
    np.testing.assert_allclose(stats[0, :, 1], [2 / 3, 1 / 2, 1.0], atol=1e-9)
    np.testing.assert_allclose(stats[0, :, 2], [1.0, 1 / 2, 1 / 2], atol=1e-9)
    scores = saliency_scores(stats)
    assert scores["mIoU"] == pytest.approx(100 * 2 / 3)
    assert scores["maxF"] == pytest.approx(100 * 0.8, abs=1e-6)  # 2·(2/3)·1/(5/3)


def test_saliency_averages_images_per_threshold_then_takes_the_max():
    metric = SaliencyMetric("saliency")
    label = torch.tensor([[1, 0], [0, 0]], dtype=torch.float32).view(1, 1, 2, 2).repeat(2, 1, 1, 1)
    label[1] = 0  # image 2: nothing salient
    prob = torch.zeros(2, 1, 2, 2)
    prob[0, 0, 0, 0] = 0.8
    prob[1, 0, 1, 1] = 0.5  # a false positive up to τ < 0.5
    metric.process({"labels": {"saliency": label}}, [{"saliency": p} for p in prob])
    out = metric.compute_metrics(metric.results)
    # τ ≥ 0.5: image 1 IoU 1, image 2 IoU 1 (both empty) → mean 1
    assert out["mIoU"] == pytest.approx(100.0)


def test_human_parts_miou_counts_only_images_with_people():
    task = HumanPartsTask()
    metric = task.build_metric()
    assert isinstance(metric, HumanPartsMetric)
    with_people = torch.tensor([[0, 1], [2, 2]])
    no_people = torch.full((2, 2), -1)
    labels = torch.stack([with_people, no_people])
    preds = torch.stack([torch.tensor([[0, 1], [2, 1]]), torch.full((2, 2), 1)])  # "head" everywhere
    metric.process({"labels": {"human_parts": labels}}, [{"human_parts": p} for p in preds])
    out = metric.compute_metrics(metric.results)
    # classes 0: 1/1, 1: 1/2, 2: 1/2 → mean 2/3, from the first image alone
    assert out["mIoU"] == pytest.approx(100 * 2 / 3)
    assert out["images"] == 1


def test_edge_loss_is_the_weighted_bce_of_the_reference_with_weight_50():
    task = EdgeTask()
    logit = torch.tensor([[[[2.0, -1.0]]]])
    label = torch.tensor([[[[1.0, 0.0]]]])
    sig = torch.sigmoid(logit)[0, 0, 0]
    expected = (-0.95 * torch.log(sig[0]) - 0.05 * torch.log(1 - sig[1])) / 2
    assert task.per_image_loss(logit, label).item() == pytest.approx(50 * expected.item(), rel=1e-5)


def test_saliency_loss_weights_positives_by_the_share_of_negatives():
    task = SaliencyTask(loss_weight=1.0)
    label = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 1, 4)
    assert task.positive_weight(label).item() == pytest.approx(0.75)
    logit = torch.zeros(1, 1, 1, 4)
    # every pixel has −log σ(0) = log 2; weighted: (0.75·1 + 0.25·3)/4 · log 2
    assert task.per_image_loss(logit, label).item() == pytest.approx(1.5 / 4 * np.log(2))


def test_normals_l1_loss_and_rotation():
    task = NormalL1Task()
    label = torch.zeros(1, 3, 1, 2)
    label[0, :, 0, 0] = torch.tensor([0.0, 0.0, 1.0])  # second pixel missing
    pred = torch.zeros(1, 3, 1, 2)
    pred[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    pred[0, :, 0, 1] = torch.tensor([0.0, 1.0, 0.0])
    assert task.per_image_loss(pred, label).item() == pytest.approx(10 * 2 / 3)
    right = torch.tensor([1.0, 0.0, 0.0]).view(3, 1, 1)
    turned = task.follow_rotation(right, np.pi / 2)  # content turned counter-clockwise
    torch.testing.assert_close(turned[:, 0, 0], torch.tensor([0.0, -1.0, 0.0]), atol=1e-6,
                               rtol=0)
