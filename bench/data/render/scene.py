"""A scene: primitives with a class label and a material per face; tracing it through a camera.

Every primitive has six face slots (a box's faces ``0…5``; a cylinder uses 0, 2, 3; a sphere and a
plane use their one face, see :mod:`geometry`). A *surface* is ``6·index + face``: its class and
material are looked up in per-surface tables, so labels, depth and normals of a pixel all come from
the one nearest hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.data.render.camera import Camera
from bench.data.render.geometry import Box, Primitive, cast, yaw_matrix
from bench.data.render.textures import N_PARAMS, Material

FACES = 6


@dataclass
class Trace:
    """Per-pixel result of tracing a scene: everything the renderer and the labels need."""

    depth: np.ndarray          # (H, W) z-depth, inf where no hit
    index: np.ndarray          # (H, W) primitive index, −1 where no hit
    face: np.ndarray           # (H, W)
    normal_world: np.ndarray   # (H, W, 3) facing the camera, zero where no hit
    point: np.ndarray          # (H, W, 3) world hit points (undefined where no hit)
    rays: np.ndarray           # (H, W, 3) world ray directions (camera z = 1)

    @property
    def hit(self) -> np.ndarray:
        return self.index >= 0

    @property
    def surface(self) -> np.ndarray:
        """``6·index + face`` per pixel (−1 where no hit)."""
        return np.where(self.hit, self.index * FACES + self.face, -1)


@dataclass
class Scene:
    """Primitives plus per-face class ids and materials, and whether each casts shadows."""

    prims: list[Primitive] = field(default_factory=list)
    classes: list[tuple[int, ...]] = field(default_factory=list)
    materials: list[tuple[Material, ...]] = field(default_factory=list)
    casts_shadow: list[bool] = field(default_factory=list)
    _cache: dict[str, object] = field(default_factory=dict, repr=False)

    def add(self, prim: Primitive, cls: int | Sequence[int],
            material: Material | Sequence[Material], *, casts_shadow: bool = True) -> int:
        """Append a primitive; ``cls``/``material`` are one value or one per face (6)."""
        classes = (int(cls),) * FACES if isinstance(cls, int) else tuple(int(c) for c in cls)
        mats = (material,) * FACES if isinstance(material, Material) else tuple(material)
        if len(classes) != FACES or len(mats) != FACES:
            raise ValueError("give one class/material or one per face (6)")
        self.prims.append(prim)
        self.classes.append(classes)
        self.materials.append(mats)
        self.casts_shadow.append(casts_shadow)
        self._cache.clear()
        return len(self.prims) - 1

    def add_part(self, frame: tuple[float, float, float], local: Sequence[float],
                 half: Sequence[float], cls: int | Sequence[int],
                 material: Material | Sequence[Material], *, casts_shadow: bool = True) -> int:
        """A box of an object with frame ``(x, z, yaw)`` (its origin on the ground ``y = 0``):
        centre ``(x, 0, z) + M(yaw)·local``, half extents ``half`` in the object's axes."""
        x, z, yaw = frame
        c = np.array([x, 0.0, z]) + yaw_matrix(yaw) @ np.asarray(local, float)
        box = Box((float(c[0]), float(c[1]), float(c[2])),
                  (float(half[0]), float(half[1]), float(half[2])), float(yaw))
        return self.add(box, cls, material, casts_shadow=casts_shadow)

    def __len__(self) -> int:
        return len(self.prims)

    def trace(self, camera: Camera) -> Trace:
        """Cast one ray per pixel centre; nearest hit over all primitives."""
        rays = camera.rays()
        windows = camera.windows([p.bounds() for p in self.prims])
        hits = cast(self.prims, camera.position, rays, windows)
        point = camera.position + np.where(np.isfinite(hits.t), hits.t, 0.0)[..., None] * rays
        return Trace(hits.t, hits.index, hits.face, hits.normal, point, rays)

    def class_table(self) -> np.ndarray:
        """Class id per surface ``6·index + face``."""
        if "classes" not in self._cache:
            self._cache["classes"] = np.asarray(self.classes, np.int64).reshape(-1)
        return self._cache["classes"]  # type: ignore[return-value]

    def shadow_casters(self) -> list[Primitive]:
        return [p for p, c in zip(self.prims, self.casts_shadow, strict=True) if c]

    def label(self, trace: Trace, background: int) -> np.ndarray:
        """Class map of a trace (``background`` where no hit)."""
        table = self.class_table()
        surf = trace.surface
        return np.where(surf >= 0, table[np.maximum(surf, 0)], background)

    def material_table(self) -> dict[str, np.ndarray]:
        """Per-surface material arrays (colour, colour2, pattern, scale, amount, emission, …)."""
        if "materials" not in self._cache:
            self._cache["materials"] = self._material_table()
        return self._cache["materials"]  # type: ignore[return-value]

    def _material_table(self) -> dict[str, np.ndarray]:
        flat = [m for mats in self.materials for m in mats]
        params = np.zeros((len(flat), N_PARAMS))
        for k, m in enumerate(flat):
            params[k, :len(m.params)] = m.params[:N_PARAMS]
        return {
            "color": np.array([m.color for m in flat], float),
            "color2": np.array([m.color2 for m in flat], float),
            "pattern": np.array([int(m.pattern) for m in flat], np.int64),
            "scale": np.array([m.scale for m in flat], float),
            "amount": np.array([m.amount for m in flat], float),
            "emission": np.array([m.emission for m in flat], float),
            "seed": np.array([m.seed for m in flat], np.int64).astype(np.uint32),
            "params": params,
        }

    def round_flags(self) -> np.ndarray:
        """Per primitive: textured in cylindrical coordinates."""
        if "round" not in self._cache:
            self._cache["round"] = np.array([p.is_round for p in self.prims], bool)
        return self._cache["round"]  # type: ignore[return-value]

    def frames(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-primitive texture frames: centres ``(P, 3)``, yaws ``(P,)``, half extents."""
        if "frames" not in self._cache:
            fr = [p.frame() for p in self.prims]
            self._cache["frames"] = (np.array([f[0] for f in fr], float),
                                     np.array([f[1] for f in fr], float),
                                     np.array([f[2] for f in fr], float))
        return self._cache["frames"]  # type: ignore[return-value]
