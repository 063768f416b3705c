"""NYUv2-like indoor scenes: a furnished room seen by a Kinect-like RGB-D camera.

The room is an inside-facing box ``x ∈ [0, W], y ∈ [0, H], z ∈ [0, L]`` (floor, ceiling, four
walls); the camera stands near the back wall (``z ≈ 0``), 1.2–1.8 m high, turned towards a random
point in the far half of the room and pitched 2–20° down. Furniture is made of boxes standing on
the floor (against walls or free), small objects and books stand on tops, pictures, TVs, doors and
windows are thin boxes on the walls. Depth, normals and labels come from the one ray-cast hit.

Kinect artefacts: no depth (and so no normal) on most windows (the sensor sees through glass), in
the projector's occlusion band beside foreground objects (:func:`artifacts.stereo_occlusion`), at
grazing angles, beyond 10 m and in a few random holes. Annotation artefacts: −1 on part of the
1-pixel band along class boundaries, on a few blobs and on a few small unlabelled objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.data.render import artifacts
from bench.data.render.camera import Camera
from bench.data.render.classes import VOID, Nyu
from bench.data.render.geometry import Box, Cylinder, Sphere, yaw_matrix
from bench.data.render.scene import Scene
from bench.data.render.shading import Lighting, PointLight, jitter_color, pick, render_image
from bench.data.render.textures import Material, Pattern

HFOV_DEG = 62.0          # NYUv2 (Kinect v1 RGB): f ≈ 519 px at 640 px width
KINECT_BASELINE = 0.075  # metres between IR projector and IR camera
MAX_DEPTH = 10.0

# display-space palettes (per-scene jitter is applied on top)
WALLS = [(0.86, 0.84, 0.79), (0.90, 0.87, 0.80), (0.76, 0.72, 0.64), (0.70, 0.75, 0.78),
         (0.76, 0.80, 0.68), (0.86, 0.74, 0.63), (0.62, 0.62, 0.62), (0.80, 0.70, 0.72),
         (0.93, 0.93, 0.92), (0.55, 0.62, 0.70)]
WOODS = [(0.55, 0.38, 0.22), (0.70, 0.52, 0.33), (0.40, 0.27, 0.16), (0.78, 0.65, 0.48),
         (0.30, 0.20, 0.12), (0.62, 0.45, 0.30)]
PAINTS = [(0.90, 0.89, 0.87), (0.18, 0.18, 0.19), (0.60, 0.61, 0.63), (0.80, 0.78, 0.72),
          (0.45, 0.50, 0.55)]
FABRICS = [(0.58, 0.22, 0.20), (0.24, 0.30, 0.50), (0.50, 0.50, 0.52), (0.72, 0.66, 0.56),
           (0.30, 0.46, 0.32), (0.82, 0.80, 0.76), (0.46, 0.31, 0.24), (0.20, 0.20, 0.22),
           (0.62, 0.50, 0.62), (0.78, 0.62, 0.30)]
BRIGHT = [(0.85, 0.20, 0.15), (0.15, 0.35, 0.80), (0.95, 0.80, 0.20), (0.20, 0.65, 0.30),
          (0.90, 0.90, 0.90), (0.10, 0.10, 0.10), (0.75, 0.40, 0.70), (0.95, 0.55, 0.15)]
OUTDOOR = [(0.92, 0.95, 1.0), (0.75, 0.85, 0.98), (0.98, 0.96, 0.88)]
OUTDOOR_LOW = [(0.45, 0.55, 0.40), (0.60, 0.62, 0.65), (0.55, 0.50, 0.42)]

WALL_NAMES = ("front", "left", "right", "back")


@dataclass
class IndoorScene:
    """A built room: scene, camera, lighting, and which primitives have Kinect-invisible depth."""

    scene: Scene
    camera: Camera
    lighting: Lighting
    no_depth: set[int] = field(default_factory=set)
    unlabelled: set[int] = field(default_factory=set)


@dataclass
class _Support:
    """A horizontal top that small things can stand on (frame + local half sizes + height)."""

    x: float
    z: float
    yaw: float
    hw: float
    hd: float
    y: float


class _Builder:
    """Room layout state: scene under construction, floor occupancy, wall occupancy, supports."""

    def __init__(self, rng: np.random.Generator, w: float, length: float, h: float,
                 camera: Camera) -> None:
        self.rng = rng
        self.w, self.l, self.h = w, length, h
        self.camera = camera
        self.scene = Scene()
        self.rects: list[tuple[float, float, float, float]] = []
        self.wall_items: dict[str, list[tuple[float, float, float, float]]] = {
            k: [] for k in WALL_NAMES}
        self.supports: list[_Support] = []
        self.no_depth: set[int] = set()
        self.unlabelled: set[int] = set()
        self.seed = int(rng.integers(1 << 30))
        self.wall_weights = self._wall_visibility()

    # -- materials --------------------------------------------------------------------------------
    def mat(self, color: tuple[float, float, float], pattern: Pattern = Pattern.PLAIN,
            **kw: object) -> Material:
        self.seed += 1
        return Material(color=color, pattern=pattern, seed=self.seed, **kw)  # type: ignore[arg-type]

    def wood(self) -> Material:
        c = pick(self.rng, WOODS)
        c2 = tuple(0.7 * v for v in c)
        return self.mat(c, Pattern.WOOD, color2=c2, scale=float(self.rng.uniform(0.02, 0.06)),
                        amount=float(self.rng.uniform(0.2, 0.5)))

    def furniture_mat(self) -> Material:
        r = self.rng.random()
        if r < 0.5:
            return self.wood()
        c = pick(self.rng, PAINTS)
        return self.mat(c, Pattern.PLAIN, scale=0.3, amount=0.05)

    def fabric(self, palette: list[tuple[float, float, float]] | None = None) -> Material:
        c = pick(self.rng, palette or FABRICS, hue=0.05)
        r = self.rng.random()
        if r < 0.5:
            return self.mat(c, Pattern.NOISE, color2=tuple(0.75 * v for v in c), scale=0.05,
                            amount=0.4)
        c2 = pick(self.rng, FABRICS + BRIGHT)
        if r < 0.75:
            return self.mat(c, Pattern.STRIPES, color2=c2, scale=float(self.rng.uniform(0.05, 0.3)),
                            amount=0.2, params=(float(self.rng.integers(2)), 0.7))
        return self.mat(c, Pattern.CHECKER, color2=c2, scale=float(self.rng.uniform(0.05, 0.25)),
                        amount=0.2)

    # -- placement ------------------------------------------------------------------------------
    def _wall_visibility(self) -> dict[str, float]:
        """Fraction of sample points on each wall (at 1.2 m) that project into the image."""
        weights = {}
        for name in WALL_NAMES:
            pts = np.array([self.wall_point(name, s, 1.2) for s in
                            np.linspace(0.05, 0.95, 12) * self.wall_length(name)])
            weights[name] = float(np.mean(self.visible(pts))) + 0.02
        return weights

    def visible(self, pts: np.ndarray) -> np.ndarray:
        cam = self.camera
        c = (np.atleast_2d(pts) - cam.position) @ cam.rotation
        f = cam.focal
        z = np.maximum(c[:, 2], 1e-6)
        u = f * c[:, 0] / z + cam.width / 2
        v = f * c[:, 1] / z + cam.height / 2
        return (c[:, 2] > 0.3) & (u > 0) & (u < cam.width) & (v > 0) & (v < cam.height)

    def wall_length(self, wall: str) -> float:
        return self.w if wall in ("front", "back") else self.l

    def wall_frame(self, wall: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Origin (x, z), along, inward unit vectors and the yaw of things against ``wall``."""
        w, length = self.w, self.l
        return {
            "front": (np.array([0.0, length]), np.array([1.0, 0.0]), np.array([0.0, -1.0]), 0.0),
            "left": (np.array([0.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 0.0]),
                     -np.pi / 2),
            "right": (np.array([w, length]), np.array([0.0, -1.0]), np.array([-1.0, 0.0]),
                      np.pi / 2),
            "back": (np.array([w, 0.0]), np.array([-1.0, 0.0]), np.array([0.0, 1.0]), np.pi),
        }[wall]

    def wall_point(self, wall: str, s: float, y: float, off: float = 0.0) -> np.ndarray:
        o, along, inward, _ = self.wall_frame(wall)
        xz = o + s * along + off * inward
        return np.array([xz[0], y, xz[1]])

    def pick_wall(self, exclude: tuple[str, ...] = ()) -> str:
        names = [n for n in WALL_NAMES if n not in exclude]
        p = np.array([self.wall_weights[n] for n in names])
        return names[int(self.rng.choice(len(names), p=p / p.sum()))]

    def footprint(self, x: float, z: float, yaw: float, hw: float, hd: float
                  ) -> tuple[float, float, float, float]:
        c, s = abs(np.cos(yaw)), abs(np.sin(yaw))
        ex, ez = c * hw + s * hd, s * hw + c * hd
        return (x - ex, x + ex, z - ez, z + ez)

    def free(self, rect: tuple[float, float, float, float], margin: float = 0.05) -> bool:
        x0, x1, z0, z1 = rect
        if x0 < 0.01 or z0 < 0.01 or x1 > self.w - 0.01 or z1 > self.l - 0.01:
            return False
        cx, cz = self.camera.position[0], self.camera.position[2]
        dx = max(x0 - cx, 0.0, cx - x1)
        dz = max(z0 - cz, 0.0, cz - z1)
        if np.hypot(dx, dz) < 0.6:
            return False
        return all(x1 + margin <= a0 or b1 + margin <= x0 or z1 + margin <= c0
                   or d1 + margin <= z0 for a0, b1, c0, d1 in self.rects)

    def place_wall(self, hw: float, hd: float, tall: float = 0.0, gap: float = 0.02,
                   tries: int = 25, walls: tuple[str, ...] | None = None
                   ) -> tuple[float, float, float] | None:
        """Centre ``(x, z)`` and yaw of a ``2hw × 2hd`` footprint with its back on a wall."""
        for _ in range(tries):
            wall = self.pick_wall() if walls is None else walls[int(self.rng.integers(len(walls)))]
            length = self.wall_length(wall)
            if 2 * hw + 0.1 > length:
                continue
            s = self.rng.uniform(hw + 0.05, length - hw - 0.05)
            o, along, inward, yaw = self.wall_frame(wall)
            xz = o + s * along + (hd + gap) * inward
            rect = self.footprint(xz[0], xz[1], yaw, hw, hd)
            if self.free(rect):
                self.rects.append(rect)
                if tall > 0:
                    self.wall_items[wall].append((s - hw, s + hw, 0.0, tall))
                return float(xz[0]), float(xz[1]), float(yaw)
        return None

    def place_free(self, hw: float, hd: float, tries: int = 25
                   ) -> tuple[float, float, float] | None:
        """Centre and yaw of a footprint anywhere on the floor, preferably in view."""
        for k in range(tries):
            x = self.rng.uniform(hw + 0.2, self.w - hw - 0.2) if self.w > 2 * hw + 0.4 else None
            z = self.rng.uniform(hd + 0.2, self.l - hd - 0.2) if self.l > 2 * hd + 0.4 else None
            if x is None or z is None:
                return None
            if k < tries // 2 and not self.visible(np.array([x, 0.4, z]))[0]:
                continue
            yaw = float(self.rng.choice([0.0, np.pi / 2, np.pi, -np.pi / 2])
                        + self.rng.normal(0, 0.1))
            rect = self.footprint(x, z, yaw, hw, hd)
            if self.free(rect):
                self.rects.append(rect)
                return float(x), float(z), yaw
        return None

    def place_on_wall(self, hw: float, hh: float, y_range: tuple[float, float],
                      tries: int = 25, exclude: tuple[str, ...] = ()
                      ) -> tuple[str, float, float] | None:
        """Wall, along-wall centre and height centre of a ``2hw × 2hh`` flat item on a wall."""
        for _ in range(tries):
            wall = self.pick_wall(exclude)
            length = self.wall_length(wall)
            if 2 * hw + 0.2 > length:
                continue
            s = self.rng.uniform(hw + 0.1, length - hw - 0.1)
            lo, hi = y_range
            hi = min(hi, self.h - hh - 0.1)
            if hi < lo:
                continue
            y = self.rng.uniform(lo, hi)
            if all(s + hw + 0.05 <= a or b + 0.05 <= s - hw or y + hh <= c or d <= y - hh
                   for a, b, c, d in self.wall_items[wall]):
                self.wall_items[wall].append((s - hw, s + hw, y - hh, y + hh))
                return wall, float(s), float(y)
        return None

    # -- parts ----------------------------------------------------------------------------------
    def part(self, frame: tuple[float, float, float], local: tuple[float, float, float],
             half: tuple[float, float, float], cls: int, mat: Material | list[Material],
             shadow: bool = True) -> int:
        """A box at ``local`` (object frame ``(x, z, yaw)``, y from the floor) in the scene."""
        return self.scene.add_part(frame, local, half, cls, mat, casts_shadow=shadow)

    def support(self, frame: tuple[float, float, float], local_xz: tuple[float, float],
                hw: float, hd: float, y: float) -> None:
        x, z, yaw = frame
        c = np.array([x, 0.0, z]) + yaw_matrix(yaw) @ np.array([local_xz[0], 0.0, local_xz[1]])
        self.supports.append(_Support(float(c[0]), float(c[2]), yaw, hw, hd, y))


