"""Batched thinning and the edge counts built on it equal pyEdgeEval's one-map-at-a-time code."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pyEdgeEval.common.binary_label import evaluate_boundaries as reference_module
from pyEdgeEval.preprocess import binary_thin

from bench.metrics import edge as metrics_edge
from bench.metrics.edge_thinning import thin_stack


def smooth_field(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random field in [0, 1] with blobs of several sizes: thresholds give thick regions,
    holes, thin lines and isolated pixels, the shapes thinning has to get right."""
    field = rng.random((h, w))
    for _ in range(3):
        field = (field + np.roll(field, 1, 0) + np.roll(field, 1, 1)
                 + np.roll(field, -1, 0) + np.roll(field, -1, 1)) / 5
    field = (field - field.min()) / (np.ptp(field) + 1e-12)
    return np.clip(field + 0.15 * rng.random((h, w)), 0, 1)


@pytest.mark.parametrize("shape", [(37, 53), (64, 64), (1, 20), (20, 1), (3, 3)])
def test_thin_stack_equals_binary_thin_map_by_map(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    field = smooth_field(rng, *shape)
    maps = field[None] >= np.linspace(0.02, 0.98, 25)[:, None, None]
    maps = np.concatenate([maps, np.ones((1, *shape), bool), np.zeros((1, *shape), bool),
                           rng.random((2, *shape)) < 0.5])
    thinned = thin_stack(maps)
    assert thinned.dtype == bool and thinned.shape == maps.shape
    for got, m in zip(thinned, maps, strict=True):
        np.testing.assert_array_equal(got, binary_thin(m))


def test_thin_stack_keeps_what_is_already_thin_and_removes_a_blobs_interior() -> None:
    maps = np.zeros((2, 9, 9), bool)
    maps[0, 4, 1:8] = True  # a one-pixel line: nothing to remove
    maps[1, 2:7, 2:7] = True  # a filled 5×5 square
    thinned = thin_stack(maps)
    np.testing.assert_array_equal(thinned[0], maps[0])
    assert 0 < thinned[1].sum() < maps[1].sum() and not thinned[1, 3:6, 3:6].all()


def test_thin_stack_rejects_a_single_map() -> None:
    with pytest.raises(ValueError, match=r"\[T, H, W\]"):
        thin_stack(np.zeros((4, 4), bool))


def deterministic_match(pred: np.ndarray, gt: np.ndarray, max_dist: float = 0.0075):
    """Stand-in for the BSDS matcher, whose assignment is randomised by the clock: a predicted
    pixel matches when a ground-truth pixel lies within its 3×3 neighbourhood and vice versa."""
    def near(a: np.ndarray) -> np.ndarray:
        p = np.pad(a, 1)
        return np.any([p[1 + dy:p.shape[0] - 1 + dy, 1 + dx:p.shape[1] - 1 + dx]
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=0)
    return (pred & near(gt)).astype(float), (gt & near(pred)).astype(float), 0.0, 0.0


@pytest.mark.parametrize("with_gt", [True, False])
def test_edge_counts_equal_pyedgeevals_loop(monkeypatch: pytest.MonkeyPatch,
                                            with_gt: bool) -> None:
    monkeypatch.setattr(reference_module, "correspond_pixels", deterministic_match)
    metrics_edge._pyedgeeval.cache_clear()
    correspond, prf, interp = metrics_edge._pyedgeeval()
    monkeypatch.setattr(metrics_edge, "_pyedgeeval", lambda: (deterministic_match, prf, interp))
    rng = np.random.default_rng(3)
    prob = smooth_field(rng, 48, 40)
    prob[prob > 0.8] = 0.9  # a plateau: several thresholds share one map (the reused counts)
    label = (smooth_field(rng, 48, 40) > 0.7).astype(np.float32) if with_gt else np.zeros((48, 40))
    label[:5] = -1  # missing rows: neither ground truth nor predictions
    got = metrics_edge.edge_counts(torch.tensor(prob)[None], torch.tensor(label)[None], 0.0075, 99)
    valid = label >= 0
    expected = reference_module.evaluate_boundaries_threshold(
        metrics_edge.thresholds_of(99), np.where(valid, prob, 0.0), (label > 0.5) & valid,
        max_dist=0.0075, apply_thinning=True, apply_nms=False)
    np.testing.assert_array_equal(got, np.stack(expected))
    assert got[3].max() > 0 and (got[1] > 0).all() == with_gt
