"""Cityscapes-like street scenes seen from a car with a stereo camera.

World: road plane ``y = 0``, the street runs along ``+z``, ``x`` is to the right. The camera sits
1.2–1.6 m high in the right-hand lane, looking down the street (yaw jitter of a few degrees, pitch
−1…4° down). Raised sidewalks (boxes) flank the road; building facades (boxes with a window
texture) line both sides with occasional gaps holding walls, fences, grass and trees; poles carry
street lamps, traffic signs and traffic lights; cars, trucks, buses, trams, bicycles and
motorcycles stand or drive on the road; pedestrians (two cylinders and a sphere) walk on the
sidewalks and riders sit on two-wheelers. Rays that hit nothing see the sky.

Labels are the 19 Cityscapes trainIds (``label_7`` is their category); −1 (void) marks the ego
vehicle's bonnet at the bottom of some images and "static" clutter such as bins. Depth is stored
as inverse depth ``1/z`` (1/m) with 0 where stereo gives nothing: sky, the occlusion band left of
foreground objects and along the left border (:func:`artifacts.stereo_occlusion`, baseline
0.21 m), depth beyond 150 m, the bonnet and a few random holes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.render import artifacts
from bench.data.render.camera import Camera
from bench.data.render.classes import VOID, City, map_19_to_7
from bench.data.render.geometry import Box, Cylinder, Plane, Sphere
from bench.data.render.scene import Scene
from bench.data.render.shading import (
    GAMMA,
    Lighting,
    SunLight,
    develop,
    jitter_color,
    pick,
    radiance,
)
from bench.data.render.textures import Material, Pattern, fbm2

HFOV_DEG = 50.0          # Cityscapes: f ≈ 2262 px at 2048 px width
STEREO_BASELINE = 0.21   # metres
MAX_DEPTH = 150.0

FACADES = [(0.85, 0.80, 0.70), (0.75, 0.72, 0.68), (0.90, 0.88, 0.84), (0.62, 0.60, 0.58),
           (0.80, 0.70, 0.50), (0.66, 0.42, 0.33), (0.80, 0.76, 0.60), (0.55, 0.58, 0.62),
           (0.86, 0.78, 0.72), (0.45, 0.44, 0.42)]
CONCRETE = [(0.62, 0.61, 0.58), (0.55, 0.53, 0.50), (0.70, 0.68, 0.64), (0.50, 0.47, 0.44)]
CAR_PAINT = [(0.92, 0.92, 0.92), (0.08, 0.08, 0.09), (0.65, 0.66, 0.68), (0.35, 0.36, 0.38),
             (0.12, 0.20, 0.45), (0.60, 0.10, 0.08), (0.75, 0.72, 0.62), (0.20, 0.30, 0.25)]
CLOTHES = [(0.10, 0.10, 0.12), (0.15, 0.20, 0.35), (0.40, 0.40, 0.42), (0.65, 0.15, 0.12),
           (0.85, 0.85, 0.82), (0.55, 0.48, 0.35), (0.25, 0.35, 0.25), (0.70, 0.55, 0.20)]
SKIN = [(0.85, 0.68, 0.55), (0.65, 0.48, 0.36), (0.42, 0.30, 0.22), (0.92, 0.78, 0.66)]
GREENS = [(0.20, 0.32, 0.10), (0.28, 0.38, 0.14), (0.18, 0.28, 0.14), (0.32, 0.36, 0.12)]
GRASS = [(0.35, 0.45, 0.18), (0.45, 0.48, 0.25), (0.40, 0.38, 0.22), (0.30, 0.40, 0.20)]


@dataclass
class StreetScene:
    """A built street: scene, camera, lighting and the sky's look."""

    scene: Scene
    camera: Camera
    lighting: Lighting
    sky_horizon: tuple[float, float, float]
    sky_zenith: tuple[float, float, float]
    clouds: float
    seed: int