# -- furniture ------------------------------------------------------------------------------------
def _bed(b: _Builder) -> None:
    rng = b.rng
    w, length = rng.uniform(0.95, 1.8), rng.uniform(1.95, 2.15)
    h = rng.uniform(0.45, 0.62)
    fr = b.place_wall(w / 2 + 0.03, length / 2, tall=0.0)
    if fr is None:
        return
    frame_mat = b.furniture_mat()
    duvet = b.fabric()
    b.part(fr, (0, 0.14, 0), (w / 2, 0.14, length / 2), Nyu.BED, frame_mat)
    mh = (h - 0.28) / 2
    b.part(fr, (0, 0.28 + mh, -0.02), (w / 2 - 0.01, mh, length / 2 - 0.03), Nyu.BED, duvet)
    hb = rng.uniform(0.8, 1.25)
    b.part(fr, (0, hb / 2, length / 2 - 0.04), (w / 2 + 0.03, hb / 2, 0.04), Nyu.BED, frame_mat)
    pillow = b.fabric([(0.92, 0.92, 0.9), (0.85, 0.82, 0.75)] + FABRICS[:3])
    n_p = 2 if w > 1.3 else 1
    for k in range(n_p):
        px = 0.0 if n_p == 1 else (-w / 4 if k == 0 else w / 4)
        b.part(fr, (px, h + 0.06, length / 2 - 0.3), (w / (2 * n_p) - 0.07, 0.07, 0.19),
               Nyu.OBJECTS, pillow)
    if rng.random() < 0.7:  # nightstand
        o, yaw = np.array(fr[:2]), fr[2]
        side = yaw_matrix(yaw) @ np.array([w / 2 + 0.3, 0.0, length / 2 - 0.25])
        nx, nz = o[0] + side[0], o[1] + side[2]
        rect = b.footprint(nx, nz, yaw, 0.23, 0.2)
        if b.free(rect):
            b.rects.append(rect)
            nh = rng.uniform(0.45, 0.6)
            nfr = (nx, nz, yaw)
            b.part(nfr, (0, nh / 2, 0), (0.23, nh / 2, 0.2), Nyu.FURNITURE, b.furniture_mat())
            b.support(nfr, (0, 0), 0.2, 0.17, nh)


