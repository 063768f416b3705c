"""PASCAL-Context adapter on a fixture in the real layout, malformed cases, split files by id,
the flip/rotate/scale augmentation and the synthetic PASCAL-like set."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from layouts import FIXTURE_PARTS, write_pascal, write_pascal_parts
from PIL import Image
from scipy.io import savemat

from bench.cli import main
from bench.data.affine import warp_sample
from bench.data.base import VALIDATE_SAMPLES, spread_indices
from bench.data.check import cache_path, check_files
from bench.data.pascal_context import PascalContext
from bench.errors import BenchError, DatasetError
from bench.labels.regimes import parse_regime
from bench.tasks.normal_l1 import NormalL1Task
from bench.tasks.semantic import SemanticTask


@pytest.fixture(scope="module")
def pascal_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pascal(tmp_path_factory.mktemp("pascal") / "pascal_context")


def broken_copy(src: Path, tmp_path: Path) -> Path:
    root = tmp_path / "pascal_context"
    shutil.copytree(src, root)
    return root


def test_layout_is_read_with_every_label(pascal_root):
    info = PascalContext.check_layout(pascal_root)
    assert info.sizes == {"train": 6, "val": 4}
    ds = PascalContext(pascal_root, "train")
    assert ds.ids == [f"2008_{i:06d}" for i in range(6)]
    s = ds[0]
    assert s["image"].shape == (3, 48, 64)
    labels = s["labels"]
    assert (labels["semseg"][0] == -1).all() and labels["semseg"].max() <= 20
    # person parts in bands of the left half, background elsewhere
    parts = labels["human_parts"]
    assert sorted(torch.unique(parts[:, :32]).tolist()) == sorted(FIXTURE_PARTS.values())
    assert (parts[:, 32:] == 0).all()
    assert (ds[1]["labels"]["human_parts"] == -1).all()  # no person: not evaluated
    # normals only on classes valid for normals: wall and person, not sky
    normals = labels["normals"]
    assert (normals[:, :12] == 0).all() and (normals[:, 12:].norm(dim=0) - 1).abs().max() < 1e-3
    assert labels["saliency"].sum() == 16 * 16
    # edges: the thinned class boundaries of the LabelMap (sky/wall row, person rectangle)
    edge = labels["edge"][0]
    assert edge[11:13, 1:-1].sum(0).min() >= 1 and edge[0].sum() == 0 and edge[30:, :8].sum() == 0
    assert edge[16:32, 16].sum() > 0


def test_data_check_cli_accepts_the_fixture(pascal_root, capsys):
    assert main(["data", "check", "--dataset", "pascal_context",
                 "--data-root", str(pascal_root.parent)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "layout OK — train 6, val 4" in out


def _missing_jpeg(root: Path) -> None:
    (root / "JPEGImages" / "2008_000003.jpg").unlink()


def _both_splits(root: Path) -> None:
    path = root / "ImageSets" / "Context" / "val.txt"
    path.write_text(path.read_text() + "2008_000001\n")


def _bad_semseg(root: Path) -> None:
    Image.fromarray(np.full((48, 64), 30, np.uint8)).save(
        root / "semseg" / "pascal-context" / "2008_000000.png")


def _no_label_map(root: Path) -> None:
    savemat(root / "pascal-context" / "trainval" / "2008_000000.mat", {"Other": np.zeros((2, 2))})


def _unknown_part(root: Path) -> None:
    import layouts

    layouts.FIXTURE_PARTS["tail"] = 9
    try:
        write_pascal_parts(root / "human_parts" / "2008_000000.mat", 48, 64, person=True)
    finally:
        del layouts.FIXTURE_PARTS["tail"]


def _grey_normals(root: Path) -> None:
    Image.fromarray(np.zeros((48, 64), np.uint8)).save(root / "normals_distill" / "2008_000000.png")


def _corrupt_mat(root: Path) -> None:
    (root / "human_parts" / "2008_000000.mat").write_bytes(b"not a mat file")


def _no_split_list(root: Path) -> None:
    (root / "ImageSets" / "Context" / "train.txt").unlink()


@pytest.mark.parametrize(("breaks", "expected"), [
    (_missing_jpeg, "2008_000003.jpg"),
    (_both_splits, "in both the train and the val split"),
    (_bad_semseg, "out of range"),
    (_no_label_map, "no variable 'LabelMap'"),
    (_unknown_part, "unknown person part 'tail'"),
    (_grey_normals, "must be RGB"),
    (_corrupt_mat, "cannot read it as a MATLAB file"),
    (_no_split_list, "Missing split list"),
])
def test_malformed_layouts_fail_with_the_path_and_what_to_do(pascal_root, tmp_path, capsys,
                                                           breaks, expected):
    root = broken_copy(pascal_root, tmp_path)
    breaks(root)
    with pytest.raises(DatasetError) as err:
        PascalContext.check_layout(root)
    text = str(err.value)
    assert expected in text and "ImageSets/Context" in text and "PASCAL_MT" in text
    assert main(["data", "check", "--dataset", "pascal_context",
                 "--data-root", str(tmp_path)]) == 2
    assert expected in capsys.readouterr().err


def test_split_file_by_image_id(pascal_root, tmp_path):
    ids = PascalContext.image_ids(pascal_root, "train")
    split = {"semseg": ids[:2], "human_parts": [ids[2]], "normals": [ids[3]], "sal": [ids[4]],
             "edge": [ids[5], ids[0]]}
    path = tmp_path / "split.npy"
    np.save(path, split, allow_pickle=True)
    tasks = [t.name for t in PascalContext.build_tasks()]
    mask = parse_regime(f"file:{path}").mask(6, tasks, 0, ids=ids,
                                             file_keys=PascalContext.split_file_keys)
    expected = np.zeros((6, 5), bool)
    expected[[0, 1], 0] = True
    expected[2, 1] = expected[3, 2] = expected[4, 3] = True
    expected[[5, 0], 4] = True
    np.testing.assert_array_equal(mask, expected)
    with pytest.raises(BenchError, match="by index only"):
        parse_regime(f"file:{path}").mask(6, tasks, 0)
    np.save(path, {**split, "semseg": ["2011_999999"]}, allow_pickle=True)
    with pytest.raises(BenchError, match="not training images"):
        parse_regime(f"file:{path}").mask(6, tasks, 0, ids=ids,
                                          file_keys=PascalContext.split_file_keys)


def test_shipped_pascal_split_files_are_found_by_name():
    regime = parse_regime("file:pascal_onelabel.npy")
    split = np.load(regime.path, allow_pickle=True).item()
    ids = sorted({i for v in split.values() for i in v})
    assert len(ids) == 4998  # the official training set
    tasks = [t.name for t in PascalContext.build_tasks()]
    mask = regime.mask(len(ids), tasks, 0, ids=ids, file_keys=PascalContext.split_file_keys)
    assert (mask.sum(1) == 1).all() and mask.sum(0).tolist() == [1000, 999, 1000, 1000, 999]


def test_rotation_moves_labels_with_the_image_and_blanks_what_comes_from_outside():
    tasks = [SemanticTask(3, name="semseg"), NormalL1Task()]
    image = torch.zeros(3, 32, 32)
    image[:, 14:18, 20:30] = 1.0  # a bar right of the centre
    sem = torch.zeros(32, 32, dtype=torch.long)
    sem[14:18, 20:30] = 2
    normals = torch.zeros(3, 32, 32)
    normals[0] = 1.0
    out_img, out = warp_sample(image, {"semseg": sem, "normals": normals}, tasks,
                               angle=np.pi / 2, scale=1.0)
    # turned counter-clockwise: the bar now lies above the centre, label and image alike
    assert out_img[0, 3:13, 15].mean() > 0.9 and (out["semseg"][3:13, 14:18] == 2).all()
    assert (out["semseg"][16:, 14:18] != 2).all()
    inside = out["normals"].abs().sum(0) > 0
    torch.testing.assert_close(out["normals"][:, inside][:, 0], torch.tensor([0.0, -1.0, 0.0]),
                               atol=1e-6, rtol=0)
    _, zoomed = warp_sample(image, {"semseg": sem, "normals": normals}, tasks, 0.0, 0.75)
    assert (zoomed["semseg"][0] == -1).all() and (zoomed["normals"][:, 0] == 0).all()


def test_synthetic_pascal_is_written_in_the_real_layout(tmp_path):
    from bench.data.render.writer import generate_dataset

    root = tmp_path / "synthetic-pascal"
    generate_dataset("pascal", root, n_train=8, n_val=4, height=32, width=32, seed=0)
    info = PascalContext.check_layout(root)
    assert info.sizes == {"train": 8, "val": 4}
    ds = PascalContext(root, "train")
    people = [bool((ds[i]["labels"]["human_parts"] >= 0).any()) for i in range(8)]
    assert any(people)
    for i in range(8):
        labels = ds[i]["labels"]
        if people[i]:
            assert (labels["human_parts"] > 0).any()
            # parts lie on person pixels (VOC class 15)
            assert (labels["semseg"][labels["human_parts"] > 0] == 15).all()
        assert ((labels["saliency"][0] > 0) == (labels["semseg"] > 0)).float().mean() > 0.9


@pytest.fixture(scope="module")
def pascal16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_pascal(tmp_path_factory.mktemp("pascal16") / "pascal_context", n_train=16,
                        n_val=4, h=24, w=32)
    assert not {2, 5, 7} & set(spread_indices(16, VALIDATE_SAMPLES))  # the layout check skips them
    return root


def test_the_full_data_check_validates_every_label_through_its_task(pascal16, tmp_path, capsys):
    root = broken_copy(pascal16, tmp_path)
    train = PascalContext.image_ids(root, "train")
    semseg = root / "semseg" / "pascal-context" / f"{train[2]}.png"
    Image.fromarray(np.full((24, 32), 40, np.uint8)).save(semseg)  # class 40 of 21
    saliency = root / "sal_distill" / f"{train[5]}.png"
    Image.fromarray(np.zeros((12, 32), np.uint8)).save(saliency)  # half the image's height
    label_map = root / "pascal-context" / "trainval" / f"{train[7]}.mat"
    savemat(label_map, {"LabelMap": np.zeros((24, 16), np.uint16)})  # edges' source: too narrow
    PascalContext.check_layout(root)  # the sampled images are fine
    result = check_files(PascalContext, root, (512, 512), {"train": 16, "val": 4})
    assert result.files == 20 * 6 and result.checked == 20 * 6
    problems = dict(result.problems)
    assert sorted(problems) == sorted([semseg, saliency, label_map])
    assert "label values out of range" in problems[semseg]
    assert "expected (24, 32)" in problems[saliency]
    assert "LabelMap is 24×16 but the image is 24×32" in problems[label_map]
    assert main(["data", "check", "--dataset", "pascal_context", "--data-root", str(tmp_path),
                 "--results", str(tmp_path / "results")]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "3 files fail the data check" in err and "Traceback" not in err
    for path in (semseg, saliency, label_map):
        assert str(path) in err
    assert "label values out of range" in err and "expected (24, 32)" in err
    assert "ImageSets/Context" in err  # the expected layout, to fix it


def test_the_full_data_check_is_cached_per_image(pascal16, tmp_path):
    root = broken_copy(pascal16, tmp_path)
    cache = cache_path(tmp_path / "results", PascalContext, root)
    counts = {"train": 16, "val": 4}
    assert check_files(PascalContext, root, (512, 512), counts, cache).checked == 120
    again = check_files(PascalContext, root, (512, 512), counts, cache)
    assert (again.checked, again.cached) == (0, 120)
    train = PascalContext.image_ids(root, "train")
    bad = root / "normals_distill" / f"{train[5]}.png"
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(bad)  # grey, not RGB
    third = check_files(PascalContext, root, (512, 512), counts, cache)
    assert (third.checked, third.cached) == (6, 114)  # only that image's six files
    assert [p for p, _ in third.problems] == [bad]


def test_a_run_reads_the_split_file_with_the_training_ids(pascal_root, tmp_path):
    from bench.engine.build import run_mask
    from bench.labels.validation import carve_validation

    ids = PascalContext.image_ids(pascal_root, "train")
    path = tmp_path / "split.npy"
    np.save(path, {"semseg": ids[:2], "human_parts": [ids[2]], "normals": [ids[3]],
                   "sal": [ids[4]], "edge": [ids[5]]}, allow_pickle=True)
    config = {"regime": f"file:{path}", "execution": {"data_root": str(pascal_root)},
              "dataset": {"fingerprint": {"sizes": {"train": 6}}}}
    split = carve_validation(6, 0.2, 0)
    mask = run_mask(config, PascalContext, split, seed=0)
    expected = np.eye(5, dtype=bool)[[0, 0, 1, 2, 3, 4]]
    np.testing.assert_array_equal(mask, expected[split.train])
