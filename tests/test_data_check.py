"""Every file a run reads is checked before the first run starts, once (cached by size, mtime).

The bad files are put at index 2, which the layout check's few samples (0, 3, 6, …) never read:
only the full check finds them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from layouts import write_nyuv2

from bench.cli import main
from bench.data.base import VALIDATE_SAMPLES, spread_indices
from bench.data.check import cache_path, check_files
from bench.data.nyuv2 import NYUv2

H = W = 32
UNSAMPLED = 2


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clean") / "nyuv2"
    write_nyuv2(root, n_train=16, n_val=8, h=H, w=W)
    assert UNSAMPLED not in spread_indices(16, VALIDATE_SAMPLES)
    return root


def _copy(clean: Path, tmp_path: Path) -> Path:
    shutil.copytree(clean, tmp_path / "data" / "nyuv2")
    return tmp_path / "data" / "nyuv2"


def _bad_label(value: float) -> np.ndarray:
    label = np.zeros((H, W), np.float32)
    label[5, 5] = value
    return label


def _nan_depth() -> np.ndarray:
    depth = np.ones((H, W, 1), np.float32)
    depth[3, 4] = np.nan
    return depth


BAD = {
    "label out of range": ("train/label", lambda: _bad_label(40), "out of range"),
    "label of another shape (was silently resized)": (
        "train/label", lambda: np.zeros((H // 2, W // 2), np.float32), "shape (16, 16)"),
    "non-unit normals": ("train/normal", lambda: np.full((H, W, 3), 2.0, np.float32),
                         "unit vectors"),
    "image in [0, 255]": ("train/image", lambda: np.full((H, W, 3), 255.0, np.float32),
                          "divided by 255"),
    "NaN depth in a training file": ("train/depth", _nan_depth, "finite"),
    "NaN depth in a test file": ("val/depth", _nan_depth, "finite"),
    "label of string dtype": ("train/label", lambda: np.full((H, W), "1"), "is not numeric"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_file_anywhere_is_named_and_no_run_starts(case, clean, tmp_path, capsys):
    folder, make, expected = BAD[case]
    root = _copy(clean, tmp_path)
    np.save(root / folder / f"{UNSAMPLED}.npy", make())
    results = tmp_path / "results"
    code = main(["run", "--methods", "sl,stl", "--dataset", "nyuv2", "--regimes", "onelabel",
                 "--profile", "smoke", "--jobs", "1", "--data-root", str(tmp_path / "data"),
                 "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{folder}/{UNSAMPLED}.npy" in err and expected in err, err
    assert "no run was started" in err and "Traceback" not in err
    assert not (results / "runs").exists()


def test_every_bad_file_is_listed(clean, tmp_path):
    root = _copy(clean, tmp_path)
    for i in (1, 2, 4):
        np.save(root / "train" / "label" / f"{i}.npy", _bad_label(-7))
    result = check_files(NYUv2, root, (H, W), {"train": 16, "val": 8})
    assert [p.name for p, _ in result.problems] == ["1.npy", "2.npy", "4.npy"]
    assert result.files == (16 + 8) * 4 and result.checked == result.files


def test_only_the_files_runs_read_are_checked(clean, tmp_path, capsys):
    root = _copy(clean, tmp_path)
    np.save(root / "train" / "depth" / "11.npy", _nan_depth())
    argv = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--profile",
            "smoke", "--dry-run", "--data-root", str(tmp_path / "data"),
            "--results", str(tmp_path / "r")]
    assert main([*argv, "--set", "data.limit.train=8"]) == 0  # runs read files 0…7 only
    capsys.readouterr()
    assert main(argv) == 2
    assert "train/depth/11.npy" in capsys.readouterr().err


def test_the_check_is_cached_by_size_and_mtime(clean, tmp_path):
    root = _copy(clean, tmp_path)
    cache = cache_path(tmp_path / "results", NYUv2, root)
    counts = {"train": 16, "val": 8}
    first = check_files(NYUv2, root, (H, W), counts, cache)
    assert first.checked == first.files == 96 and not first.problems and cache.is_file()
    assert str(cache).startswith(str(tmp_path / "results"))  # nothing written into the data
    second = check_files(NYUv2, root, (H, W), counts, cache)
    assert second.checked == 0 and second.cached == 96
    path = root / "train" / "normal" / "5.npy"
    np.save(path, np.full((H, W, 3), 3.0, np.float32))
    third = check_files(NYUv2, root, (H, W), counts, cache)
    assert third.checked == 1 and [p for p, _ in third.problems] == [path]
    np.save(path, np.zeros((H, W, 3), np.float32))  # fixed (all missing)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1000))
    fourth = check_files(NYUv2, root, (H, W), counts, cache)
    assert fourth.checked == 1 and not fourth.problems
    cache.write_text("{not json")  # a damaged cache only costs a re-check
    assert check_files(NYUv2, root, (H, W), counts, cache).checked == 96


def test_bench_data_check_reads_every_file_once(clean, tmp_path, capsys):
    _copy(clean, tmp_path)
    argv = ["data", "check", "--dataset", "nyuv2", "--data-root", str(tmp_path / "data"),
            "--results", str(tmp_path / "r")]
    assert main(argv) == 0
    assert "96 files: 96 checked" in capsys.readouterr().out
    assert main(argv) == 0
    assert "0 checked, 96 unchanged" in capsys.readouterr().out
    assert main([*argv, "--no-cache"]) == 0
    assert "96 checked" in capsys.readouterr().out