def _sofa(b: _Builder) -> None:
    rng = b.rng
    w, d = rng.uniform(1.5, 2.4), rng.uniform(0.8, 0.95)
    fr = b.place_wall(w / 2, d / 2, tall=0.0) if rng.random() < 0.75 else b.place_free(w / 2,
                                                                                       d / 2)
    if fr is None:
        return
    mat = b.fabric()
    sh = rng.uniform(0.38, 0.46)
    bh = rng.uniform(0.75, 0.95)
    b.part(fr, (0, sh / 2, -0.05), (w / 2 - 0.16, sh / 2, d / 2 - 0.05), Nyu.SOFA, mat)
    b.part(fr, (0, bh / 2, d / 2 - 0.1), (w / 2, bh / 2, 0.1), Nyu.SOFA, mat)
    ah = rng.uniform(0.5, 0.65)
    for sgn in (-1, 1):
        b.part(fr, (sgn * (w / 2 - 0.08), ah / 2, 0), (0.08, ah / 2, d / 2), Nyu.SOFA, mat)
    if rng.random() < 0.5:  # cushions
        cm = b.fabric(BRIGHT + FABRICS)
        b.part(fr, (-w / 4, sh + 0.2, d / 2 - 0.27), (0.2, 0.2, 0.06), Nyu.OBJECTS, cm)


