"""The procedural synthetic datasets: geometry, cross-task consistency, layout, determinism."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bench.data.cityscapes import Cityscapes
from bench.data.nyuv2 import NYUv2
from bench.data.render import indoor, street, writer
from bench.data.render.camera import Camera, intrinsics
from bench.data.render.classes import (
    CITYSCAPES7_CLASSES,
    CITYSCAPES19_CLASSES,
    CITYSCAPES19_TO_7,
    NYUV2_CLASSES,
    Nyu,
    map_19_to_7,
)
from bench.data.render.geometry import Box, Cylinder, Plane, Sphere, cast, occluded
from bench.data.render.indoor import render_indoor
from bench.data.render.scene import Scene
from bench.data.render.street import render_street
from bench.data.render.textures import Material
from bench.data.render.writer import GENERATOR_VERSION, generate_dataset
from bench.data.synthetic import SyntheticCityscapes, SyntheticNYUv2

NYU_FOLDERS = ("image", "label", "depth", "normal")
CITY_FOLDERS = ("image", "label_7", "label_19", "depth")


def _nyu(seed: int, i: int, h: int = 64, w: int = 96) -> dict[str, np.ndarray]:
    return render_indoor(np.random.default_rng([seed, 0, i]), h, w)


def _city(seed: int, i: int, h: int = 64, w: int = 128) -> dict[str, np.ndarray]:
    return render_street(np.random.default_rng([seed, 0, i]), h, w)


def _points(depth: np.ndarray, hfov_deg: float) -> np.ndarray:
    """Back-project a depth map (H×W, z-depth) to camera-frame points H×W×3."""
    h, w = depth.shape
    f, cx, cy = intrinsics(h, w, hfov_deg)
    u = (np.arange(w) + 0.5 - cx) / f
    v = (np.arange(h) + 0.5 - cy) / f
    return np.stack([u[None, :] * depth, v[:, None] * depth, depth], axis=-1)


# -- ray casting ----------------------------------------------------------------------------------
def test_primitive_intersections_match_closed_forms():
    o = np.zeros(3)
    d = np.array([[0.0, 0.0, 1.0], [0.6, 0.0, 0.8], [0.0, 1.0, 0.0], [0.0, 0.0, -1.0]])
    # solid sphere of radius 1 at z = 5: t = 4 along +z, normal −z; missed by the others
    hits = cast([Sphere((0.0, 0.0, 5.0), 1.0)], o, d)
    assert hits.t[0] == pytest.approx(4.0)
    np.testing.assert_allclose(hits.normal[0], [0, 0, -1], atol=1e-9)
    assert np.isinf(hits.t[1:]).all() and (hits.index[1:] == -1).all()
    # solid box [-1, 1]×[-1, 1]×[3, 5] rotated by 90° is the same box: entry at t = 3 (face z−)
    hits = cast([Box((0.0, 0.0, 4.0), (1.0, 1.0, 1.0), yaw=np.pi / 2)], o, d[:1])
    assert hits.t[0] == pytest.approx(3.0)
    np.testing.assert_allclose(hits.normal[0], [0, 0, -1], atol=1e-9)
    # a room around the origin is hit from inside, normals point back into the room
    room = Box((0.0, 0.0, 0.0), (2.0, 3.0, 4.0), inside=True)
    hits = cast([room], o, d)
    np.testing.assert_allclose(hits.t, [4.0, 2.0 / 0.6, 3.0, 4.0])
    np.testing.assert_allclose(hits.normal[[0, 2, 3]], [[0, 0, -1], [0, -1, 0], [0, 0, 1]],
                               atol=1e-9)
    np.testing.assert_array_equal(hits.face[[0, 2, 3]], [5, 3, 4])
    # capped vertical cylinder: mantle from the side, cap from above
    cyl = Cylinder(0.0, 5.0, -1.0, 1.0, 0.5)
    hits = cast([cyl], np.array([0.0, 0.0, 0.0]), d[:1])
    assert hits.t[0] == pytest.approx(4.5) and hits.face[0] == 0
    hits = cast([cyl], np.array([0.0, 10.0, 5.0]), np.array([[0.0, -1.0, 0.0]]))
    assert hits.t[0] == pytest.approx(9.0) and hits.face[0] == 3
    np.testing.assert_allclose(hits.normal[0], [0, 1, 0])
    # two-sided plane: the normal is turned towards the ray origin
    hits = cast([Plane((0.0, -1.5, 0.0), (0.0, 1.0, 0.0))], o, np.array([[0.0, -0.5, 1.0]]))
    assert hits.t[0] == pytest.approx(3.0)
    np.testing.assert_allclose(hits.normal[0], [0, 1, 0])


def test_nearest_primitive_wins_and_shadow_rays():
    prims = [Sphere((0.0, 0.0, 10.0), 1.0), Box((0.0, 0.0, 5.0), (0.5, 0.5, 0.5))]
    hits = cast(prims, np.zeros(3), np.array([[0.0, 0.0, 1.0]]))
    assert hits.index[0] == 1 and hits.t[0] == pytest.approx(4.5)
    origins = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    blocked = occluded(prims, origins, np.array([0.0, 0.0, 20.0]), directional=False)
    assert blocked.tolist() == [True, False]
    blocked = occluded(prims, origins, np.array([0.0, 0.0, 1.0]), directional=True)
    assert blocked.tolist() == [True, False]
    # a point light in front of the occluder is not shadowed by it
    assert not occluded(prims, origins[:1], np.array([0.0, 0.0, 3.0]), directional=False)[0]


def test_depth_is_z_distance_and_normals_are_in_the_camera_frame():
    scene = Scene()
    mat = Material((0.5, 0.5, 0.5))
    scene.add(Plane((0.0, 0.0, 5.0), (0.0, 0.0, 1.0)), 3, mat)
    cam = Camera(np.zeros(3), 0.0, 0.0, 8, 12, 60.0)
    tr = scene.trace(cam)
    np.testing.assert_allclose(tr.depth, 5.0)  # a fronto-parallel wall: the same z everywhere
    np.testing.assert_allclose(cam.to_camera(tr.normal_world), np.broadcast_to([0, 0, -1],
                                                                               (8, 12, 3)))
    # pitched 30° down at height 2 over a floor: floor normal (0, −cos θ, −sin θ), depth
    # of the centre pixel ray = 2 / sin θ
    floor = Scene()
    floor.add(Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0)), 4, mat)
    theta = np.radians(30.0)
    cam = Camera(np.array([0.0, 2.0, 0.0]), 0.7, theta, 9, 9, 40.0)
    tr = floor.trace(cam)
    assert tr.depth[4, 4] == pytest.approx(2.0 / np.sin(theta))
    n = cam.to_camera(tr.normal_world)
    np.testing.assert_allclose(n[4, 4], [0.0, -np.cos(theta), -np.sin(theta)], atol=1e-9)
    assert (floor.label(tr, -1) == 4).all()


# -- one geometry for all tasks -------------------------------------------------------------------
def test_nyu_normals_agree_with_the_depth_map():
    """Normals estimated by finite differences of the back-projected depth map match the stored
    normals on planar patches: 3×3 neighbourhoods with one label, one stored normal and an
    inverse depth that is affine in the pixel coordinates (as it is on a plane — this leaves out
    steps between parallel surfaces such as a door on its wall)."""
    angles = []
    for i in range(6):
        s = _nyu(3, i)
        z = s["depth"][..., 0].astype(np.float64)
        n = s["normal"].astype(np.float64)
        lab = s["label"]
        h, w = z.shape
        inv = np.where(z > 0, 1.0 / np.where(z > 0, z, 1.0), 0.0)
        c = (slice(1, h - 1), slice(1, w - 1))
        ok = np.ones((h - 2, w - 2), bool)
        for dv in (-1, 0, 1):
            for du in (-1, 0, 1):
                sh = (slice(1 + dv, h - 1 + dv), slice(1 + du, w - 1 + du))
                ok &= (z[sh] > 0) & (lab[sh] == lab[c])
                ok &= np.abs(n[sh] - n[c]).max(-1) < 1e-4
        for a, b in (((slice(1, h - 1), slice(0, w - 2)), (slice(1, h - 1), slice(2, w))),
                     ((slice(0, h - 2), slice(1, w - 1)), (slice(2, h), slice(1, w - 1)))):
            ok &= np.abs(inv[a] + inv[b] - 2 * inv[c]) < 1e-5 * inv[c]
        pts = _points(z, indoor.HFOV_DEG)
        est = np.cross(pts[1:-1, 2:] - pts[1:-1, :-2], pts[2:, 1:-1] - pts[:-2, 1:-1])
        est /= np.linalg.norm(est, axis=-1, keepdims=True) + 1e-12
        est *= np.where((est * pts[c]).sum(-1, keepdims=True) > 0, -1.0, 1.0)
        cos = np.clip((est * n[c]).sum(-1), -1, 1)
        angles.append(np.degrees(np.arccos(cos))[ok])
    a = np.concatenate(angles)
    assert a.size > 10000
    assert np.median(a) < 0.1
    assert np.percentile(a, 99.9) < 1.0


def test_nyu_class_boundaries_are_geometric_discontinuities():
    """Where two labelled neighbours differ in class (pictures, TVs and windows excepted), they lie
    on different surfaces: their normals differ or one is off the other's tangent plane."""
    flat = [Nyu.PICTURE, Nyu.TV, Nyu.WINDOW]
    pairs = jumps = 0
    for i in range(8):
        s = _nyu(4, i)
        z = s["depth"][..., 0].astype(np.float64)
        n = s["normal"].astype(np.float64)
        lab = s["label"]
        pts = _points(z, indoor.HFOV_DEG)
        for a, b in (((slice(None, -1), slice(None)), (slice(1, None), slice(None))),
                     ((slice(None), slice(None, -1)), (slice(None), slice(1, None)))):
            m = (lab[a] != lab[b]) & (lab[a] >= 0) & (lab[b] >= 0) & (z[a] > 0) & (z[b] > 0)
            m &= ~np.isin(lab[a], flat) & ~np.isin(lab[b], flat)
            na, nb, pa, pb = n[a][m], n[b][m], pts[a][m], pts[b][m]
            angle = np.degrees(np.arccos(np.clip((na * nb).sum(-1), -1, 1)))
            offset = np.abs((na * (pb - pa)).sum(-1))
            pairs += int(m.sum())
            jumps += int(((angle > 0.5) | (offset > 1e-3 * pa[:, 2])).sum())
    assert pairs > 500
    assert jumps / pairs > 0.98