class _Builder:
    def __init__(self, rng: np.random.Generator, road_half: float) -> None:
        self.rng = rng
        self.road_half = road_half
        self.scene = Scene()
        self.seed = int(rng.integers(1 << 30))

    def mat(self, color: tuple[float, float, float], pattern: Pattern = Pattern.PLAIN,
            **kw: object) -> Material:
        self.seed += 1
        return Material(color=color, pattern=pattern, seed=self.seed, **kw)  # type: ignore[arg-type]

    def box(self, x0: float, x1: float, y0: float, y1: float, z0: float, z1: float, cls: int,
            mat: Material | list[Material], shadow: bool = True) -> int:
        """Axis-aligned box from its extents."""
        x0, x1 = min(x0, x1), max(x0, x1)
        return self.scene.add(Box(((x0 + x1) / 2, (y0 + y1) / 2, (z0 + z1) / 2),
                                  ((x1 - x0) / 2, (y1 - y0) / 2, (z1 - z0) / 2)),
                              cls, mat, casts_shadow=shadow)

    def part(self, frame: tuple[float, float, float], local: tuple[float, float, float],
             half: tuple[float, float, float], cls: int, mat: Material | list[Material],
             shadow: bool = True) -> int:
        return self.scene.add_part(frame, local, half, cls, mat, casts_shadow=shadow)


# -- street furniture -----------------------------------------------------------------------------
def _tree(b: _Builder, x: float, z: float, ground: float, pit: bool = True) -> None:
    rng = b.rng
    trunk_h = rng.uniform(1.8, 3.5)
    bark = b.mat(jitter_color(rng, (0.30, 0.24, 0.18)), Pattern.NOISE,
                 color2=(0.18, 0.15, 0.12), scale=0.1, amount=0.3)
    b.scene.add(Cylinder(x, z, ground, ground + trunk_h, rng.uniform(0.12, 0.25)),
                City.VEGETATION, bark)
    leaves = b.mat(pick(rng, GREENS, hue=0.04), Pattern.LEAVES,
                   color2=pick(rng, GREENS + GRASS, hue=0.04), scale=float(rng.uniform(0.3, 0.6)))
    r = rng.uniform(1.4, 3.0)
    b.scene.add(Sphere((x, ground + trunk_h + 0.6 * r, z), r), City.VEGETATION, leaves)
    if rng.random() < 0.5:
        r2 = r * rng.uniform(0.6, 0.9)
        centre = (x + rng.normal(0, 0.6), ground + trunk_h + 1.2 * r, z + rng.normal(0, 1))
        b.scene.add(Sphere(centre, r2), City.VEGETATION, leaves)
    if pit:
        grass = b.mat(pick(rng, GRASS), Pattern.NOISE, color2=pick(rng, GRASS), scale=0.15,
                      amount=0.4)
        h = rng.uniform(0.6, 0.9)
        b.box(x - h, x + h, ground, ground + 0.03, z - h, z + h, City.TERRAIN, grass, shadow=False)


def _pole(b: _Builder, x: float, z: float, ground: float, side: int, kind: str,
          road_half: float) -> None:
    rng = b.rng
    metal = b.mat(pick(b.rng, [(0.45, 0.46, 0.47), (0.30, 0.32, 0.30), (0.60, 0.60, 0.58)]),
                  amount=0.05, scale=0.2)
    r = rng.uniform(0.05, 0.1)
    if kind == "lamp":
        h = rng.uniform(6.0, 9.0)
        b.scene.add(Cylinder(x, z, ground, ground + h, r), City.POLE, metal)
        arm = rng.uniform(1.0, 2.5)
        b.box(x, x - side * arm, ground + h - 0.1, ground + h, z - 0.05, z + 0.05, City.POLE, metal)
        b.box(x - side * (arm - 0.5), x - side * (arm + 0.1), ground + h - 0.25, ground + h - 0.05,
              z - 0.2, z + 0.2, City.POLE, metal)
    elif kind == "sign":
        h = rng.uniform(2.6, 3.4)
        b.scene.add(Cylinder(x, z, ground, ground + h, r * 0.7), City.POLE, metal)
        white, red = (0.92, 0.92, 0.92), (0.75, 0.10, 0.08)
        colors = [((0.10, 0.30, 0.70), white), (white, red), ((0.92, 0.78, 0.12), white),
                  (red, white)]
        for k in range(1 if rng.random() < 0.6 else 2):
            c1, c2 = colors[int(rng.integers(len(colors)))]
            s = rng.uniform(0.25, 0.4)
            y = ground + h - s - k * (2 * s + 0.1)
            sign = b.mat(jitter_color(rng, c1, value=0.1), Pattern.SIGN,
                         color2=jitter_color(rng, c2, value=0.1), params=(0.12, 4.0))
            b.box(x - s, x + s, y - s, y + s, z - 0.06, z - 0.02, City.TRAFFIC_SIGN, sign)
    else:  # traffic light
        h = rng.uniform(3.5, 5.5)
        b.scene.add(Cylinder(x, z, ground, ground + h, r), City.POLE, metal)
        housing = b.mat((0.07, 0.07, 0.08), Pattern.LAMPS, emission=3.0,
                        params=(float(rng.integers(3)),))
        b.box(x - 0.16, x + 0.16, ground + h - 1.0, ground + h, z - 0.3, z - 0.1,
              City.TRAFFIC_LIGHT, housing)
        if rng.random() < 0.45:  # arm over the road with a second light
            reach = rng.uniform(2.5, min(6.0, 2 * road_half - 1.0))
            b.box(x, x - side * reach, ground + h + 0.5, ground + h + 0.62, z - 0.06, z + 0.06,
                  City.POLE, metal)
            lx = x - side * reach
            b.box(lx - 0.16, lx + 0.16, ground + h - 0.45, ground + h + 0.5, z - 0.25, z - 0.05,
                  City.TRAFFIC_LIGHT, housing)
        if rng.random() < 0.5:
            sign = b.mat((0.92, 0.92, 0.92), Pattern.SIGN, color2=(0.75, 0.1, 0.08),
                         params=(0.15, 4.0))
            b.box(x - 0.3, x + 0.3, ground + 1.9, ground + 2.5, z - 0.06, z - 0.02,
                  City.TRAFFIC_SIGN, sign)