def _table(b: _Builder, kind: str) -> tuple[float, float, float, float, float] | None:
    """A table (dining/coffee/desk); returns its frame and top half sizes for chairs."""
    rng = b.rng
    if kind == "coffee":
        w, d, h = rng.uniform(0.8, 1.3), rng.uniform(0.45, 0.7), rng.uniform(0.38, 0.48)
    elif kind == "desk":
        w, d, h = rng.uniform(1.0, 1.6), rng.uniform(0.55, 0.8), rng.uniform(0.72, 0.78)
    else:
        w, d, h = rng.uniform(0.9, 1.8), rng.uniform(0.7, 1.0), rng.uniform(0.72, 0.78)
    if kind == "desk":
        fr = b.place_wall(w / 2, d / 2)
    else:
        fr = b.place_free(w / 2 + (0.55 if kind == "dining" else 0.0),
                          d / 2 + (0.55 if kind == "dining" else 0.0))
    if fr is None:
        return None
    top = b.wood() if rng.random() < 0.6 else b.furniture_mat()
    legs = top if rng.random() < 0.6 else b.furniture_mat()
    th = rng.uniform(0.025, 0.05)
    b.part(fr, (0, h - th / 2, 0), (w / 2, th / 2, d / 2), Nyu.TABLE, top)
    lw = rng.uniform(0.02, 0.035)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.part(fr, (sx * (w / 2 - 0.06), (h - th) / 2, sz * (d / 2 - 0.06)),
                   (lw, (h - th) / 2, lw), Nyu.TABLE, legs, shadow=kind != "coffee")
    if kind == "desk" and rng.random() < 0.6:  # drawer block under the desk
        b.part(fr, (w / 2 - 0.25, (h - th) / 2, 0), (0.2, (h - th) / 2 - 0.02, d / 2 - 0.05),
               Nyu.TABLE, legs)
    b.support(fr, (0, 0), w / 2 - 0.05, d / 2 - 0.05, h)
    return fr[0], fr[1], fr[2], w / 2, d / 2


def _chair(b: _Builder, x: float, z: float, yaw: float, mat: Material) -> None:
    rng = b.rng
    rect = b.footprint(x, z, yaw, 0.24, 0.24)
    if not b.free(rect, margin=0.0):
        return
    b.rects.append(rect)
    fr = (x, z, yaw)
    sh = rng.uniform(0.42, 0.48)
    hs = rng.uniform(0.2, 0.24)
    b.part(fr, (0, sh, 0), (hs, 0.025, hs), Nyu.CHAIR, mat)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.part(fr, (sx * (hs - 0.03), (sh - 0.025) / 2, sz * (hs - 0.03)),
                   (0.018, (sh - 0.025) / 2, 0.018), Nyu.CHAIR, mat, shadow=False)
    bh = rng.uniform(0.35, 0.5)
    b.part(fr, (0, sh + bh / 2, hs - 0.02), (hs, bh / 2, 0.02), Nyu.CHAIR, mat)


def _chairs_around(b: _Builder, table: tuple[float, float, float, float, float],
                   n: int, desk: bool = False) -> None:
    x, z, yaw, hw, hd = table
    rot = yaw_matrix(yaw)
    mat = b.wood() if b.rng.random() < 0.5 else b.fabric(PAINTS + FABRICS)
    spots = [(0.0, -(hd + 0.3))] if desk else [
        (-hw / 2, -(hd + 0.3)), (hw / 2, -(hd + 0.3)), (-hw / 2, hd + 0.3), (hw / 2, hd + 0.3),
        (-(hw + 0.3), 0.0), (hw + 0.3, 0.0)]
    order = b.rng.permutation(len(spots))[:n]
    for k in order:
        lx, lz = spots[k]
        p = rot @ np.array([lx, 0.0, lz])
        cx, cz = x + p[0], z + p[2]
        # the chair's back (local +z) points away from the table centre
        away = np.array([cx - x, cz - z])
        cyaw = float(np.arctan2(away[0], away[1]) + b.rng.normal(0, 0.12))
        _chair(b, cx, cz, cyaw, mat)


def _cabinet(b: _Builder, tall: bool) -> None:
    rng = b.rng
    w = rng.uniform(0.5, 1.8)
    d = rng.uniform(0.35, 0.6)
    h = rng.uniform(1.5, 2.2) if tall else rng.uniform(0.6, 1.0)
    fr = b.place_wall(w / 2, d / 2, tall=h)
    if fr is None:
        return
    base = b.furniture_mat()
    if rng.random() < 0.5:  # drawers / doors as hard stripes
        c = base.color
        front = b.mat(c, Pattern.STRIPES, color2=tuple(0.8 * v for v in c),
                      scale=float(rng.uniform(0.15, 0.4)), amount=0.1,
                      params=(float(rng.random() < 0.6), 0.85))
        mats = [base, base, base, base, front, base]
    else:
        mats = base
    b.part(fr, (0, h / 2, 0), (w / 2, h / 2, d / 2), Nyu.FURNITURE, mats)
    if h < 1.3:
        b.support(fr, (0, 0), w / 2 - 0.05, d / 2 - 0.05, h)


def _bookshelf(b: _Builder) -> None:
    rng = b.rng
    w, d, h = rng.uniform(0.7, 1.6), rng.uniform(0.28, 0.4), rng.uniform(1.2, 2.1)
    fr = b.place_wall(w / 2, d / 2, tall=h)
    if fr is None:
        return
    mat = b.furniture_mat()
    t = 0.02
    b.part(fr, (0, h / 2, d / 2 - 0.005), (w / 2, h / 2, 0.005), Nyu.FURNITURE, mat)
    for sgn in (-1, 1):
        b.part(fr, (sgn * (w / 2 - t), h / 2, 0), (t, h / 2, d / 2), Nyu.FURNITURE, mat)
    n = int(np.clip(round(h / 0.38), 3, 6))
    levels = np.linspace(0.06, h - t, n + 1)
    for y in levels:
        b.part(fr, (0, y, 0), (w / 2 - 2 * t, t, d / 2), Nyu.FURNITURE, mat, shadow=False)
    for y0, y1 in zip(levels[:-1], levels[1:], strict=True):
        x = -w / 2 + 2 * t + 0.01
        while x < w / 2 - 0.1:
            bw = min(rng.uniform(0.1, 0.45), w / 2 - 2 * t - x)
            if rng.random() < 0.75 and bw > 0.05:
                bh = min(rng.uniform(0.16, 0.3), y1 - y0 - t - 0.02)
                bd = rng.uniform(0.14, d - 0.06)
                books = b.mat(pick(b.rng, BRIGHT + FABRICS), Pattern.SPINES,
                              color2=(0.9, 0.88, 0.8), scale=float(rng.uniform(0.02, 0.045)))
                b.part(fr, (x + bw / 2, y0 + t + bh / 2, d / 2 - 0.01 - bd / 2),
                       (bw / 2, bh / 2, bd / 2), Nyu.BOOKS, books, shadow=False)
            x += bw + rng.uniform(0.0, 0.08)


