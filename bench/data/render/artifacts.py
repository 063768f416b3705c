"""Sensor and annotation artefacts: missing depth, unlabelled pixels.

Real depth has holes where the sensor sees nothing: an active-stereo (Kinect) or stereo camera
cannot measure a point that the second viewpoint (projector / right camera) does not see. For a
rectified pair with baseline ``B`` and focal length ``f`` (pixels), pixel column ``u`` of depth
``z`` appears at ``x'(u) = u − f·B/z`` in the second view; along an image row it is occluded
there iff some pixel to its right lands further left, ``x'(u) > min_{u' > u} x'(u')``, and it is
outside the second view iff ``x'(u) < 0``. This is the band of missing depth beside the left
edges of foreground objects (and along the left image border) that real depth maps show.
"""

from __future__ import annotations

import numpy as np


def stereo_occlusion(depth: np.ndarray, focal: float, baseline: float,
                     border: bool = True) -> np.ndarray:
    """Pixels of ``depth`` (``inf`` = nothing) that a second view ``baseline`` m to the right
    cannot see: ``x'(u) > min_{u'>u} x'(u')`` (or ``x'(u) < 0`` with ``border``)."""
    h, w = depth.shape
    disp = np.where(np.isfinite(depth) & (depth > 0), focal * baseline / np.maximum(depth, 1e-6),
                    0.0)
    xr = np.arange(w)[None, :] + 0.5 - disp
    # running minimum from the right, excluding the pixel itself
    rmin = np.minimum.accumulate(xr[:, ::-1], axis=1)[:, ::-1]
    right_min = np.concatenate([rmin[:, 1:], np.full((h, 1), np.inf)], axis=1)
    occ = xr > right_min + 1e-9
    if border:
        occ |= xr < 0
    return occ


def blobs(rng: np.random.Generator, shape: tuple[int, int], count: int,
          radius: tuple[float, float]) -> np.ndarray:
    """Union of ``count`` random axis-aligned ellipses with semi-axes in ``radius`` (pixels)."""
    h, w = shape
    out = np.zeros(shape, bool)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(count):
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        ry, rx = rng.uniform(*radius), rng.uniform(*radius)
        out |= ((yy + 0.5 - cy) / ry) ** 2 + ((xx + 0.5 - cx) / rx) ** 2 <= 1.0
    return out


def boundaries(label: np.ndarray) -> np.ndarray:
    """1-pixel band: pixels whose right or lower neighbour has another label."""
    out = np.zeros(label.shape, bool)
    out[:, :-1] |= label[:, :-1] != label[:, 1:]
    out[:-1, :] |= label[:-1, :] != label[1:, :]
    return out


def grazing(normal_cam: np.ndarray, rays_cam: np.ndarray, cos_max: float) -> np.ndarray:
    """Pixels seeing their surface at a grazing angle: ``|n·r̂| < cos_max``."""
    r = rays_cam / np.linalg.norm(rays_cam, axis=-1, keepdims=True)
    return np.abs(np.einsum("...i,...i->...", normal_cam, r)) < cos_max
