"""Eq. 1 batched equals a per-image reference; gradients go only where labels are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data.nyuv2 import NYUv2
from bench.labels.regimes import parse_regime
from bench.weightings import TaskLosses, build_weighting, loss_matrix
from methods.sl import SupervisedLearning
from methods.stl import SingleTaskLearning

TASKS = NYUv2.build_tasks()


class _Net(torch.nn.Module):
    """What the uncertainty weighting reads of a network: its log-variances."""

    def __init__(self, logsigma: torch.Tensor) -> None:
        super().__init__()
        self.logsigma = torch.nn.Parameter(logsigma)


def _weighted(name: str, matrix, mask, reduction, logsigma=None):
    net = _Net(logsigma if logsigma is not None else torch.zeros(len(TASKS)))
    return build_weighting(name, len(TASKS), reduction).loss(TaskLosses(matrix, mask, reduction),
                                                             net)


def _batch(b: int, h: int = 32, w: int = 32, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    labels = {
        "semantic": torch.randint(-1, 13, (b, h, w), generator=g),
        "depth": torch.rand(b, 1, h, w, generator=g) * 5,
        "normal": torch.nn.functional.normalize(torch.randn(b, 3, h, w, generator=g), dim=1),
    }
    labels["depth"][:, :, :4] = 0
    preds = {
        "semantic": torch.randn(b, 13, h, w, generator=g),
        "depth": torch.rand(b, 1, h, w, generator=g) * 5,
        "normal": torch.nn.functional.normalize(torch.randn(b, 3, h, w, generator=g), dim=1),
    }
    return preds, labels


def _reference_eq1(preds, labels, mask, logsigma=None, reduction="paper"):
    """Per image: the sum (official scripts) or mean (Eq. 1 as written) of its task losses."""
    total = 0.0
    b = mask.shape[0]
    for n in range(b):
        kept = [k for k in range(len(TASKS)) if mask[n, k]]
        s = 0.0
        for k in kept:
            t = TASKS[k]
            valid = t.valid_mask(labels[t.name][n:n + 1])
            loss = t.pixel_loss(preds[t.name][n:n + 1], labels[t.name][n:n + 1])[valid].mean()
            if logsigma is not None:
                loss = 0.5 * torch.exp(-logsigma[k]) * loss + 0.5 * logsigma[k]
            s = s + loss
        total = total + (s / len(kept) if reduction == "paper" else s)
    return total / b


@pytest.mark.parametrize("reduction", ["official", "paper"])
@pytest.mark.parametrize("regime", ["full", "onelabel", "randomlabels"])
def test_batched_eq1_equals_per_image_reference(regime, reduction):
    preds, labels = _batch(6)
    mask = torch.from_numpy(parse_regime(regime).mask(6, [t.name for t in TASKS], 1))
    matrix = loss_matrix(TASKS, preds, labels, mask)
    batched = _weighted("equal", matrix, mask, reduction)
    assert torch.allclose(batched, _reference_eq1(preds, labels, mask, reduction=reduction),
                          atol=1e-6)
    logsigma = torch.tensor([0.3, -0.2, 0.7])
    unc = _weighted("uncertainty", matrix, mask, reduction, logsigma)
    assert torch.allclose(unc, _reference_eq1(preds, labels, mask, logsigma, reduction),
                          atol=1e-6)


def test_reductions_agree_with_one_label_and_differ_with_more():
    """With one label per image the sum equals the mean; with three the sum is three times it."""
    preds, labels = _batch(6)
    one = torch.from_numpy(parse_regime("onelabel").mask(6, [t.name for t in TASKS], 1))
    full = torch.ones(6, 3, dtype=torch.bool)
    for mask, ratio in ((one, 1.0), (full, 3.0)):
        m = loss_matrix(TASKS, preds, labels, mask)
        torch.testing.assert_close(_weighted("equal", m, mask, "official"),
                                   ratio * _weighted("equal", m, mask, "paper"))


def _inputs(b=4, seed=0):
    preds, labels = _batch(b, 64, 64, seed)
    return torch.rand(b, 3, 64, 64), labels


def test_no_supervised_gradient_from_unlabelled_task():
    torch.manual_seed(0)
    model = SupervisedLearning(TASKS, width=0.0625)
    image, labels = _inputs()
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[:, 0] = True  # semantic only: depth and normal heads must get no gradient
    losses = model.loss(image, labels, mask, None)
    losses["loss_sup"].backward()
    assert model.net.pred_task1[1].weight.grad is not None
    assert model.net.pred_task2[1].weight.grad is None
    assert model.net.pred_task3[1].weight.grad is None
    assert model.net.logsigma.grad is None  # equal weighting does not touch it


def test_label_of_unlabelled_task_cannot_change_the_loss():
    torch.manual_seed(0)
    model = SupervisedLearning(TASKS, width=0.0625).eval()
    image, labels = _inputs()
    mask = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=torch.bool)
    other = {k: v.clone() for k, v in labels.items()}
    other["semantic"][1] = (other["semantic"][1] + 3) % 13  # image 1 has no semantic label
    other["depth"][0] *= 3  # image 0 has no depth label
    a = model.loss(image, labels, mask, None)["loss_sup"]
    b = model.loss(image, other, mask, None)["loss_sup"]
    assert torch.equal(a, b)


def test_stl_networks_only_learn_from_their_task():
    torch.manual_seed(0)
    model = SingleTaskLearning(TASKS, width=0.0625)
    image, labels = _inputs()
    mask = torch.zeros(4, 3, dtype=torch.bool)
    mask[:2, 1] = True  # depth labels on two images only
    out = model.loss(image, labels, mask, None)
    out["loss_sup"].backward()
    assert all(p.grad is None for p in model.net["semantic"].parameters())
    assert all(p.grad is None for p in model.net["normal"].parameters())
    assert model.net["depth"].pred_task1[1].weight.grad is not None
    # the depth network saw only the two labelled images (batch-norm statistics included)
    with torch.no_grad():
        pred = model.net["depth"](image[:2])[0]["depth"]
    ref = TASKS[1].per_image_loss(pred, labels["depth"][:2]).mean()
    assert torch.allclose(out["loss_sup"], ref, atol=1e-6)
    with torch.no_grad():
        pred_all = model.net["depth"](image)[0]["depth"]
    assert not torch.allclose(TASKS[1].per_image_loss(pred_all[:2], labels["depth"][:2]).mean(),
                              ref)


def test_stl_predicts_every_task_from_its_own_network():
    model = SingleTaskLearning(TASKS, width=0.0625).eval()
    out = model.predict(torch.rand(2, 3, 64, 64))
    assert len(out) == 2 and set(out[0]) == {"semantic", "depth", "normal"}
    assert out[0]["semantic"].dtype == torch.long


def test_masks_from_regime_reach_the_loss():
    preds, labels = _batch(4)
    mask = torch.from_numpy(np.array([[1, 0, 0]] * 4, dtype=bool))
    m = loss_matrix(TASKS, preds, labels, mask)
    assert (m[:, 1:] == 0).all() and (m[:, 0] > 0).all()