def _person(b: _Builder, x: float, z: float, ground: float, cls: int = City.PERSON,
            sitting: float = 0.0) -> None:
    """Pedestrian (legs + torso cylinders, head sphere); ``sitting`` raises a rider."""
    rng = b.rng
    k = rng.uniform(0.88, 1.1)
    shirt = b.mat(pick(rng, CLOTHES), amount=0.1, scale=0.1)
    skin = b.mat(pick(rng, SKIN, value=0.1))
    r = rng.uniform(0.17, 0.23) * k
    if sitting <= 0:
        pants = b.mat(pick(rng, CLOTHES[:4]), amount=0.1, scale=0.1)
        b.scene.add(Cylinder(x, z, ground, ground + 0.85 * k, r * 0.8), cls, pants)
        base = ground + 0.85 * k
    else:
        base = ground + sitting
    top = base + 0.62 * k
    b.scene.add(Cylinder(x, z, base, top, r), cls, shirt)
    head = rng.uniform(0.1, 0.12) * k
    b.scene.add(Sphere((x, top + head + 0.02, z), head), cls, skin)


def _length(rng: np.random.Generator, kind: str) -> float:
    if kind == "car":
        return float(rng.uniform(3.8, 4.9))
    if kind == "truck":
        return float(rng.uniform(6.0, 9.0))
    if kind == "bus":
        return float(rng.uniform(10.0, 12.0))
    if kind == "train":
        return float(rng.uniform(18.0, 30.0))
    return 2.0 if kind == "motorcycle" else 1.75


