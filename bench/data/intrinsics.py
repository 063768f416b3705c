"""Camera intrinsics of a dataset's images, for geometric terms (depth ↔ surface normals).

Pixel ``(v, u)`` (row, column) has its centre at ``(u + ½, v + ½)``; a point at depth ``d``
(its camera ``z``) seen at that pixel is ``X = (u + ½ − c_x) d / f_x``, ``Y = (v + ½ − c_y) d /
f_y``, ``Z = d`` in the camera frame (``x`` right, ``y`` down, ``z`` forward: the convention of
the NYUv2 normal maps). Intrinsics given in OpenCV's convention (pixel centres at integers) are
converted by adding ½ to the principal point. Resizing an image scales every value by the ratio
of the sizes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of an image of ``height × width`` (pixel centres at +½)."""

    fx: float
    fy: float
    cx: float
    cy: float
    height: int
    width: int

    def at(self, height: int, width: int) -> Intrinsics:
        """The same camera for the image resized to ``height × width``."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy,
                          int(height), int(width))

    @classmethod
    def opencv(cls, fx: float, fy: float, cx: float, cy: float, height: int,
               width: int) -> Intrinsics:
        """From OpenCV-style values (the principal point in integer pixel-centre coordinates)."""
        return cls(fx, fy, cx + 0.5, cy + 0.5, height, width)
