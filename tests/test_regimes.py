"""Label regimes: counts, determinism, coverage, official split files, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.labels.regimes import SPLITS_DIR, mask_summary, pack_mask, parse_regime, unpack_mask

TASKS3 = ["semantic", "depth", "normal"]


@pytest.mark.parametrize("n", [7, 30, 795])
def test_onelabel_one_label_per_image_and_balanced(n):
    mask = parse_regime("onelabel").mask(n, TASKS3, seed=0)
    assert mask.shape == (n, 3)
    assert (mask.sum(1) == 1).all()
    counts = mask.sum(0)
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("k", [2, 3, 5])
def test_randomlabels_between_one_and_k_minus_one(k):
    tasks = [f"t{i}" for i in range(k)]
    mask = parse_regime("randomlabels").mask(400, tasks, seed=3)
    per_image = mask.sum(1)
    assert per_image.min() >= 1 and per_image.max() <= k - 1
    assert mask.any(0).all()
    if k > 2:  # every count 1..k-1 occurs
        assert set(per_image.tolist()) == set(range(1, k))


def test_full_keeps_everything():
    assert parse_regime("full").mask(5, TASKS3, 0).all()


@pytest.mark.parametrize("regime", ["onelabel", "randomlabels", "ratio:1:2:1"])
def test_masks_are_deterministic_per_seed_and_differ_between_seeds(regime):
    r = parse_regime(regime)
    a, b, c = r.mask(100, TASKS3, 1), r.mask(100, TASKS3, 1), r.mask(100, TASKS3, 2)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("regime,expected", [("ratio:1:9", [10, 90]), ("ratio:9:1", [90, 10]),
                                             ("ratio:3:7", [30, 70])])
def test_ratio_partitions_images_between_tasks(regime, expected):
    mask = parse_regime(regime).mask(100, ["semantic", "depth"], seed=0)
    assert (mask.sum(1) == 1).all()
    assert mask.sum(0).tolist() == expected


def test_every_task_gets_labels_even_for_tiny_shares():
    mask = parse_regime("ratio:1:99").mask(20, ["semantic", "depth"], seed=0)
    assert mask.sum(0).tolist() == [1, 19]


def test_ratio_must_match_number_of_tasks():
    with pytest.raises(BenchError, match="2 ratios but the dataset has 3 tasks"):
        parse_regime("ratio:1:9").mask(10, TASKS3, 0)


@pytest.mark.parametrize("bad", ["ratio:", "ratio:a:b", "ratio:-1:2", "ratio:0:0", "onelable"])
def test_bad_regime_strings_are_user_errors(bad):
    with pytest.raises(BenchError):
        parse_regime(bad)


def test_official_nyuv2_onelabel_file_gives_265_per_task():
    mask = parse_regime("file:nyuv2_onelabel.pth").mask(795, TASKS3, seed=0)
    assert mask.sum(0).tolist() == [265, 265, 265]
    assert (mask.sum(1) == 1).all()


def test_official_nyuv2_randomlabels_file_gives_405_one_and_390_two_labels():
    mask = parse_regime("file:nyuv2_randomlabels.pth").mask(795, TASKS3, seed=0)
    assert np.bincount(mask.sum(1)).tolist() == [0, 405, 390]


def test_official_split_ignores_seed():
    r = parse_regime(f"file:{SPLITS_DIR / 'cityscapes_onelabel.pth'}")
    assert np.array_equal(r.mask(2975, ["semantic", "depth"], 0),
                          r.mask(2975, ["semantic", "depth"], 5))


def test_split_file_errors_are_clear(tmp_path):
    with pytest.raises(BenchError, match="not found"):
        parse_regime(f"file:{tmp_path / 'nope.pth'}").mask(10, TASKS3, 0)
    wrong_shape = tmp_path / "shape.pth"
    torch.save({"labels_weights": torch.ones(10, 2)}, wrong_shape)
    with pytest.raises(BenchError, match=r"shape \(10, 2\).*10 images and 3 tasks"):
        parse_regime(f"file:{wrong_shape}").mask(10, TASKS3, 0)
    no_key = tmp_path / "key.pth"
    torch.save({"weights": torch.ones(10, 3)}, no_key)
    with pytest.raises(BenchError, match="labels_weights"):
        parse_regime(f"file:{no_key}").mask(10, TASKS3, 0)
    empty_row = tmp_path / "row.pth"
    w = torch.ones(10, 3)
    w[3] = 0
    torch.save({"labels_weights": w}, empty_row)
    with pytest.raises(BenchError, match="keep no label"):
        parse_regime(f"file:{empty_row}").mask(10, TASKS3, 0)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a torch file")
    with pytest.raises(BenchError, match="Cannot read split file"):
        parse_regime(f"file:{garbage}").mask(10, TASKS3, 0)


def test_pack_roundtrip_and_summary():
    mask = parse_regime("randomlabels").mask(37, TASKS3, 4)
    assert np.array_equal(unpack_mask(pack_mask(mask), mask.shape), mask)
    s = mask_summary(mask, TASKS3)
    assert sum(s["labels_per_image"].values()) == 37
    assert s["per_task"]["depth"] == int(mask[:, 1].sum())