def test_nyu_surface_orientations():
    """Floors face up (−y in the camera frame, the camera pitched down), ceilings down, walls
    sideways; missing depth ⇔ missing normal; valid normals are unit vectors."""
    for i in range(8):
        s = _nyu(5, i)
        lab, n, z = s["label"], s["normal"], s["depth"][..., 0]
        valid = np.abs(n).sum(-1) > 0
        np.testing.assert_array_equal(valid, z > 0)
        np.testing.assert_allclose(np.linalg.norm(n[valid], axis=-1), 1.0, atol=1e-5)
        floor = (lab == Nyu.FLOOR) & valid
        if floor.any():
            assert (n[floor][:, 1] < -0.9).all() and (n[floor][:, 2] <= 1e-6).all()
        ceiling = (lab == Nyu.CEILING) & valid
        if ceiling.any():
            assert (n[ceiling][:, 1] > 0.9).all()
        wall = (lab == Nyu.WALL) & valid
        assert (np.abs(n[wall][:, 1]) < 0.45).all()
        assert (z[z > 0] > 0.2).all() and z.max() <= indoor.MAX_DEPTH


def test_nyu_kinect_and_annotation_gaps():
    window_px = window_missing = 0
    void = missing = 0.0
    for i in range(12):
        s = _nyu(6, i)
        win = s["label"] == Nyu.WINDOW
        window_px += int(win.sum())
        window_missing += int((s["depth"][..., 0][win] == 0).sum())
        void += float((s["label"] == -1).mean())
        missing += float((s["depth"] == 0).mean())
    assert window_missing > 0.5 * window_px  # the sensor sees through glass
    assert 0.005 < void / 12 < 0.2 and 0.01 < missing / 12 < 0.3


