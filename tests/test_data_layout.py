"""Dataset adapters on tiny fixtures in the exact layouts, including malformed data."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from layouts import write_cityscapes, write_nyuv2

from bench.data.cityscapes import Cityscapes
from bench.data.nyuv2 import NYUv2
from bench.errors import DatasetError


def test_nyuv2_layout_is_read(nyuv2_root):
    info = NYUv2.check_layout(nyuv2_root / "nyuv2")
    assert info.sizes == {"train": 16, "val": 8}
    assert (info.height, info.width) == (64, 64)
    ds = NYUv2(nyuv2_root / "nyuv2", "val")
    s = ds[3]
    assert s["image"].shape == (3, 64, 64) and s["image"].dtype == torch.float32
    assert s["labels"]["semantic"].shape == (64, 64) and s["labels"]["semantic"].dtype == torch.long
    assert s["labels"]["depth"].shape == (1, 64, 64)
    assert s["labels"]["normal"].shape == (3, 64, 64)
    raw = np.load(nyuv2_root / "nyuv2" / "val" / "depth" / "3.npy")
    assert torch.equal(s["labels"]["depth"][0], torch.from_numpy(raw[..., 0]))


def test_cityscapes_layout_reads_label_7(cityscapes_root):
    info = Cityscapes.check_layout(cityscapes_root / "cityscapes")
    assert info.sizes == {"train": 12, "val": 6}
    s = Cityscapes(cityscapes_root / "cityscapes", "train")[0]
    raw = np.load(cityscapes_root / "cityscapes" / "train" / "label_7" / "0.npy")
    assert torch.equal(s["labels"]["semantic"], torch.from_numpy(raw).long())
    assert set(s["labels"]) == {"semantic", "depth"}


def test_unlabelled_tasks_are_blanked_and_mask_is_returned(nyuv2_root):
    mask = np.zeros((16, 3), dtype=bool)
    mask[:, 1] = True  # only depth kept
    s = NYUv2(nyuv2_root / "nyuv2", "train", mask=mask)[5]
    assert s["label_mask"].tolist() == [False, True, False]
    assert (s["labels"]["semantic"] == -1).all()
    assert (s["labels"]["normal"] == 0).all()
    assert (s["labels"]["depth"] != 0).any()


def test_scale_crop_divides_depth_by_scale(tmp_path):
    root = write_nyuv2(tmp_path / "nyuv2", n_train=2, n_val=1, h=64, w=64)
    np.save(root / "train" / "depth" / "0.npy", np.full((64, 64, 1), 3.0, np.float32))
    ds = NYUv2(root, "train", augment=True, seed=0)
    seen = set()
    for epoch in range(40):
        depth = ds[(0, epoch)]["labels"]["depth"]
        values = torch.unique(depth)
        assert len(values) == 1
        seen.add(round(3.0 / float(values[0]), 3))
    assert seen == {1.0, 1.2, 1.5}


def test_augmentation_is_a_function_of_seed_epoch_index(nyuv2_root):
    ds = NYUv2(nyuv2_root / "nyuv2", "train", augment=True, two_views=True, seed=1)
    a, b, c = ds[(4, 2)], ds[(4, 2)], ds[(4, 3)]
    assert torch.equal(a["image"], b["image"]) and torch.equal(a["view2"]["image"],
                                                               b["view2"]["image"])
    assert not (torch.equal(a["image"], c["image"]) and torch.equal(a["view2"]["image"],
                                                                    c["view2"]["image"]))


def _broken(tmp_path: Path) -> Path:
    root = tmp_path / "nyuv2"
    write_nyuv2(root, n_train=4, n_val=2, h=32, w=32)
    return root


def test_missing_dataset_names_path_layout_and_source(tmp_path):
    with pytest.raises(DatasetError) as err:
        NYUv2.check_layout(tmp_path / "nyuv2")
    text = str(err.value)
    assert str(tmp_path / "nyuv2") in text
    assert "train,val}/label/{i}.npy" in text and "dropbox" in text


def test_missing_folder(tmp_path):
    root = _broken(tmp_path)
    shutil.rmtree(root / "val" / "normal")
    with pytest.raises(DatasetError, match="Missing folder .*val/normal"):
        NYUv2.check_layout(root)


def test_wrong_array_shape(tmp_path):
    root = _broken(tmp_path)
    np.save(root / "train" / "depth" / "3.npy", np.ones((32, 32), np.float32))
    with pytest.raises(DatasetError, match=r"train/depth/3.npy: shape \(32, 32\), expected"):
        NYUv2.check_layout(root)


def test_label_out_of_range(tmp_path):
    root = _broken(tmp_path)
    label = np.zeros((32, 32), np.float32)
    label[0, 0] = 13
    np.save(root / "val" / "label" / "1.npy", label)
    with pytest.raises(DatasetError, match="out of range.*13"):
        NYUv2.check_layout(root)


def test_gap_in_numbering_and_unequal_counts(tmp_path):
    root = _broken(tmp_path)
    (root / "train" / "image" / "1.npy").unlink()
    with pytest.raises(DatasetError, match="not numbered 0…N-1"):
        NYUv2.check_layout(root)
    root2 = _broken(tmp_path / "b")
    (root2 / "train" / "normal" / "3.npy").unlink()
    with pytest.raises(DatasetError, match="different numbers of files"):
        NYUv2.check_layout(root2)


def test_non_unit_normals_and_corrupt_file(tmp_path):
    root = _broken(tmp_path)
    np.save(root / "train" / "normal" / "0.npy", np.full((32, 32, 3), 2.0, np.float32))
    with pytest.raises(DatasetError, match="unit vectors"):
        NYUv2.check_layout(root)
    root2 = _broken(tmp_path / "b")
    (root2 / "val" / "image" / "0.npy").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="Cannot read"):
        NYUv2.check_layout(root2)


def test_image_range_checked(tmp_path):
    root = write_cityscapes(tmp_path / "cityscapes", n_train=2, n_val=1, h=32, w=64)
    np.save(root / "train" / "image" / "0.npy", np.full((32, 64, 3), 255.0, np.float32))
    with pytest.raises(DatasetError, match=r"values in \[0, 1\]"):
        Cityscapes.check_layout(root)