def _vehicle(b: _Builder, x: float, z0: float, yaw: float, kind: str) -> tuple[float, float]:
    """A car/truck/bus/train/motorcycle/bicycle at ``x`` along the street, its near end at
    ``z0``; returns its centre ``z`` and length."""
    rng = b.rng
    length = _length(rng, kind)
    fr = (x, z0 + length / 2, yaw)
    tyre = b.mat((0.05, 0.05, 0.05), amount=0.05)
    paint_c = pick(rng, CAR_PAINT, value=0.1, hue=0.02)
    paint = b.mat(paint_c, amount=0.03, scale=0.5)
    glass = b.mat(jitter_color(rng, (0.12, 0.14, 0.17), value=0.2), Pattern.GLASS, color2=paint_c)

    def wheels(cls: int, half_w: float, axle: float, r: float, width: float = 0.11) -> None:
        for sx in (-1, 1):
            for sz in (-1, 1):
                b.part(fr, (sx * (half_w - width), r, sz * axle), (width, r, r), cls, tyre,
                       shadow=False)

    if kind == "car":
        w = rng.uniform(1.7, 1.9)
        bh = rng.uniform(0.55, 0.75)
        b.part(fr, (0, 0.3 + bh / 2, 0), (w / 2, bh / 2, length / 2), City.CAR, paint)
        cl = length * rng.uniform(0.45, 0.6)
        ch = rng.uniform(0.42, 0.58)
        b.part(fr, (0, 0.3 + bh + ch / 2, -length * rng.uniform(0.0, 0.08)),
               (w / 2 - 0.1, ch / 2, cl / 2), City.CAR, glass)
        wheels(City.CAR, w / 2, length / 2 - 0.8, 0.32)
        return fr[1], length
    if kind == "truck":
        w = 2.45
        ch = rng.uniform(2.6, 3.0)
        cab_paint = b.mat(pick(rng, CAR_PAINT[:3] + [(0.7, 0.15, 0.1), (0.15, 0.3, 0.6)]),
                          amount=0.03)
        b.part(fr, (0, 0.5 + (ch - 0.5) / 2, length / 2 - 1.0), (w / 2 - 0.05, (ch - 0.5) / 2, 1.0),
               City.TRUCK, [cab_paint] * 5 + [glass])
        bx = rng.uniform(3.0, 3.8)
        cargo = b.mat(pick(rng, [(0.9, 0.9, 0.9), (0.6, 0.62, 0.65), (0.2, 0.35, 0.6)]),
                      Pattern.NOISE, color2=(0.7, 0.7, 0.7), scale=1.0, amount=0.1)
        b.part(fr, (0, 0.6 + (bx - 0.6) / 2, -1.1), (w / 2, (bx - 0.6) / 2, length / 2 - 1.1),
               City.TRUCK, cargo)
        wheels(City.TRUCK, w / 2, length / 2 - 1.2, 0.48, 0.15)
        return fr[1], length
    if kind in ("bus", "train"):
        w = 2.55 if kind == "bus" else 2.4
        cls = City.BUS if kind == "bus" else City.TRAIN
        palette = ([(0.9, 0.75, 0.1), (0.85, 0.12, 0.1), (0.92, 0.92, 0.9), (0.2, 0.45, 0.3)]
                   if kind == "bus" else [(0.85, 0.85, 0.82), (0.75, 0.1, 0.1), (0.95, 0.8, 0.1)])
        body = b.mat(pick(rng, palette, value=0.1), amount=0.03)
        glass_b = b.mat((0.12, 0.14, 0.17), Pattern.GLASS, color2=body.color)
        floor = 0.35
        b.part(fr, (0, floor + 0.55, 0), (w / 2, 0.55, length / 2), cls, body)
        b.part(fr, (0, floor + 1.1 + 0.7, 0), (w / 2, 0.7, length / 2), cls, glass_b)
        b.part(fr, (0, floor + 2.5 + 0.2, 0), (w / 2, 0.2, length / 2), cls, body)
        wheels(cls, w / 2, length / 2 - 2.2, 0.5, 0.15)
        return fr[1], length
    # two-wheelers
    cls = City.MOTORCYCLE if kind == "motorcycle" else City.BICYCLE
    r = 0.31 if kind == "motorcycle" else 0.34
    hw = 0.06 if kind == "motorcycle" else 0.02
    for sz in (-1, 1):
        b.part(fr, (0, r, sz * (length / 2 - r)), (hw, r, r), cls, tyre, shadow=False)
    if kind == "motorcycle":
        b.part(fr, (0, 0.6, 0), (0.2, 0.25, length / 2 - 0.35), cls, paint)
    else:
        frame = b.mat(pick(rng, CAR_PAINT + CLOTHES))
        b.part(fr, (0, 0.62, 0), (0.02, 0.2, length / 2 - r), cls, frame)
        b.part(fr, (0, 0.95, length / 2 - r - 0.1), (0.25, 0.02, 0.02), cls, frame)
    return fr[1], length