def test_street_road_is_one_plane_below_the_camera():
    """Road pixels back-projected from the inverse depth lie on one plane ~1.2–1.6 m below the
    camera with a normal close to the camera's up (−y); sky has no depth."""
    for i in range(4):
        s = _city(7, i)
        inv = s["depth"][..., 0].astype(np.float64)
        lab = s["label_19"]
        assert (inv[lab == 10] == 0).all()
        road = (lab == 0) & (inv > 0)
        z = np.where(inv > 0, 1.0 / np.where(inv > 0, inv, 1.0), 0.0)
        p = _points(z, street.HFOV_DEG)[road]
        assert len(p) > 200
        # plane n·p = c with |n| = 1: smallest singular vector of the centred points
        centre = p.mean(0)
        normal = np.linalg.svd(p - centre)[2][-1]
        normal *= -np.sign(normal[1])
        residual = np.abs((p - centre) @ normal)
        assert residual.max() < 1e-3 * max(1.0, float(z[road].max()) / 10)
        assert normal[1] < -0.99
        assert 1.15 < float(centre @ -normal) < 1.65
        valid = inv[inv > 0]
        assert valid.min() > 1 / 160 and valid.max() < 0.6


def test_label_7_is_the_category_of_label_19():
    l19 = np.array([[-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]],
                   np.float32)
    expect = [[-1, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 5, 6, 6, 6, 6, 6, 6]]
    np.testing.assert_array_equal(map_19_to_7(l19), expect)
    assert CITYSCAPES19_TO_7.shape == (19,)
    assert len(CITYSCAPES19_CLASSES) == 19 and len(CITYSCAPES7_CLASSES) == 7
    assert NYUV2_CLASSES[4] == "floor" and NYUV2_CLASSES[12] == "window"
    for i in range(3):
        s = _city(8, i, 32, 64)
        np.testing.assert_array_equal(s["label_7"], map_19_to_7(s["label_19"]))