def _tv(b: _Builder) -> None:
    rng = b.rng
    w = rng.uniform(0.7, 1.4)
    h = w * rng.uniform(0.56, 0.62)
    on = rng.random() < 0.3
    mat = b.mat((0.06, 0.06, 0.07), Pattern.SCREEN, color2=(0.03, 0.03, 0.03),
                emission=2.0 if on else 0.0,
                params=(float(rng.uniform(0.015, 0.04)), float(on)))
    if rng.random() < 0.5:  # on the wall
        spot = b.place_on_wall(w / 2, h / 2, (1.0, 1.6))
        if spot is None:
            return
        wall, s, y = spot
        _, _, _, yaw = b.wall_frame(wall)
        c = b.wall_point(wall, s, y, 0.035)
        idx = b.scene.add(Box(tuple(c), (w / 2, h / 2, 0.03), yaw), Nyu.TV, mat)
    else:  # on a low stand
        sw = max(w + rng.uniform(0.1, 0.6), 0.8)
        sd, sh = rng.uniform(0.35, 0.5), rng.uniform(0.4, 0.6)
        fr = b.place_wall(sw / 2, sd / 2, tall=sh + h + 0.1)
        if fr is None:
            return
        b.part(fr, (0, sh / 2, 0), (sw / 2, sh / 2, sd / 2), Nyu.FURNITURE, b.furniture_mat())
        b.part(fr, (0, sh + 0.04, 0.0), (0.12, 0.04, 0.08), Nyu.TV, b.mat((0.05, 0.05, 0.05)))
        idx = b.part(fr, (0, sh + 0.08 + h / 2, 0.0), (w / 2, h / 2, 0.03), Nyu.TV, mat)
    if rng.random() < 0.2:  # glossy black screens often return no depth
        b.no_depth.add(idx)


def _monitor(b: _Builder, sup: _Support) -> None:
    rng = b.rng
    w = rng.uniform(0.4, 0.65)
    h = w * 0.6
    fr = (sup.x, sup.z, sup.yaw)
    dz = min(sup.hd * 0.5, 0.2)
    mat = b.mat((0.05, 0.05, 0.06), Pattern.SCREEN, color2=(0.02, 0.02, 0.02),
                emission=2.0 if rng.random() < 0.5 else 0.0,
                params=(0.015, float(rng.random() < 0.5)))
    b.part(fr, (0, sup.y + 0.06, dz), (0.05, 0.06, 0.05), Nyu.TV, b.mat((0.08, 0.08, 0.08)))
    b.part(fr, (0, sup.y + 0.12 + h / 2, dz), (w / 2, h / 2, 0.02), Nyu.TV, mat)


def _picture(b: _Builder) -> None:
    rng = b.rng
    w, h = rng.uniform(0.3, 1.2), rng.uniform(0.3, 0.9)
    spot = b.place_on_wall(w / 2, h / 2, (1.2, 1.9))
    if spot is None:
        return
    wall, s, y = spot
    _, _, _, yaw = b.wall_frame(wall)
    frame_col = pick(rng, [(0.1, 0.08, 0.06), (0.75, 0.6, 0.3), (0.9, 0.9, 0.9), (0.4, 0.25, 0.1)])
    mat = b.mat(pick(rng, BRIGHT + FABRICS + WALLS, hue=0.1), Pattern.PAINTING,
                color2=pick(rng, BRIGHT + FABRICS, hue=0.1),
                scale=float(rng.uniform(0.1, 0.5)),
                params=(float(rng.uniform(0.0, 0.06)), *frame_col))
    dep = rng.uniform(0.01, 0.025)
    b.scene.add(Box(tuple(b.wall_point(wall, s, y, dep)), (w / 2, h / 2, dep), yaw),
                Nyu.PICTURE, mat)


def _window(b: _Builder) -> None:
    rng = b.rng
    w, h = rng.uniform(0.7, 2.0), rng.uniform(0.9, 1.6)
    bottom = rng.uniform(0.6, 1.1)
    spot = b.place_on_wall(w / 2, h / 2, (bottom + h / 2, bottom + h / 2 + 0.2))
    if spot is None:
        return
    wall, s, y = spot
    _, _, _, yaw = b.wall_frame(wall)
    mat = b.mat(pick(rng, OUTDOOR), Pattern.WINDOW, color2=pick(rng, OUTDOOR_LOW),
                emission=float(rng.uniform(2.0, 5.0)),
                params=(float(rng.uniform(0.04, 0.08)), float(rng.random() < 0.7),
                        float(rng.random() < 0.4), float(rng.uniform(0.75, 0.95))))
    idx = b.scene.add(Box(tuple(b.wall_point(wall, s, y, 0.01)), (w / 2, h / 2, 0.01), yaw),
                      Nyu.WINDOW, mat, casts_shadow=False)
    if rng.random() < 0.85:
        b.no_depth.add(idx)
    if rng.random() < 0.4:  # curtains (labelled window in NYUv2's 13 classes)
        cm = b.fabric()
        cw = rng.uniform(0.15, 0.35)
        top = min(y + h / 2 + 0.15, b.h - 0.05)
        bot = rng.uniform(0.05, y - h / 2)
        for sgn in (-1, 1):
            c = b.wall_point(wall, s + sgn * (w / 2 + cw / 2 - 0.05), 0.5 * (top + bot), 0.07)
            b.scene.add(Box(tuple(c), (cw / 2, (top - bot) / 2, 0.05), yaw), Nyu.WINDOW, cm)


