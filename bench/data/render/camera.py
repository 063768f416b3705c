"""Pinhole camera: pixel rays, camera frame, screen-space bounds of primitives.

Camera frame: ``x`` right, ``y`` down, ``z`` forward (the convention of the NYUv2 normal maps).
With yaw ``ψ`` (about world up, 0 = looking along world ``+z``) and pitch ``θ`` (positive = looking
down) the camera axes in world coordinates (world ``y`` up) are

    forward f = (sin ψ cos θ, −sin θ, cos ψ cos θ)
    right   r = (cos ψ, 0, −sin ψ)
    down    b = (−sin ψ sin θ, −cos θ, −cos ψ sin θ)

and ``R = [r | b | f]`` maps camera to world coordinates (``v_cam = Rᵀ v_world``; ``R`` is
orthogonal, so normals transform the same way). Intrinsics: square pixels, focal length
``f = (W/2) / tan(hfov/2)`` pixels, principal point at the image centre; pixel ``(v, u)`` (row,
column) has its centre at ``(u + ½, v + ½)`` and the ray direction ``R·((u + ½ − c_x)/f,
(v + ½ − c_y)/f, 1)``: its camera ``z`` is 1, so the ray parameter ``t`` of a hit is its depth
(``z`` distance along the optical axis, not the length of the ray).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.data.render.geometry import Window

NEAR = 0.02
_CORNERS = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], float)


def intrinsics(height: int, width: int, hfov_deg: float) -> tuple[float, float, float]:
    """``(f, c_x, c_y)`` in pixels of an image of ``height × width`` with horizontal FOV."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return float(f), width / 2.0, height / 2.0


@dataclass
class Camera:
    """Pinhole camera at ``position`` (world, metres) with yaw/pitch in radians."""

    position: np.ndarray
    yaw: float
    pitch: float
    height: int
    width: int
    hfov_deg: float
    rotation: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.position = np.asarray(self.position, float)
        cy, sy = np.cos(self.yaw), np.sin(self.yaw)
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        right = [cy, 0.0, -sy]
        down = [-sy * sp, -cp, -cy * sp]
        fwd = [sy * cp, -sp, cy * cp]
        self.rotation = np.array([right, down, fwd]).T

    @property
    def focal(self) -> float:
        return intrinsics(self.height, self.width, self.hfov_deg)[0]

    def rays(self) -> np.ndarray:
        """World ray directions ``(H, W, 3)`` whose camera ``z`` component is 1."""
        f, cx, cy = intrinsics(self.height, self.width, self.hfov_deg)
        u = (np.arange(self.width) + 0.5 - cx) / f
        v = (np.arange(self.height) + 0.5 - cy) / f
        cam = np.empty((self.height, self.width, 3))
        cam[..., 0] = u[None, :]
        cam[..., 1] = v[:, None]
        cam[..., 2] = 1.0
        return cam @ self.rotation.T

    def to_camera(self, vectors: np.ndarray) -> np.ndarray:
        """World vectors ``(..., 3)`` → camera frame (``Rᵀ v``)."""
        return vectors @ self.rotation

    def window(self, bounds: tuple[np.ndarray, np.ndarray] | None) -> Window | None:
        """Conservative pixel window ``(v0, v1, u0, u1)`` of a world AABB; ``None`` = whole image.

        The 8 corners are projected; if all lie in front of the near plane the hull of their
        projections bounds the projection of anything inside the box (a convex set projects
        into the hull of its corners' projections). A box entirely behind the camera gets an
        empty window; one straddling the near plane gets ``None``.
        """
        return self.windows([bounds])[0]

    def windows(self, bounds: list[tuple[np.ndarray, np.ndarray] | None]) -> list[Window | None]:
        """:meth:`window` of many AABBs at once."""
        out: list[Window | None] = [None] * len(bounds)
        idx = [k for k, b in enumerate(bounds) if b is not None]
        if not idx:
            return out
        lo = np.array([bounds[k][0] for k in idx], float)  # type: ignore[index]
        hi = np.array([bounds[k][1] for k in idx], float)  # type: ignore[index]
        corners = lo[:, None, :] + (hi - lo)[:, None, :] * _CORNERS[None]
        cam = (corners - self.position) @ self.rotation
        z = cam[..., 2]
        f, cx, cy = intrinsics(self.height, self.width, self.hfov_deg)
        zs = np.where(z > NEAR, z, 1.0)
        u = f * cam[..., 0] / zs + cx
        v = f * cam[..., 1] / zs + cy
        u0 = np.clip(np.floor(u.min(1)) - 1, 0, self.width).astype(int)
        u1 = np.clip(np.ceil(u.max(1)) + 1, 0, self.width).astype(int)
        v0 = np.clip(np.floor(v.min(1)) - 1, 0, self.height).astype(int)
        v1 = np.clip(np.ceil(v.max(1)) + 1, 0, self.height).astype(int)
        behind = (z <= 0).all(1)
        straddle = (z <= NEAR).any(1)
        for j, k in enumerate(idx):
            if behind[j]:
                out[k] = (0, 0, 0, 0)
            elif not straddle[j]:
                out[k] = (int(v0[j]), int(v1[j]), int(u0[j]), int(u1[j]))
        return out