# -- the street -----------------------------------------------------------------------------------
def _side(b: _Builder, side: int, road_half: float, walk: float, curb: float, z_end: float,
          far_end: bool) -> None:
    """Sidewalk, buildings, gaps, trees and poles on one side (``side`` = −1 left, +1 right)."""
    rng = b.rng
    edge = side * road_half
    paving_c = pick(rng, CONCRETE + [(0.65, 0.58, 0.52)], value=0.1)
    paving = b.mat(paving_c, Pattern.CHECKER, color2=jitter_color(rng, paving_c, value=0.15),
                   scale=float(rng.uniform(0.25, 0.5)), amount=0.15)
    kerb = b.mat(jitter_color(rng, (0.7, 0.7, 0.68), value=0.1), amount=0.1, scale=0.3)
    sidewalk_far = edge + side * (walk + 40.0)
    b.box(edge + side * 0.15, sidewalk_far, 0.0, curb, -30.0, z_end + 200.0, City.SIDEWALK,
          paving, shadow=False)
    b.box(edge, edge + side * 0.15, 0.0, curb, -30.0, z_end + 200.0, City.SIDEWALK, kerb,
          shadow=False)
    front = edge + side * walk
    z = -25.0
    facade_end = z_end if far_end else z_end + 90.0
    while z < facade_end:
        width = rng.uniform(8.0, 26.0)
        if rng.random() < 0.28 and z > 0:  # gap: wall/fence, grass, trees, a building behind
            gap = rng.uniform(4.0, 14.0)
            grass = b.mat(pick(rng, GRASS), Pattern.NOISE, color2=pick(rng, GRASS), scale=0.2,
                          amount=0.4)
            b.box(front + side * 0.3, front + side * 30, curb, curb + 0.04, z, z + gap,
                  City.TERRAIN, grass, shadow=False)
            r = rng.random()
            if r < 0.4:
                wall = b.mat(pick(rng, CONCRETE + FACADES[:3]), Pattern.NOISE,
                             color2=pick(rng, CONCRETE), scale=0.4, amount=0.2)
                b.box(front, front + side * 0.3, curb, curb + rng.uniform(0.8, 2.4), z, z + gap,
                      City.WALL, wall)
            elif r < 0.75:
                c = pick(rng, [(0.35, 0.3, 0.25), (0.5, 0.52, 0.5), (0.25, 0.35, 0.25)])
                fence = b.mat(c, Pattern.STRIPES, color2=tuple(0.5 * v for v in c),
                              scale=float(rng.uniform(0.1, 0.25)), params=(0.0, 1.0))
                b.box(front + side * 0.1, front + side * 0.15, curb, curb + rng.uniform(1.0, 2.0),
                      z, z + gap, City.FENCE, fence)
            for _ in range(int(rng.integers(0, 3))):
                _tree(b, front + side * rng.uniform(1.5, 6.0), z + rng.uniform(0, gap), curb,
                      pit=False)
            if rng.random() < 0.7:
                back = front + side * rng.uniform(12.0, 30.0)
                fac = b.mat(pick(rng, FACADES, value=0.15), Pattern.FACADE,
                            color2=jitter_color(rng, (0.16, 0.19, 0.24)), scale=0.5, amount=0.08,
                            params=(3.2, 1.2, 2.8, 0.5))
                b.box(back, back + side * 15, curb, rng.uniform(8, 25), z - 5, z + gap + 5,
                      City.BUILDING, fac)
            z += gap
            continue
        setback = 0.0 if rng.random() < 0.6 else rng.uniform(0.5, 4.0)
        h = rng.uniform(6.0, 24.0)
        fac_c = pick(rng, FACADES, value=0.15, hue=0.03)
        fac = b.mat(fac_c, Pattern.FACADE, color2=jitter_color(rng, (0.16, 0.19, 0.24), value=0.3),
                    scale=float(rng.uniform(0.3, 1.0)), amount=float(rng.uniform(0.04, 0.12)),
                    params=(float(rng.uniform(2.9, 3.6)), float(rng.uniform(0.9, 1.6)),
                            float(rng.uniform(2.2, 3.6)), float(rng.uniform(0.4, 0.6))))
        x0 = front + side * setback
        b.box(x0, x0 + side * rng.uniform(10, 16), curb, h, z, z + width, City.BUILDING, fac)
        if setback > 1.0 and rng.random() < 0.8:
            r = rng.random()
            if r < 0.3:
                low = b.mat(pick(rng, CONCRETE + FACADES[:4]), Pattern.NOISE,
                            color2=pick(rng, CONCRETE), scale=0.3, amount=0.2)
                b.box(front + side * 0.1, front + side * 0.35, curb,
                      curb + rng.uniform(0.5, 1.3), z, z + width, City.WALL, low)
            if r < 0.65:
                grass = b.mat(pick(rng, GRASS), Pattern.NOISE, color2=pick(rng, GRASS),
                              scale=0.2, amount=0.4)
                b.box(front + side * 0.1, x0, curb, curb + 0.05, z, z + width, City.TERRAIN,
                      grass, shadow=False)
            else:
                hedge = b.mat(pick(rng, GREENS), Pattern.LEAVES, color2=pick(rng, GREENS),
                              scale=0.25)
                b.box(front + side * 0.1, front + side * min(0.9, setback), curb,
                      curb + rng.uniform(0.7, 1.5), z + 0.3, z + width - 0.3, City.VEGETATION,
                      hedge)
        z += width
    # a grass verge along the kerb
    if rng.random() < 0.3 and walk > 2.5:
        verge = b.mat(pick(rng, GRASS), Pattern.NOISE, color2=pick(rng, GRASS), scale=0.2,
                      amount=0.4)
        b.box(edge + side * 0.3, edge + side * rng.uniform(1.0, 1.8), curb, curb + 0.03,
              rng.uniform(-10.0, 10.0), rng.uniform(40.0, 120.0), City.TERRAIN, verge,
              shadow=False)
    # trees in pits along the kerb
    if rng.random() < 0.65:
        z = rng.uniform(3.0, 15.0)
        step = rng.uniform(8.0, 18.0)
        while z < min(z_end, 110.0):
            _tree(b, edge + side * min(1.2, walk - 0.8), z, curb)
            z += step * rng.uniform(0.8, 1.2)
    # poles
    z = rng.uniform(4.0, 15.0)
    while z < min(z_end, 120.0):
        kind = rng.choice(["lamp", "sign", "light"], p=[0.35, 0.35, 0.3])
        _pole(b, edge + side * 0.45, z, curb, side, str(kind), b.road_half)
        z += rng.uniform(10.0, 28.0)
    # pedestrians, parked bicycles and static clutter on the sidewalk
    for _ in range(int(rng.integers(0, 5))):
        _person(b, edge + side * rng.uniform(0.8, walk - 0.3), rng.uniform(5.0, 45.0), curb)
    if rng.random() < 0.35:
        _vehicle(b, edge + side * rng.uniform(0.6, walk - 0.3), rng.uniform(6.0, 30.0),
                 float(rng.normal(0, 0.3)), "bicycle")
    for _ in range(int(rng.integers(0, 3))):
        bin_c = b.mat(pick(rng, [(0.2, 0.3, 0.2), (0.5, 0.5, 0.5), (0.7, 0.4, 0.1)]))
        b.scene.add(Cylinder(edge + side * rng.uniform(0.5, walk - 0.3), rng.uniform(5.0, 40.0),
                             curb, curb + rng.uniform(0.7, 1.1), rng.uniform(0.25, 0.35)),
                    VOID, bin_c)