def _wall_shelf(b: _Builder) -> None:
    """A board on a wall (furniture) that small things and books can stand on."""
    rng = b.rng
    w, d = rng.uniform(0.6, 1.3), rng.uniform(0.2, 0.3)
    spot = b.place_on_wall(w / 2, 0.2, (1.0, 1.7))
    if spot is None:
        return
    wall, s, y = spot
    _, _, _, yaw = b.wall_frame(wall)
    y -= 0.18  # the board sits at the bottom of the reserved wall area
    c = b.wall_point(wall, s, y, d / 2)
    b.scene.add(Box(tuple(c), (w / 2, 0.015, d / 2), yaw), Nyu.FURNITURE, b.furniture_mat())
    b.supports.append(_Support(float(c[0]), float(c[2]), yaw, w / 2 - 0.03, d / 2 - 0.02,
                               y + 0.015))


def _door(b: _Builder) -> None:
    rng = b.rng
    w, h = rng.uniform(0.8, 0.95), rng.uniform(2.0, 2.1)
    spot = b.place_on_wall(w / 2, h / 2, (h / 2, h / 2))
    if spot is None:
        return
    wall, s, y = spot
    _, _, _, yaw = b.wall_frame(wall)
    mat = b.wood() if rng.random() < 0.5 else b.mat(pick(rng, PAINTS + WALLS), amount=0.05)
    b.scene.add(Box(tuple(b.wall_point(wall, s, y, 0.02)), (w / 2, h / 2, 0.02), yaw),
                Nyu.WALL, mat)


# -- small things ---------------------------------------------------------------------------------
def _on_support(b: _Builder, sup: _Support, r: float) -> tuple[float, float] | None:
    if sup.hw < r or sup.hd < r:
        return None
    lx = b.rng.uniform(-sup.hw + r, sup.hw - r)
    lz = b.rng.uniform(-sup.hd + r, sup.hd - r)
    p = yaw_matrix(sup.yaw) @ np.array([lx, 0.0, lz])
    return sup.x + p[0], sup.z + p[2]


def _small_object(b: _Builder, sup: _Support) -> None:
    rng = b.rng
    kind = rng.choice(["sphere", "cyl", "box", "lamp", "books_stack", "books_row"],
                      p=[0.17, 0.22, 0.16, 0.1, 0.17, 0.18])
    mat = b.mat(pick(rng, BRIGHT + FABRICS + PAINTS), Pattern.PLAIN, amount=0.1, scale=0.05)
    if kind == "sphere":
        r = rng.uniform(0.05, 0.13)
        at = _on_support(b, sup, r)
        if at:
            b.scene.add(Sphere((at[0], sup.y + r, at[1]), r), Nyu.OBJECTS, mat)
    elif kind == "cyl":
        r, h = rng.uniform(0.03, 0.1), rng.uniform(0.08, 0.35)
        at = _on_support(b, sup, r)
        if at:
            b.scene.add(Cylinder(at[0], at[1], sup.y, sup.y + h, r), Nyu.OBJECTS, mat)
    elif kind == "box":
        hw, hh, hd = rng.uniform(0.04, 0.15), rng.uniform(0.03, 0.15), rng.uniform(0.04, 0.15)
        at = _on_support(b, sup, max(hw, hd))
        if at:
            b.scene.add(Box((at[0], sup.y + hh, at[1]), (hw, hh, hd), sup.yaw + rng.normal(0, .4)),
                        Nyu.OBJECTS, mat)
    elif kind == "lamp":
        at = _on_support(b, sup, 0.12)
        if at:
            h = rng.uniform(0.2, 0.4)
            b.scene.add(Cylinder(at[0], at[1], sup.y, sup.y + h, 0.025), Nyu.OBJECTS, mat)
            shade = b.mat(pick(rng, [(0.95, 0.92, 0.85), (0.85, 0.8, 0.65)]), emission=0.6)
            b.scene.add(Cylinder(at[0], at[1], sup.y + h, sup.y + h + 0.2, 0.12), Nyu.OBJECTS,
                        shade)
    elif kind == "books_stack":
        at = _on_support(b, sup, 0.2)
        if at:
            y = sup.y
            yaw = sup.yaw + rng.normal(0, 0.3)
            for _ in range(int(rng.integers(2, 6))):
                th = rng.uniform(0.015, 0.05)
                bm = b.mat(pick(rng, BRIGHT + FABRICS), Pattern.SPINES, color2=(0.9, 0.88, 0.8),
                           scale=1.0)
                b.scene.add(Box((at[0] + rng.normal(0, 0.01), y + th / 2, at[1]),
                                (rng.uniform(0.1, 0.16), th / 2, rng.uniform(0.07, 0.12)),
                                yaw + rng.normal(0, 0.15)), Nyu.BOOKS, bm, casts_shadow=False)
                y += th
    else:
        at = _on_support(b, sup, 0.2)
        if at:
            bw, bh, bd = rng.uniform(0.1, 0.35), rng.uniform(0.16, 0.28), rng.uniform(0.12, 0.2)
            bm = b.mat(pick(rng, BRIGHT + FABRICS), Pattern.SPINES, color2=(0.9, 0.88, 0.8),
                       scale=float(rng.uniform(0.02, 0.045)))
            b.scene.add(Box((at[0], sup.y + bh / 2, at[1]), (bw / 2, bh / 2, bd / 2), sup.yaw),
                        Nyu.BOOKS, bm)


