"""PASCAL-like photographs: a few foreground objects, people with body parts, indoors or out.

World: ground plane ``y = 0``, the camera 1.1–1.8 m high looking along ``+z`` (yaw ±8°, pitch
2–12° down). Outdoors the ground is grass or road under a sky, with trees and building fronts far
back; indoors a floor and the walls of a room. In front of the camera stand one to four objects
of the VOC classes: people (in 70 % of the images), cars, buses, chairs, dining tables, sofas,
TV monitors, bottles and potted plants. A person is built from boxes and a sphere (head, neck,
torso, upper and lower arms, hands, upper and lower legs, feet), standing, walking or waving,
so the body parts of PASCAL-Part come from the same 3-D model as the image.

One sample gives, per pixel: the 21 VOC classes (0 = background), the 459-class PASCAL-Context
label of every surface (sky, grass, road, wall, floor, building, tree and the object classes),
each object's instance and each person's parts, camera-frame surface normals (x right, y down,
facing the camera; the sky faces the camera) and saliency (the foreground objects). The PASCAL
writer (:mod:`writer`) turns them into the files of the real layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bench.data.render.camera import Camera
from bench.data.render.geometry import Box, Cylinder, Plane, Sphere
from bench.data.render.scene import Scene
from bench.data.render.shading import (
    GAMMA,
    Lighting,
    PointLight,
    SunLight,
    develop,
    jitter_color,
    pick,
    radiance,
)
from bench.data.render.street import CAR_PAINT, CLOTHES, FACADES, GREENS, SKIN
from bench.data.render.textures import Material, Pattern

#: bump whenever the rendered PASCAL-like content changes (stale generated sets are rebuilt)
PASCAL_GENERATOR_VERSION = 1
HFOV_DEG = 55.0

#: VOC class ids (0 = background)
VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor")
VOC = {name: i for i, name in enumerate(VOC_CLASSES)}
#: PASCAL-Context (459-class) ids of the surfaces the scenes contain
CONTEXT = {"sky": 360, "grass": 187, "road": 324, "floor": 158, "wall": 440, "building": 44,
           "tree": 420, "person": 284, "car": 59, "bus": 45, "chair": 72, "diningtable": 397,
           "sofa": 368, "tvmonitor": 427, "bottle": 34, "pottedplant": 308}
PERSON_PARTS = ("head", "neck", "torso", "luarm", "ruarm", "llarm", "rlarm", "lhand", "rhand",
                "luleg", "ruleg", "llleg", "rlleg", "lfoot", "rfoot")


@dataclass
class Labelled:
    """Per primitive: VOC class, PASCAL-Context class, object instance (−1: background), part."""

    voc: list[int] = field(default_factory=list)
    context: list[int] = field(default_factory=list)
    instance: list[int] = field(default_factory=list)
    part: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)  # class name of each instance


class _Builder:
    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.scene = Scene()
        self.meta = Labelled()
        self.seed = int(rng.integers(1 << 30))
        self.footprints: list[tuple[float, float, float]] = []  # (x, z, radius)

    def mat(self, color: tuple[float, float, float], pattern: Pattern = Pattern.PLAIN,
            **kw: object) -> Material:
        self.seed += 1
        return Material(color=color, pattern=pattern, seed=self.seed, **kw)  # type: ignore[arg-type]

    def add(self, prim: object, context: str, mat: Material, *, voc: str = "background",
            instance: int = -1, part: str = "", shadow: bool = True) -> int:
        k = self.scene.add(prim, VOC[voc], mat, casts_shadow=shadow)  # type: ignore[arg-type]
        self.meta.voc.append(VOC[voc])
        self.meta.context.append(CONTEXT[context])
        self.meta.instance.append(instance)
        self.meta.part.append(part)
        return k

    def new_object(self, name: str) -> int:
        self.meta.objects.append(name)
        return len(self.meta.objects) - 1

    def box(self, frame: tuple[float, float, float], local: tuple[float, float, float],
            half: tuple[float, float, float], name: str, mat: Material, instance: int,
            part: str = "") -> int:
        """A box of object ``instance`` in its frame ``(x, z, yaw)`` (see :meth:`Scene.add_part`)."""
        x, z, yaw = frame
        c = np.array([x, 0.0, z]) + _yaw(yaw) @ np.asarray(local, float)
        return self.add(Box((float(c[0]), float(c[1]), float(c[2])), half, yaw), name, mat,
                        voc=name, instance=instance, part=part)

    def free_spot(self, radius: float, z_range: tuple[float, float], spread: float
                  ) -> tuple[float, float] | None:
        """A ground position in view, ``radius`` away from the objects placed so far."""
        for _ in range(30):
            z = float(self.rng.uniform(*z_range))
            x = float(self.rng.uniform(-spread, spread) * z * 0.45)
            if all((x - fx) ** 2 + (z - fz) ** 2 > (radius + fr) ** 2
                   for fx, fz, fr in self.footprints):
                self.footprints.append((x, z, radius))
                return x, z
        return None


def _yaw(yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


# -- objects --------------------------------------------------------------------------------------
def _person(b: _Builder, x: float, z: float) -> None:
    """A person of boxes (and a sphere head) with every PASCAL-Part body part labelled."""
    rng = b.rng
    inst = b.new_object("person")
    k = float(rng.uniform(0.85, 1.1) if rng.random() < 0.85 else rng.uniform(0.55, 0.75))
    yaw = float(rng.uniform(-np.pi, np.pi))
    f = (x, z, yaw)
    skin = b.mat(pick(rng, SKIN, value=0.1))
    shirt = b.mat(pick(rng, CLOTHES), amount=0.1, scale=0.1)
    pants = b.mat(pick(rng, CLOTHES[:4]), amount=0.1, scale=0.1)
    shoes = b.mat(pick(rng, CLOTHES[:3]))
    sleeve = shirt if rng.random() < 0.6 else skin
    pose = str(rng.choice(["stand", "walk", "wave"], p=[0.45, 0.35, 0.2]))
    step = 0.12 * k if pose == "walk" else 0.0

    def part(name: str, local: tuple[float, float, float], half: tuple[float, float, float],
             mat: Material) -> None:
        b.box(f, local, half, "person", mat, inst, name)

    for side, sign in (("l", 1.0), ("r", -1.0)):
        dz = sign * step
        lx = sign * 0.09 * k
        part(f"{side}foot", (lx, 0.04 * k, dz + 0.05 * k), (0.05 * k, 0.04 * k, 0.11 * k), shoes)
        part(f"{side}lleg", (lx, 0.26 * k, dz), (0.06 * k, 0.18 * k, 0.065 * k), pants)
        part(f"{side}uleg", (lx, 0.64 * k, dz * 0.5), (0.075 * k, 0.2 * k, 0.08 * k), pants)
    part("torso", (0.0, 1.12 * k, 0.0), (0.18 * k, 0.28 * k, 0.1 * k), shirt)
    part("neck", (0.0, 1.44 * k, 0.0), (0.045 * k, 0.04 * k, 0.045 * k), skin)
    head = 0.11 * k
    c = np.array([x, 0.0, z]) + _yaw(yaw) @ np.array([0.0, 1.48 * k + head, 0.0])
    b.add(Sphere((float(c[0]), float(c[1]), float(c[2])), head), "person", skin, voc="person",
          instance=inst, part="head")
    for side, sign in (("l", 1.0), ("r", -1.0)):
        ax = sign * 0.24 * k
        up = pose == "wave" and side == "r"
        swing = -sign * step
        if up:
            part(f"{side}uarm", (ax, 1.54 * k, 0.0), (0.05 * k, 0.15 * k, 0.05 * k), sleeve)
            part(f"{side}larm", (ax, 1.83 * k, 0.0), (0.045 * k, 0.14 * k, 0.045 * k), skin)
            part(f"{side}hand", (ax, 2.02 * k, 0.0), (0.04 * k, 0.05 * k, 0.03 * k), skin)
        else:
            part(f"{side}uarm", (ax, 1.25 * k, swing * 0.5), (0.05 * k, 0.15 * k, 0.05 * k),
                 sleeve)
            part(f"{side}larm", (ax, 0.96 * k, swing), (0.045 * k, 0.14 * k, 0.045 * k), skin)
            part(f"{side}hand", (ax, 0.77 * k, swing), (0.04 * k, 0.05 * k, 0.03 * k), skin)


def _car(b: _Builder, x: float, z: float, bus: bool = False) -> None:
    rng = b.rng
    name = "bus" if bus else "car"
    inst = b.new_object(name)
    f = (x, z, float(rng.uniform(-np.pi, np.pi)))
    paint = b.mat(pick(rng, CAR_PAINT), amount=0.05)
    glass = b.mat((0.15, 0.18, 0.22), Pattern.GLASS, color2=pick(rng, CAR_PAINT))
    tyre = b.mat((0.06, 0.06, 0.06))
    if bus:
        b.box(f, (0.0, 1.75, 0.0), (1.25, 1.45, 5.5), name, paint, inst)
        b.box(f, (0.0, 2.2, 0.0), (1.27, 0.45, 5.2), name, glass, inst)
        wheel = (0.5, 0.3)
    else:
        b.box(f, (0.0, 0.62, 0.0), (0.88, 0.32, 2.1), name, paint, inst)
        b.box(f, (0.0, 1.18, -0.15), (0.8, 0.26, 1.15), name, glass, inst)
        wheel = (0.32, 0.11)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.box(f, (sx * (1.28 if bus else 0.82), wheel[0], sz * (3.6 if bus else 1.3)),
                  (wheel[1], wheel[0], wheel[0]), name, tyre, inst)


def _chair(b: _Builder, x: float, z: float) -> None:
    rng = b.rng
    inst = b.new_object("chair")
    f = (x, z, float(rng.uniform(-np.pi, np.pi)))
    wood = b.mat(pick(rng, [(0.45, 0.3, 0.18), (0.2, 0.2, 0.22), (0.7, 0.6, 0.45)]),
                 Pattern.WOOD, color2=(0.3, 0.2, 0.1), scale=0.03)
    b.box(f, (0.0, 0.45, 0.0), (0.23, 0.03, 0.23), "chair", wood, inst)
    b.box(f, (0.0, 0.75, -0.21), (0.23, 0.27, 0.025), "chair", wood, inst)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.box(f, (sx * 0.2, 0.21, sz * 0.2), (0.025, 0.21, 0.025), "chair", wood, inst)


def _table(b: _Builder, x: float, z: float) -> float:
    rng = b.rng
    inst = b.new_object("diningtable")
    yaw = float(rng.uniform(-0.5, 0.5))
    f = (x, z, yaw)
    wood = b.mat(pick(rng, [(0.5, 0.33, 0.2), (0.75, 0.65, 0.5), (0.9, 0.9, 0.88)]),
                 Pattern.WOOD, color2=(0.35, 0.22, 0.12), scale=0.05)
    b.box(f, (0.0, 0.74, 0.0), (0.75, 0.025, 0.45), "diningtable", wood, inst)
    for sx in (-1, 1):
        for sz in (-1, 1):
            b.box(f, (sx * 0.68, 0.36, sz * 0.38), (0.03, 0.36, 0.03), "diningtable", wood, inst)
    # things on the table
    if rng.random() < 0.6:
        _monitor(b, x + float(rng.uniform(-0.3, 0.3)), z + 0.1, 0.765)
    for _ in range(int(rng.integers(0, 3))):
        _bottle(b, x + float(rng.uniform(-0.6, 0.6)), z + float(rng.uniform(-0.3, 0.3)), 0.765)
    return 0.765


def _sofa(b: _Builder, x: float, z: float) -> None:
    rng = b.rng
    inst = b.new_object("sofa")
    f = (x, z, float(rng.uniform(-0.8, 0.8)) + np.pi)
    fabric = b.mat(pick(rng, [(0.5, 0.2, 0.15), (0.3, 0.35, 0.5), (0.6, 0.55, 0.45),
                              (0.25, 0.25, 0.25)]), Pattern.NOISE, color2=(0.2, 0.2, 0.2),
                   scale=0.05, amount=0.15)
    b.box(f, (0.0, 0.22, 0.0), (0.95, 0.22, 0.45), "sofa", fabric, inst)
    b.box(f, (0.0, 0.6, -0.35), (0.95, 0.3, 0.12), "sofa", fabric, inst)
    for sx in (-1, 1):
        b.box(f, (sx * 0.85, 0.5, 0.0), (0.12, 0.1, 0.45), "sofa", fabric, inst)


def _monitor(b: _Builder, x: float, z: float, base: float) -> None:
    rng = b.rng
    inst = b.new_object("tvmonitor")
    f = (x, z, float(rng.uniform(-0.4, 0.4)) + np.pi)
    case = b.mat((0.08, 0.08, 0.09))
    screen = b.mat((0.1, 0.12, 0.16), Pattern.SCREEN, color2=(0.3, 0.5, 0.8),
                   params=(0.05, float(rng.random() < 0.5)), emission=0.8)
    w, h = float(rng.uniform(0.25, 0.45)), float(rng.uniform(0.18, 0.3))
    b.box(f, (0.0, base + 0.06, 0.0), (0.05, 0.06, 0.03), "tvmonitor", case, inst)
    b.box(f, (0.0, base + 0.12 + h, 0.0), (w, h, 0.03), "tvmonitor", screen, inst)


def _bottle(b: _Builder, x: float, z: float, base: float) -> None:
    rng = b.rng
    inst = b.new_object("bottle")
    glass = b.mat(pick(rng, [(0.1, 0.35, 0.15), (0.45, 0.25, 0.1), (0.8, 0.85, 0.9)]))
    r, h = float(rng.uniform(0.03, 0.045)), float(rng.uniform(0.18, 0.28))
    b.add(Cylinder(x, z, base, base + h, r), "bottle", glass, voc="bottle", instance=inst)
    b.add(Cylinder(x, z, base + h, base + h * 1.35, r * 0.4), "bottle", glass, voc="bottle",
          instance=inst)


def _plant(b: _Builder, x: float, z: float) -> None:
    rng = b.rng
    inst = b.new_object("pottedplant")
    pot = b.mat(pick(rng, [(0.6, 0.3, 0.2), (0.85, 0.85, 0.82), (0.2, 0.2, 0.22)]))
    leaves = b.mat(pick(rng, GREENS), Pattern.LEAVES, color2=(0.05, 0.1, 0.03), scale=0.06)
    r = float(rng.uniform(0.12, 0.22))
    b.add(Cylinder(x, z, 0.0, r * 1.6, r), "pottedplant", pot, voc="pottedplant", instance=inst)
    b.add(Sphere((x, r * 1.6 + r * 1.4, z), r * 1.6), "pottedplant", leaves, voc="pottedplant",
          instance=inst)


# -- the scene ------------------------------------------------------------------------------------
@dataclass
class PascalScene:
    scene: Scene
    meta: Labelled
    camera: Camera
    lighting: Lighting
    outdoor: bool
    sky: tuple[tuple[float, float, float], tuple[float, float, float]]


def build_pascal(rng: np.random.Generator, height: int, width: int) -> PascalScene:
    """Lay out a random PASCAL-like photograph and its camera."""
    b = _Builder(rng)
    outdoor = bool(rng.random() < 0.55)
    if outdoor:
        ground = "grass" if rng.random() < 0.55 else "road"
        mat = (b.mat(pick(rng, GREENS), Pattern.NOISE, color2=(0.3, 0.35, 0.15), scale=0.3)
               if ground == "grass" else
               b.mat((0.38, 0.38, 0.39), Pattern.NOISE, color2=(0.3, 0.3, 0.3), scale=0.2))
        b.add(Plane((0.0, 0.0, 0.0), (0.0, 1.0, 0.0)), ground, mat, shadow=False)
        back = float(rng.uniform(18.0, 40.0))
        x = -40.0
        while x < 40.0:
            w = float(rng.uniform(6.0, 15.0))
            if rng.random() < 0.5:
                fac = b.mat(pick(rng, FACADES), Pattern.FACADE,
                            color2=jitter_color(rng, (0.16, 0.19, 0.24)), scale=0.5, amount=0.08,
                            params=(3.2, 1.2, 2.8, 0.5))
                hb = float(rng.uniform(6.0, 18.0))
                b.add(Box((x + w / 2, hb / 2, back), (w / 2, hb / 2, 4.0)), "building", fac)
            else:
                trunk = b.mat((0.3, 0.22, 0.15))
                crown = b.mat(pick(rng, GREENS), Pattern.LEAVES, color2=(0.05, 0.1, 0.03),
                              scale=0.4)
                tz = back - float(rng.uniform(0.0, 6.0))
                b.add(Cylinder(x + w / 2, tz, 0.0, 2.5, 0.2), "tree", trunk)
                b.add(Sphere((x + w / 2, 4.0, tz), float(rng.uniform(2.0, 3.2))), "tree", crown)
            x += w
        sun = (float(rng.uniform(-0.5, 0.5)), float(rng.uniform(0.4, 1.0)),
               float(rng.uniform(-0.8, 0.3)))
        lighting = Lighting([SunLight(sun, jitter_color(rng, (1.0, 0.95, 0.85), value=0.0),
                                      float(rng.uniform(1.0, 2.2)))],
                            ambient=jitter_color(rng, (0.5, 0.55, 0.65), value=0.15),
                            hemisphere=0.5)
    else:
        room_w, room_d, room_h = (float(rng.uniform(6.0, 10.0)), float(rng.uniform(6.0, 10.0)),
                                  float(rng.uniform(2.6, 3.2)))
        wall = b.mat(pick(rng, [(0.85, 0.82, 0.75), (0.7, 0.75, 0.8), (0.8, 0.7, 0.6)]),
                     amount=0.05)
        floor = b.mat(pick(rng, [(0.55, 0.4, 0.25), (0.7, 0.7, 0.68), (0.35, 0.3, 0.28)]),
                      Pattern.PLANKS, color2=(0.3, 0.2, 0.1), scale=0.15, params=(1.2,))
        k = b.scene.add(Box((0.0, room_h / 2, room_d / 2 - 1.0),
                            (room_w / 2, room_h / 2, room_d / 2), inside=True),
                        (0, 0, 0, 0, 0, 0), (wall, wall, floor, wall, wall, wall),
                        casts_shadow=False)
        # one primitive, two context classes: resolved per face in :func:`render_pascal`
        b.meta.voc.append(0)
        b.meta.context.append(CONTEXT["wall"])
        b.meta.instance.append(-1)
        b.meta.part.append("")
        if k != 0:
            raise RuntimeError("the room must be the first primitive")
        lighting = Lighting([PointLight((float(rng.uniform(-1, 1)), room_h - 0.3,
                                         float(rng.uniform(1.5, 4.0))),
                                        jitter_color(rng, (1.0, 0.92, 0.8), value=0.0),
                                        float(rng.uniform(4.0, 8.0)), 0.5)],
                            ambient=jitter_color(rng, (0.35, 0.35, 0.38), value=0.15),
                            hemisphere=0.3)
    # foreground objects
    people = int(rng.choice([0, 1, 1, 2, 3], p=[0.3, 0.3, 0.15, 0.15, 0.1]))
    for _ in range(people):
        spot = b.free_spot(0.45, (2.0, 5.0), 0.8)
        if spot:
            _person(b, *spot)
    others = ["chair", "diningtable", "sofa", "pottedplant", "tvmonitor"] if not outdoor else \
        ["car", "car", "bus", "chair", "pottedplant"]
    for _ in range(int(rng.integers(0 if people else 1, 3))):
        kind = str(rng.choice(others))
        radius = {"car": 2.3, "bus": 6.0, "diningtable": 0.9, "sofa": 1.0}.get(kind, 0.4)
        spot = b.free_spot(radius, (4.0, 11.0) if kind in ("car", "bus") else (2.2, 5.5), 0.9)
        if spot is None:
            continue
        if kind in ("car", "bus"):
            _car(b, *spot, bus=kind == "bus")
        elif kind == "chair":
            _chair(b, *spot)
        elif kind == "diningtable":
            _table(b, *spot)
        elif kind == "sofa":
            _sofa(b, *spot)
        elif kind == "tvmonitor":
            _monitor(b, spot[0], spot[1], 0.0)
        else:
            _plant(b, *spot)
    camera = Camera(np.array([0.0, float(rng.uniform(1.1, 1.8)), 0.0]),
                    float(np.radians(rng.uniform(-8.0, 8.0))),
                    float(np.radians(rng.uniform(2.0, 12.0))), height, width, HFOV_DEG)
    sky = (jitter_color(rng, (0.82, 0.86, 0.92), value=0.08),
           jitter_color(rng, (0.35, 0.52, 0.82), value=0.15))
    return PascalScene(b.scene, b.meta, camera, lighting, outdoor, sky)


def render_pascal(rng: np.random.Generator, height: int, width: int) -> dict:
    """One PASCAL-like sample: ``image`` H×W×3 float32 in [0, 1], ``semseg`` (VOC 0…20),
    ``context`` (459-class ids), ``instance`` (−1 = none), ``part`` (index into
    :data:`PERSON_PARTS`, −1 = none) H×W int, ``normals`` H×W×3 unit (camera frame),
    ``saliency`` H×W bool, and ``objects`` (class name per instance)."""
    ps = build_pascal(rng, height, width)
    scene, cam, meta = ps.scene, ps.camera, ps.meta
    trace = scene.trace(cam)
    hit = trace.hit
    idx = np.maximum(trace.index, 0)
    voc = np.asarray(meta.voc)[idx]
    context = np.asarray(meta.context)[idx]
    if not ps.outdoor:  # the room box (primitive 0): its floor face is floor, the rest wall
        room = trace.index == 0
        context = np.where(room & (trace.face == 2), CONTEXT["floor"], context)
    instance = np.asarray(meta.instance)[idx]
    part_index = np.array([PERSON_PARTS.index(p) if p else -1 for p in meta.part])[idx]
    d = trace.rays / np.linalg.norm(trace.rays, axis=-1, keepdims=True)
    up = np.sqrt(np.clip(d[..., 1], 0.0, 1.0))[..., None]
    sky = np.asarray(ps.sky[0]) * (1 - up) + np.asarray(ps.sky[1]) * up
    image = develop(radiance(scene, trace, ps.lighting, background=sky ** GAMMA * 1.4), rng,
                    key=float(rng.uniform(0.17, 0.24)))
    normals = cam.to_camera(trace.normal_world)
    normals[~hit] = (0.0, 0.0, -1.0)
    return {
        "image": image,
        "semseg": np.where(hit, voc, 0).astype(np.int64),
        "context": np.where(hit, context, CONTEXT["sky"]).astype(np.int64),
        "instance": np.where(hit, instance, -1).astype(np.int64),
        "part": np.where(hit, part_index, -1).astype(np.int64),
        "normals": normals.astype(np.float32),
        "saliency": hit & (voc > 0),
        "objects": list(meta.objects),
    }