@pytest.mark.slow
def test_every_class_appears():
    seen = set()
    for i in range(40):
        seen |= set(np.unique(_nyu(9, i, 48, 64)["label"]).astype(int).tolist())
    assert set(range(13)) <= seen
    seen = set()
    for i in range(40):
        seen |= set(np.unique(_city(9, i)["label_19"]).astype(int).tolist())
    assert set(range(19)) <= seen


# -- determinism ----------------------------------------------------------------------------------
@pytest.mark.parametrize("render", [render_indoor, render_street])
def test_rendering_is_a_function_of_the_seed(render):
    a = render(np.random.default_rng([1, 0, 2]), 32, 64)
    b = render(np.random.default_rng([1, 0, 2]), 32, 64)
    c = render(np.random.default_rng([1, 0, 3]), 32, 64)
    assert a.keys() == b.keys() == c.keys()
    for k in a:
        assert a[k].dtype == np.float32
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["image"], c["image"])
    assert not np.array_equal(a["depth"], c["depth"])


# -- on disk --------------------------------------------------------------------------------------
def _listing(root: Path) -> dict[str, list[str]]:
    return {str(p.relative_to(root)): sorted(os.listdir(p)) for p in sorted(root.glob("*/*"))}


def test_generate_nyuv2_layout(tmp_path):
    root = tmp_path / "synthetic-nyuv2"
    generate_dataset("nyuv2", root, n_train=3, n_val=2, height=32, width=48, seed=5)
    assert sorted(os.listdir(tmp_path)) == ["synthetic-nyuv2"]
    assert sorted(os.listdir(root)) == ["synthetic.json", "train", "val"]
    listing = _listing(root)
    assert listing == {f"{s}/{f}": [f"{i}.npy" for i in range(n)]
                       for s, n in (("train", 3), ("val", 2)) for f in sorted(NYU_FOLDERS)}
    for split, n in (("train", 3), ("val", 2)):
        for i in range(n):
            arr = {f: np.load(root / split / f / f"{i}.npy") for f in NYU_FOLDERS}
            assert {k: (v.dtype, v.shape) for k, v in arr.items()} == {
                "image": (np.float32, (32, 48, 3)), "label": (np.float32, (32, 48)),
                "depth": (np.float32, (32, 48, 1)), "normal": (np.float32, (32, 48, 3))}
            assert 0 <= arr["image"].min() and arr["image"].max() <= 1
            assert set(np.unique(arr["label"])) <= set(range(-1, 13))
            assert (arr["depth"] >= 0).all() and np.isfinite(arr["depth"]).all()
            valid = np.abs(arr["normal"]).sum(-1) > 0
            np.testing.assert_array_equal(valid, arr["depth"][..., 0] > 0)
            # file i of split s is exactly the sample rendered from (seed, s, i)
            ref = render_indoor(np.random.default_rng([5, 0 if split == "train" else 1, i]),
                                32, 48)
            for f in NYU_FOLDERS:
                np.testing.assert_array_equal(arr[f], ref[f])
    info = json.loads((root / "synthetic.json").read_text())
    assert info["kind"] == "nyuv2" and info["generator_version"] == GENERATOR_VERSION
    assert (info["seed"], info["n_train"], info["n_val"]) == (5, 3, 2)
    assert (info["height"], info["width"]) == (32, 48)
    assert info["classes"] == list(NYUV2_CLASSES)
    layout = NYUv2.check_layout(root)
    assert layout.sizes == {"train": 3, "val": 2} and (layout.height, layout.width) == (32, 48)