def build_street(rng: np.random.Generator, height: int, width: int) -> StreetScene:
    """Lay out a random street and the car camera looking down it."""
    road_half = float(rng.uniform(3.5, 7.5))
    b = _Builder(rng, road_half)
    lane = 3.25 if road_half > 5.0 else road_half
    walks = (rng.uniform(1.8, 4.5), rng.uniform(1.8, 4.5))
    curb = rng.uniform(0.1, 0.18)
    z_end = rng.uniform(70.0, 140.0)
    far_end = rng.random() < 0.55

    asphalt = pick(rng, [(0.36, 0.36, 0.37), (0.42, 0.41, 0.40), (0.30, 0.30, 0.31)], value=0.1)
    road = b.mat(asphalt, Pattern.ROAD, color2=tuple(0.85 * v for v in asphalt), scale=0.15,
                 params=(road_half, lane, float(rng.random() < 0.4)))
    b.scene.add(Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0)), City.ROAD, road, casts_shadow=False)
    for side, walk in zip((-1, 1), walks, strict=True):
        _side(b, side, road_half, walk, curb, z_end, far_end)
    if far_end:  # the street ends at a T-junction with a row of buildings
        zb = z_end + rng.uniform(10.0, 16.0)
        x = -80.0
        while x < 80.0:
            w = rng.uniform(10.0, 25.0)
            fac = b.mat(pick(rng, FACADES, value=0.15), Pattern.FACADE,
                        color2=jitter_color(rng, (0.16, 0.19, 0.24)), scale=0.5, amount=0.08,
                        params=(3.2, float(rng.uniform(1.0, 1.5)), 2.8, 0.5))
            b.box(x, x + w, 0.0, rng.uniform(8.0, 25.0), zb, zb + 15.0, City.BUILDING, fac)
            x += w
        paving = b.mat(pick(rng, CONCRETE), Pattern.CHECKER, color2=pick(rng, CONCRETE),
                       scale=0.4, amount=0.15)
        b.box(-80.0, 80.0, 0.0, curb, zb - 3.0, zb, City.SIDEWALK, paving, shadow=False)

    # traffic: parked along the kerbs, driving in the lanes
    # parking lanes (2.3 m) along the kerbs of wide streets, driving lanes in between
    parked = {side: bool(road_half > 4.5 and rng.random() < 0.75) for side in (-1, 1)}
    drive = {side: road_half - (2.3 if parked[side] else 0.0) for side in (-1, 1)}
    lanes = {side: [side * c for c in (1.625, 4.875) if c + 1.2 < drive[side]]
             or [side * drive[side] / 2] for side in (-1, 1)}
    for side in (-1, 1):
        if parked[side]:
            z = rng.uniform(4.0, 12.0)
            while z < 70.0:
                if rng.random() < 0.6:
                    kind = str(rng.choice(["car", "truck", "bus"], p=[0.85, 0.1, 0.05]))
                    yaw = (0.0 if side > 0 else np.pi) + float(rng.normal(0, 0.04))
                    z += _vehicle(b, side * (road_half - 1.15), z, yaw, kind)[1] + 1.0
                else:
                    z += rng.uniform(3.0, 8.0)
    for _ in range(int(rng.integers(0, 4))):
        kind = str(rng.choice(["car", "truck", "bus"], p=[0.7, 0.15, 0.15]))
        side = -1 if rng.random() < 0.45 else 1
        x = lanes[side][int(rng.integers(len(lanes[side])))] + rng.normal(0, 0.2)
        _vehicle(b, float(x), rng.uniform(9.0, 60.0), (np.pi if side < 0 else 0.0)
                 + float(rng.normal(0, 0.03)), kind)
    if rng.random() < 0.22:  # a tram in the middle of the road
        _vehicle(b, float(rng.normal(0, 0.3)), rng.uniform(25.0, 60.0),
                 float(rng.choice([0.0, np.pi])), "train")
    for _ in range(int(rng.choice([0, 1, 1, 2]))):  # riders along the kerb
        kind = "bicycle" if rng.random() < 0.55 else "motorcycle"
        side = int(rng.choice([-1, 1]))
        x = side * (drive[side] - rng.uniform(0.5, 0.9))
        yaw = 0.0 if side > 0 else np.pi
        z, _ = _vehicle(b, x, rng.uniform(8.0, 40.0), yaw + float(rng.normal(0, 0.05)), kind)
        _person(b, x, z - 0.1, 0.0, City.RIDER, sitting=0.75 if kind == "bicycle" else 0.8)
    if rng.random() < 0.2:  # someone crossing
        _person(b, rng.uniform(-road_half, road_half), rng.uniform(8.0, 30.0), 0.0)

    lane_x = lanes[1][0] + rng.normal(0, 0.2)
    cam_pos = np.array([lane_x, rng.uniform(1.2, 1.6), 0.0])
    yaw = float(np.radians(rng.normal(0, 3.0) if rng.random() < 0.85 else rng.uniform(-12, 12)))
    pitch = float(np.radians(rng.uniform(-1.0, 4.0)))
    camera = Camera(cam_pos, yaw, pitch, height, width, HFOV_DEG)

    overcast = rng.random() < 0.45
    elev = np.radians(rng.uniform(15, 60))
    azim = rng.uniform(0, 2 * np.pi)
    sun_dir = (np.cos(elev) * np.sin(azim), np.sin(elev), np.cos(elev) * np.cos(azim))
    sun_c = jitter_color(rng, (1.0, 0.95, 0.85), value=0.0, sat=0.3)
    if overcast:
        lighting = Lighting([SunLight(sun_dir, sun_c, float(rng.uniform(0.2, 0.6)))],
                            ambient=jitter_color(rng, (0.85, 0.87, 0.9), value=0.1),
                            hemisphere=0.6)
        horizon = jitter_color(rng, (0.85, 0.86, 0.88), value=0.08)
        zenith = jitter_color(rng, (0.65, 0.68, 0.74), value=0.1)
    else:
        lighting = Lighting([SunLight(sun_dir, sun_c, float(rng.uniform(1.5, 2.5)))],
                            ambient=jitter_color(rng, (0.45, 0.5, 0.6), value=0.15),
                            hemisphere=0.5)
        horizon = jitter_color(rng, (0.82, 0.86, 0.92), value=0.08)
        zenith = jitter_color(rng, (0.35, 0.52, 0.82), value=0.15)
    return StreetScene(b.scene, camera, lighting, horizon, zenith,
                       float(rng.uniform(0.2, 0.9)) if not overcast else 0.3,
                       int(rng.integers(1 << 30)))