def _floor_object(b: _Builder) -> None:
    rng = b.rng
    kind = rng.choice(["plant", "bin", "box", "ball", "floorlamp"], p=[0.3, 0.2, 0.25, 0.1, 0.15])
    r = 0.3
    fr = b.place_free(r, r) if rng.random() < 0.4 else b.place_wall(r, r, gap=0.05)
    if fr is None:
        return
    x, z, yaw = fr
    mat = b.mat(pick(rng, BRIGHT + FABRICS + PAINTS), amount=0.1, scale=0.05)
    if kind == "plant":
        ph = rng.uniform(0.25, 0.45)
        pr = rng.uniform(0.12, 0.2)
        b.scene.add(Cylinder(x, z, 0.0, ph, pr), Nyu.OBJECTS, mat)
        leaves = b.mat((0.2, 0.45, 0.15), Pattern.LEAVES, color2=(0.35, 0.6, 0.2), scale=0.06)
        lr = rng.uniform(0.25, 0.4)
        b.scene.add(Sphere((x, ph + lr * 0.8, z), lr), Nyu.OBJECTS, leaves)
    elif kind == "bin":
        b.scene.add(Cylinder(x, z, 0.0, rng.uniform(0.3, 0.5), rng.uniform(0.12, 0.2)),
                    Nyu.OBJECTS, mat)
    elif kind == "box":
        hw, hh, hd = rng.uniform(0.12, 0.28), rng.uniform(0.1, 0.3), rng.uniform(0.12, 0.28)
        cardboard = b.mat(jitter_color(rng, (0.65, 0.5, 0.32)), amount=0.1, scale=0.1)
        b.scene.add(Box((x, hh, z), (hw, hh, hd), yaw),
                    Nyu.OBJECTS, cardboard if rng.random() < 0.5 else mat)
    elif kind == "ball":
        r = rng.uniform(0.1, 0.25)
        b.scene.add(Sphere((x, r, z), r), Nyu.OBJECTS, mat)
    else:
        h = rng.uniform(1.3, 1.7)
        b.scene.add(Cylinder(x, z, 0.0, 0.03, 0.15), Nyu.OBJECTS, mat)
        b.scene.add(Cylinder(x, z, 0.03, h, 0.015), Nyu.OBJECTS, mat)
        shade = b.mat((0.95, 0.92, 0.85), emission=0.8)
        b.scene.add(Cylinder(x, z, h, h + 0.25, rng.uniform(0.15, 0.22)), Nyu.OBJECTS, shade,
                    casts_shadow=False)


# -- the room -------------------------------------------------------------------------------------
def _room_materials(b: _Builder) -> tuple[Material, Material, Material]:
    rng = b.rng
    wall_c = pick(rng, WALLS, value=0.1, hue=0.05)
    r = rng.random()
    if r < 0.55:
        wall = b.mat(wall_c, Pattern.PLAIN, scale=0.4, amount=0.05)
    elif r < 0.8:
        wall = b.mat(wall_c, Pattern.NOISE, color2=tuple(0.9 * v for v in wall_c), scale=0.1,
                     amount=0.2)
    else:
        wall = b.mat(wall_c, Pattern.STRIPES, color2=pick(rng, WALLS),
                     scale=float(rng.uniform(0.08, 0.4)), amount=0.1, params=(0.0, 0.0))
    ceil_c = jitter_color(rng, (0.92, 0.91, 0.89), value=0.05) if rng.random() < 0.7 else wall_c
    ceiling = b.mat(ceil_c, Pattern.PLAIN, scale=0.5, amount=0.04)
    r = rng.random()
    if r < 0.4:
        c = pick(rng, WOODS)
        floor = b.mat(c, Pattern.PLANKS, color2=jitter_color(rng, tuple(0.75 * v for v in c)),
                      scale=float(rng.uniform(0.1, 0.22)), params=(float(rng.uniform(0.8, 2)),))
    elif r < 0.65:
        c = pick(rng, FABRICS + WALLS)
        floor = b.mat(c, Pattern.NOISE, color2=tuple(0.8 * v for v in c), scale=0.03,
                      amount=0.5)
    elif r < 0.9:
        c = pick(rng, [(0.85, 0.83, 0.78), (0.6, 0.6, 0.6), (0.75, 0.65, 0.55),
                       (0.3, 0.3, 0.32)])
        floor = b.mat(c, Pattern.CHECKER, color2=jitter_color(rng, c, value=0.25),
                      scale=float(rng.uniform(0.25, 0.6)), amount=0.1)
    else:
        c = pick(rng, PAINTS)
        floor = b.mat(c, Pattern.NOISE, color2=tuple(0.85 * v for v in c), scale=0.3,
                      amount=0.2)
    return wall, ceiling, floor