def test_generate_cityscapes_layout(tmp_path):
    root = tmp_path / "synthetic-cityscapes"
    generate_dataset("cityscapes", root, n_train=2, n_val=2, height=32, width=64, seed=1)
    listing = _listing(root)
    assert listing == {f"{s}/{f}": ["0.npy", "1.npy"]
                       for s in ("train", "val") for f in sorted(CITY_FOLDERS)}
    for split in ("train", "val"):
        for i in range(2):
            arr = {f: np.load(root / split / f / f"{i}.npy") for f in CITY_FOLDERS}
            assert {k: (v.dtype, v.shape) for k, v in arr.items()} == {
                "image": (np.float32, (32, 64, 3)), "label_7": (np.float32, (32, 64)),
                "label_19": (np.float32, (32, 64)), "depth": (np.float32, (32, 64, 1))}
            assert 0 <= arr["image"].min() and arr["image"].max() <= 1
            assert set(np.unique(arr["label_19"])) <= set(range(-1, 19))
            np.testing.assert_array_equal(arr["label_7"], map_19_to_7(arr["label_19"]))
            inv = arr["depth"]
            assert np.isfinite(inv).all() and (inv >= 0).all() and inv.max() < 0.6
            assert (inv[..., 0][arr["label_19"] == 10] == 0).all()
    info = json.loads((root / "synthetic.json").read_text())
    assert info["kind"] == "cityscapes" and info["classes"] == list(CITYSCAPES7_CLASSES)
    assert info["classes_19"] == list(CITYSCAPES19_CLASSES)
    assert Cityscapes.check_layout(root).sizes == {"train": 2, "val": 2}


def test_adapters_accept_the_manifest(tmp_path, monkeypatch):
    for cls in (SyntheticNYUv2, SyntheticCityscapes):
        monkeypatch.setattr(cls, "synth_sizes", {"train": 2, "val": 1})
        monkeypatch.setattr(cls, "synth_size", (32, 64))
        root = tmp_path / cls.name
        assert cls.prepare(root) is True
        assert cls.is_current(root) and cls.prepare(root) is False
        cls.check_layout(root)


@pytest.mark.slow
def test_workers_give_byte_identical_files(tmp_path, monkeypatch):
    monkeypatch.setattr(writer, "MIN_JOBS_PER_WORKER", 1)
    kw = dict(n_train=3, n_val=2, height=24, width=32, seed=3)
    generate_dataset("nyuv2", tmp_path / "one", workers=1, **kw)
    generate_dataset("nyuv2", tmp_path / "two", workers=2, **kw)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert len(files) == 21
    for f in files:
        assert (tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes()


def test_interrupted_generation_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = writer.render_indoor

    def flaky(rng, h, w):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("boom")
        return real(rng, h, w)

    root = tmp_path / "nyu"
    monkeypatch.setattr(writer, "render_indoor", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        generate_dataset("nyuv2", root, n_train=3, n_val=2, height=16, width=24, seed=0)
    assert os.listdir(tmp_path) == []
    # an existing complete dataset survives a failed regeneration untouched
    monkeypatch.setattr(writer, "render_indoor", real)
    generate_dataset("nyuv2", root, n_train=2, n_val=1, height=16, width=24, seed=0)
    before = (root / "synthetic.json").read_text()
    calls["n"] = 0
    monkeypatch.setattr(writer, "render_indoor", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        generate_dataset("nyuv2", root, n_train=5, n_val=1, height=16, width=24, seed=1)
    assert os.listdir(tmp_path) == ["nyu"]
    assert (root / "synthetic.json").read_text() == before
    assert NYUv2.check_layout(root).sizes == {"train": 2, "val": 1}


def test_bad_arguments_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        generate_dataset("kitti", tmp_path / "x", n_train=1, n_val=1, height=16, width=16, seed=0)
    assert not (tmp_path / "x").exists()


def test_preview_writes_a_png(tmp_path):
    from bench.data.render.preview import preview

    out = tmp_path / "p.png"
    preview(out, n=1, nyu_size=(24, 32), city_size=(24, 48))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