def _sky(st: StreetScene, rays: np.ndarray) -> np.ndarray:
    """Display-space sky colour of world ray directions: horizon→zenith gradient plus clouds
    (2-D fBm on the plane 1 km up that each ray crosses)."""
    d = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    up = np.clip(d[..., 1], 0.0, 1.0)
    w = np.sqrt(up)
    col = (np.asarray(st.sky_horizon) * (1 - w[..., None]) + np.asarray(st.sky_zenith)
           * w[..., None])
    k = 1.0 / np.maximum(d[..., 1], 0.02)
    seed = np.full(d.shape[:-1], st.seed, np.int64).astype(np.uint32)
    n = fbm2(d[..., 0] * k * 1.5, d[..., 2] * k * 1.5 + 3.0, seed, octaves=3)
    cloud = np.clip((n - (1.0 - st.clouds) * 0.7) * 2.5, 0.0, 1.0) * st.clouds
    return col * (1 - cloud[..., None]) + np.array([0.93, 0.93, 0.94]) * cloud[..., None]


def render_street(rng: np.random.Generator, height: int, width: int) -> dict[str, np.ndarray]:
    """One Cityscapes-like sample: ``image`` H×W×3, ``label_7``/``label_19`` H×W (−1 = void),
    ``depth`` H×W×1 inverse depth (1/m, 0 = missing); all float32."""
    st = build_street(rng, height, width)
    scene, cam = st.scene, st.camera
    trace = scene.trace(cam)
    label = scene.label(trace, background=City.SKY)
    sky = _sky(st, trace.rays) ** GAMMA * 1.4
    rad = radiance(scene, trace, st.lighting, background=sky)

    # the ego vehicle's bonnet along the bottom of the image (void, no depth)
    bonnet = np.zeros((height, width), bool)
    if rng.random() < 0.7:
        hb = rng.uniform(0.05, 0.12) * height
        u = (np.arange(width) + 0.5 - width / 2) / (width / 2)
        top = height - hb * (1.0 - 0.45 * u**2)
        bonnet = (np.arange(height)[:, None] + 0.5) > top[None, :]
        paint = np.asarray(pick(rng, CAR_PAINT)) ** GAMMA
        refl = np.linspace(0.3, 0.9, height)[:, None, None] * 0.5
        rad = np.where(bonnet[..., None], paint * 0.6 + refl * np.median(rad), rad)
    image = develop(rad, rng, key=float(rng.uniform(0.16, 0.24)))

    label[bonnet] = VOID
    depth = np.where(trace.hit & ~bonnet, trace.depth, np.inf)
    missing = ~np.isfinite(depth) | (depth > MAX_DEPTH)
    missing |= artifacts.stereo_occlusion(depth, cam.focal, STEREO_BASELINE)
    scale = min(height, width) / 64.0
    missing |= artifacts.blobs(rng, (height, width), int(rng.poisson(2.0)),
                               (0.8 * scale, 3.0 * scale))
    inv = np.where(missing, 0.0, 1.0 / np.where(missing, 1.0, depth))
    label_19 = label.astype(np.float32)
    return {
        "image": image,
        "label_7": map_19_to_7(label_19),
        "label_19": label_19,
        "depth": inv[..., None].astype(np.float32),
    }