def build_indoor(rng: np.random.Generator, height: int, width: int) -> IndoorScene:
    """Lay out a random furnished room and the camera looking into it."""
    w, length, h = rng.uniform(3.0, 6.0), rng.uniform(3.5, 7.0), rng.uniform(2.4, 3.0)
    cam_pos = np.array([rng.uniform(0.3, 0.7) * w, min(rng.uniform(1.2, 1.8), h - 0.3),
                        rng.uniform(0.3, 0.9)])
    target = np.array([rng.uniform(0.1, 0.9) * w, rng.uniform(0.55, 1.0) * length])
    yaw = float(np.arctan2(target[0] - cam_pos[0], target[1] - cam_pos[2]))
    pitch = float(np.radians(rng.uniform(2.0, 20.0)))
    camera = Camera(cam_pos, yaw, pitch, height, width, HFOV_DEG)
    b = _Builder(rng, w, length, h, camera)

    wall, ceiling, floor = _room_materials(b)
    b.scene.add(Box((w / 2, h / 2, length / 2), (w / 2, h / 2, length / 2), inside=True),
                (Nyu.WALL, Nyu.WALL, Nyu.FLOOR, Nyu.CEILING, Nyu.WALL, Nyu.WALL),
                (wall, wall, floor, ceiling, wall, wall), casts_shadow=False)

    # light fixture on the ceiling with the point light just below it
    lx, lz = rng.uniform(0.3, 0.7) * w, rng.uniform(0.35, 0.75) * length
    b.scene.add(Cylinder(lx, lz, h - 0.08, h, rng.uniform(0.12, 0.3)), Nyu.OBJECTS,
                b.mat((0.97, 0.96, 0.92), emission=3.0), casts_shadow=False)
    warm = jitter_color(rng, (1.0, 0.9, 0.78), value=0.0, hue=0.02, sat=0.4)
    lights = [PointLight((lx, h - 0.15, lz), warm, float(rng.uniform(5.0, 9.0)), 0.6)]
    if rng.random() < 0.35:
        lights.append(PointLight((rng.uniform(0.2, 0.8) * w, rng.uniform(0.8, 1.8),
                                  rng.uniform(0.5, 0.9) * length), warm,
                                 float(rng.uniform(1.0, 3.0)), 0.4))
    amb = float(rng.uniform(0.25, 0.55))
    lighting = Lighting(lights, ambient=(amb, amb * 0.98, amb * 0.95),
                        hemisphere=float(rng.uniform(0.2, 0.5)))

    kind = rng.choice(["bedroom", "living", "dining", "office"], p=[0.28, 0.3, 0.2, 0.22])
    # wall items first, so that tall furniture avoids them where possible
    for _ in range(int(rng.integers(0, 3)) + (1 if rng.random() < 0.6 else 0)):
        _window(b)
    if rng.random() < 0.35:
        _door(b)
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3]))):
        _picture(b)
    for _ in range(int(rng.choice([0, 0, 1, 2]))):
        _wall_shelf(b)
    tables: list[tuple[float, float, float, float, float]] = []
    if kind == "bedroom":
        _bed(b)
        for _ in range(int(rng.integers(1, 3))):
            _cabinet(b, tall=rng.random() < 0.5)
        if rng.random() < 0.3:
            _tv(b)
        if rng.random() < 0.4:
            _bookshelf(b)
        if rng.random() < 0.3:
            t = _table(b, "desk")
            if t:
                _chairs_around(b, t, 1, desk=True)
    elif kind == "living":
        for _ in range(int(rng.integers(1, 3))):
            _sofa(b)
        t = _table(b, "coffee")
        if rng.random() < 0.8:
            _tv(b)
        if rng.random() < 0.6:
            _bookshelf(b)
        _cabinet(b, tall=rng.random() < 0.4)
        if rng.random() < 0.5:
            _cabinet(b, tall=rng.random() < 0.5)
        if rng.random() < 0.4:
            t2 = _table(b, "dining")
            if t2:
                _chairs_around(b, t2, int(rng.integers(1, 4)))
    elif kind == "dining":
        t = _table(b, "dining")
        if t:
            tables.append(t)
            _chairs_around(b, t, int(rng.integers(2, 5)))
        for _ in range(int(rng.integers(1, 4))):
            _cabinet(b, tall=rng.random() < 0.4)
        if rng.random() < 0.3:
            _tv(b)
        if rng.random() < 0.3:
            _sofa(b)
    else:
        for _ in range(int(rng.integers(1, 3))):
            t = _table(b, "desk")
            if t:
                tables.append(t)
                _chairs_around(b, t, 1, desk=True)
        _bookshelf(b)
        if rng.random() < 0.5:
            _bookshelf(b)
        if rng.random() < 0.5:
            _cabinet(b, tall=rng.random() < 0.5)
        if rng.random() < 0.3:
            _sofa(b)
    for sup in list(b.supports):
        if kind == "office" and sup.hd > 0.25 and sup.y > 0.65 and rng.random() < 0.7:
            _monitor(b, sup)
        for _ in range(int(rng.integers(1, 5))):
            _small_object(b, sup)
    for _ in range(int(rng.integers(1, 5))):
        _floor_object(b)
    # a few small things the annotators skipped
    for k, prim in enumerate(b.scene.prims):
        small = isinstance(prim, Sphere | Cylinder) or (
            isinstance(prim, Box) and max(prim.half) < 0.2)
        if small and b.scene.classes[k][0] in (Nyu.OBJECTS, Nyu.BOOKS) and rng.random() < 0.08:
            b.unlabelled.add(k)
    return IndoorScene(b.scene, camera, lighting, b.no_depth, b.unlabelled)


def render_indoor(rng: np.random.Generator, height: int, width: int) -> dict[str, np.ndarray]:
    """One NYUv2-like sample: ``image`` H×W×3, ``label`` H×W (−1, 0…12), ``depth`` H×W×1
    (metres, 0 = missing), ``normal`` H×W×3 (camera frame, unit, 0 = missing); all float32."""
    room = build_indoor(rng, height, width)
    scene, cam = room.scene, room.camera
    trace = scene.trace(cam)
    image = render_image(scene, trace, room.lighting, rng, key=float(rng.uniform(0.17, 0.24)))

    label = scene.label(trace, background=VOID)
    depth = np.where(trace.hit, trace.depth, 0.0)
    normal = cam.to_camera(trace.normal_world)

    # Kinect: glass, projector shadow, grazing angles, range limit, random holes
    scale = min(height, width) / 64.0
    missing = ~trace.hit | (depth > MAX_DEPTH)
    if room.no_depth:
        missing |= np.isin(trace.index, sorted(room.no_depth))
    occ = artifacts.stereo_occlusion(np.where(trace.hit, trace.depth, np.inf), cam.focal,
                                     KINECT_BASELINE, border=False)
    missing |= occ & (rng.random(occ.shape) < 0.9)
    rays_cam = cam.to_camera(trace.rays)
    graze = artifacts.grazing(normal, rays_cam, 0.08)
    missing |= graze & (rng.random(graze.shape) < 0.6)
    missing |= artifacts.blobs(rng, (height, width), int(rng.poisson(1.5)),
                               (0.8 * scale, 2.5 * scale))
    depth[missing] = 0.0
    normal[missing] = 0.0

    # annotation: unlabelled objects, part of the boundary band, a few blobs
    if room.unlabelled:
        label[np.isin(trace.index, sorted(room.unlabelled))] = VOID
    band = artifacts.boundaries(label)
    label[band & (rng.random(band.shape) < rng.uniform(0.2, 0.8))] = VOID
    label[artifacts.blobs(rng, (height, width), int(rng.poisson(1.0)),
                          (1.0 * scale, 3.5 * scale))] = VOID
    return {
        "image": image,
        "label": label.astype(np.float32),
        "depth": depth[..., None].astype(np.float32),
        "normal": normal.astype(np.float32),
    }
