"""Vectorised ray casting of analytic primitives (numpy, float64).

World frame: ``y`` is up, ``x`` and ``z`` are horizontal. A ray is ``r(t) = o + t·d`` for
``t > 0``; ``d`` need not have unit length (the camera uses directions whose camera-frame ``z``
is 1, so that ``t`` *is* the depth). Rays are held as separate contiguous component arrays
(:class:`Rays`), which keeps every operation a fast element-wise numpy loop over all rays; the
only Python loops are over primitives.

Casting is done in two passes (:func:`cast`): a z-buffer pass that only solves for the hit
parameter ``t`` of each primitive (``inf`` on a miss; only ``t > EPS`` counts) and keeps the
nearest, then a surface pass that computes, for the pixels each primitive won, the world-space
unit normal at the hit point ``p = o + t·d`` turned to face the ray origin (``n·d ≤ 0``) and a
face index (which side of a box, mantle or cap of a cylinder), so that class labels and materials
can differ per face.

Yaw rotations are about the world ``y`` axis: ``M(ψ)`` maps local to world coordinates with
``M(ψ)·(0, 0, 1) = (sin ψ, 0, cos ψ)`` and ``M(ψ)·(1, 0, 0) = (cos ψ, 0, −sin ψ)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

EPS = 1e-6
_TINY = 1e-12

Arr = np.ndarray
Surface = tuple[Arr, Arr, Arr, Arr]  # nx, ny, nz, face


def yaw_matrix(yaw: float) -> np.ndarray:
    """``M(ψ)``: the local→world rotation about the ``y`` axis (world→local is ``Mᵀ``)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _safe(d: Arr) -> Arr:
    """Direction components with exact zeros nudged to ±1e-12 so that ``1/d`` is finite."""
    return np.where(np.abs(d) < _TINY, np.where(d < 0, -_TINY, _TINY), d)


class Rays:
    """A bundle of rays as component arrays: origin ``(ox, oy, oz)`` (floats or arrays of the
    bundle's shape) and direction ``(dx, dy, dz)`` with zeros nudged away (see :func:`_safe`)."""

    def __init__(self, origin: Arr, direction: Arr) -> None:
        origin = np.asarray(origin, float)
        direction = np.asarray(direction, float)
        if origin.ndim == 1:
            self.ox, self.oy, self.oz = (float(v) for v in origin)
        else:
            self.ox, self.oy, self.oz = (np.ascontiguousarray(origin[..., k]) for k in range(3))
        self.dx, self.dy, self.dz = (_safe(np.ascontiguousarray(direction[..., k]))
                                     for k in range(3))
        self._inv: tuple[Arr, Arr, Arr] | None = None

    @classmethod
    def _from(cls, o: tuple, d: tuple) -> Rays:
        r = cls.__new__(cls)
        r.ox, r.oy, r.oz = o
        r.dx, r.dy, r.dz = d
        r._inv = None
        return r

    @property
    def inv(self) -> tuple[Arr, Arr, Arr]:
        """``(1/dx, 1/dy, 1/dz)``, computed once."""
        if self._inv is None:
            self._inv = (1.0 / self.dx, 1.0 / self.dy, 1.0 / self.dz)
        return self._inv

    @property
    def shape(self) -> tuple[int, ...]:
        return self.dx.shape

    def select(self, key: tuple[slice, ...] | Arr) -> Rays:
        """Sub-bundle ``rays[key]`` (slices give views, index arrays copies)."""
        o = tuple(v if isinstance(v, float) else v[key] for v in (self.ox, self.oy, self.oz))
        out = Rays._from(o, (self.dx[key], self.dy[key], self.dz[key]))
        if self._inv is not None:
            out._inv = tuple(v[key] for v in self._inv)  # type: ignore[assignment]
        return out

    def at(self, t: Arr) -> tuple[Arr, Arr, Arr]:
        """Points ``o + t·d``."""
        return self.ox + t * self.dx, self.oy + t * self.dy, self.oz + t * self.dz


class Primitive:
    """Base class of the shapes.

    ``distance(rays)`` is the smallest hit parameter ``t > EPS`` per ray (``inf`` on a miss);
    ``surface(p, rays)`` the outward (or, for a room, inward) unit normal and face index at known
    hit points; ``bounds()`` the world AABB (``None`` = unbounded); ``frame()`` the texture frame
    ``(centre, yaw, half_extents)``: a hit point ``p`` has local coordinates
    ``q = M(ψ)ᵀ (p − centre)`` inside the local box of half sizes ``half_extents``.
    """

    is_round: bool = False  # textured in cylindrical coordinates (spheres, cylinders)

    def distance(self, rays: Rays) -> Arr:
        raise NotImplementedError

    def surface(self, p: tuple[Arr, Arr, Arr], rays: Rays) -> Surface:
        raise NotImplementedError

    def bounds(self) -> tuple[Arr, Arr] | None:
        raise NotImplementedError

    def frame(self) -> tuple[Arr, float, Arr]:
        raise NotImplementedError


@dataclass(frozen=True)
class Plane(Primitive):
    """Infinite plane ``{p : n·(p − p0) = 0}`` (two-sided).

    ``t = n·(p0 − o) / (n·d)``; a hit needs ``t > EPS``. Normal ``n`` (flipped to face the ray
    by :func:`cast`). Face: ``2k + 1`` with ``k`` the axis of the largest ``|n_k|`` (a horizontal
    plane is textured like the top of a box). Texture frame: centred at ``p0``.
    """

    point: tuple[float, float, float]
    normal: tuple[float, float, float] = (0.0, 1.0, 0.0)

    def _n(self) -> Arr:
        n = np.asarray(self.normal, float)
        return n / np.linalg.norm(n)

    def distance(self, rays: Rays) -> Arr:
        n = self._n()
        p0 = np.asarray(self.point, float)
        nd = _safe(n[0] * rays.dx + n[1] * rays.dy + n[2] * rays.dz)
        num = n[0] * (p0[0] - rays.ox) + n[1] * (p0[1] - rays.oy) + n[2] * (p0[2] - rays.oz)
        t = num / nd
        return np.where(t > EPS, t, np.inf)

    def surface(self, p: tuple[Arr, Arr, Arr], rays: Rays) -> Surface:
        n = self._n()
        one = np.ones_like(p[0])
        face = np.full(p[0].shape, 2 * int(np.argmax(np.abs(n))) + 1, np.int64)
        return n[0] * one, n[1] * one, n[2] * one, face

    def bounds(self) -> None:
        return None

    def frame(self) -> tuple[Arr, float, Arr]:
        return np.asarray(self.point, float), 0.0, np.zeros(3)


@dataclass(frozen=True)
class Box(Primitive):
    """Box with centre ``c``, half extents ``h`` and yaw ``ψ``; solid or seen from inside.

    Slab method in the local frame (``o' = Mᵀ(o − c)``, ``d' = Mᵀd``): for each axis ``k`` the ray
    is between the two planes ``±h_k`` for ``t`` in ``[min(t1, t2), max(t1, t2)]`` with
    ``t1 = (−h_k − o'_k)/d'_k`` and ``t2 = (h_k − o'_k)/d'_k``. With ``t_near`` the largest lower
    bound and ``t_far`` the smallest upper bound, a solid box is hit at ``t_near`` if
    ``t_near ≤ t_far`` and ``t_near > EPS``; an ``inside`` box (a room around the camera) is hit at
    ``t_far``. At the hit ``q = Mᵀ(p − c)`` the face axis is ``k = argmax |q_k|/h_k`` and the normal
    ``sign(q_k)·M e_k`` (outward), negated for an inside box. Faces: ``2k`` for the ``−h_k`` side,
    ``2k+1`` for ``+h_k`` (0/1: x, 2/3: y = bottom/top, 4/5: z).
    """

    center: tuple[float, float, float]
    half: tuple[float, float, float]
    yaw: float = 0.0
    inside: bool = False

    def _local(self, rays: Rays) -> tuple[tuple, tuple[Arr, Arr, Arr]]:
        cx, cy, cz = self.center
        ox, oy, oz = rays.ox - cx, rays.oy - cy, rays.oz - cz
        if self.yaw == 0.0:
            return (ox, oy, oz), rays.inv
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        dx = _safe(c * rays.dx - s * rays.dz)
        dz = _safe(s * rays.dx + c * rays.dz)
        return (c * ox - s * oz, oy, s * ox + c * oz), (1.0 / dx, rays.inv[1], 1.0 / dz)

    def distance(self, rays: Rays) -> Arr:
        o, inv = self._local(rays)
        lo = hi = None
        for k in range(3):
            t1 = (-self.half[k] - o[k]) * inv[k]
            t2 = (self.half[k] - o[k]) * inv[k]
            a, b = np.minimum(t1, t2), np.maximum(t1, t2)
            lo = a if lo is None else np.maximum(lo, a)
            hi = b if hi is None else np.minimum(hi, b)
        if self.inside:
            return np.where((hi > EPS) & (lo <= hi), hi, np.inf)
        return np.where((lo > EPS) & (lo <= hi), lo, np.inf)

    def surface(self, p: tuple[Arr, Arr, Arr], rays: Rays) -> Surface:
        c, s = np.cos(self.yaw), np.sin(self.yaw)
        x, y, z = p[0] - self.center[0], p[1] - self.center[1], p[2] - self.center[2]
        q = (c * x - s * z, y, s * x + c * z)
        r = [np.abs(q[k]) / self.half[k] for k in range(3)]
        axis = np.where((r[0] >= r[1]) & (r[0] >= r[2]), 0, np.where(r[1] >= r[2], 1, 2))
        qa = np.where(axis == 0, q[0], np.where(axis == 1, q[1], q[2]))
        positive = qa > 0
        sign = np.where(positive, 1.0, -1.0) * (-1.0 if self.inside else 1.0)
        nl = [np.where(axis == k, sign, 0.0) for k in range(3)]
        # local → world: M·n
        nx = c * nl[0] + s * nl[2]
        nz = -s * nl[0] + c * nl[2]
        return nx, nl[1], nz, 2 * axis + positive

    def bounds(self) -> tuple[Arr, Arr]:
        ext = np.abs(yaw_matrix(self.yaw)) @ np.asarray(self.half, float)
        c = np.asarray(self.center, float)
        return c - ext, c + ext

    def frame(self) -> tuple[Arr, float, Arr]:
        return np.asarray(self.center, float), float(self.yaw), np.asarray(self.half, float)


@dataclass(frozen=True)
class Sphere(Primitive):
    """Sphere ``|p − c| = r`` (solid).

    With ``a = d·d``, ``b = d·(o − c)``, ``k = |o − c|² − r²`` the roots of
    ``a t² + 2 b t + k = 0`` are ``t = (−b ∓ √(b² − a k)) / a``; the near root is the entry point.
    Normal ``(p − c)/r``. Faces: 0.
    """

    center: tuple[float, float, float]
    radius: float
    is_round = True

    def distance(self, rays: Rays) -> Arr:
        ox, oy, oz = rays.ox - self.center[0], rays.oy - self.center[1], rays.oz - self.center[2]
        dx, dy, dz = rays.dx, rays.dy, rays.dz
        a = dx * dx + dy * dy + dz * dz
        b = dx * ox + dy * oy + dz * oz
        k = ox * ox + oy * oy + oz * oz - self.radius**2
        disc = b * b - a * k
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
        return np.where((disc >= 0) & (t > EPS), t, np.inf)

    def surface(self, p: tuple[Arr, Arr, Arr], rays: Rays) -> Surface:
        x, y, z = p[0] - self.center[0], p[1] - self.center[1], p[2] - self.center[2]
        n = np.maximum(np.sqrt(x * x + y * y + z * z), _TINY)
        return x / n, y / n, z / n, np.zeros(x.shape, np.int64)

    def bounds(self) -> tuple[Arr, Arr]:
        c = np.asarray(self.center, float)
        return c - self.radius, c + self.radius

    def frame(self) -> tuple[Arr, float, Arr]:
        return np.asarray(self.center, float), 0.0, np.full(3, float(self.radius))


@dataclass(frozen=True)
class Cylinder(Primitive):
    """Vertical capped cylinder: axis through ``(x, z)``, radius ``r``, ``y`` in ``[y0, y1]``.

    The ray is inside the infinite mantle for ``t`` between the roots of
    ``a t² + 2 b t + k = 0`` with ``a = d_x² + d_z²``, ``b = d_x (o_x − x) + d_z (o_z − z)``,
    ``k = (o_x − x)² + (o_z − z)² − r²`` (for ``a ≈ 0``: always if ``k < 0``, else never) and
    inside the slab ``y0 ≤ y ≤ y1`` for ``t`` between ``(y0 − o_y)/d_y`` and ``(y1 − o_y)/d_y``;
    the hit is the start of the intersection of both intervals (a convex solid). Normal: radial
    ``(p_x − x, 0, p_z − z)/r`` on the mantle, ``±e_y`` on a cap (whichever surface ``p`` is
    nearest). Faces: 0 mantle, 2 bottom cap, 3 top cap (numbered like a box's ``y`` faces).
    """

    x: float
    z: float
    y0: float
    y1: float
    radius: float
    is_round = True

    def distance(self, rays: Rays) -> Arr:
        ox, oz = rays.ox - self.x, rays.oz - self.z
        dx, dz = rays.dx, rays.dz
        a = dx * dx + dz * dz
        b = dx * ox + dz * oz
        k = ox * ox + oz * oz - self.radius**2
        disc = b * b - a * k
        root = np.sqrt(np.maximum(disc, 0.0))
        flat = a < _TINY
        a_safe = np.where(flat, 1.0, a)
        inside_axis = k < 0
        c0 = np.where(flat, np.where(inside_axis, -np.inf, np.inf), (-b - root) / a_safe)
        c1 = np.where(flat, np.where(inside_axis, np.inf, -np.inf), (-b + root) / a_safe)
        inv = rays.inv[1]
        ty0 = (self.y0 - rays.oy) * inv
        ty1 = (self.y1 - rays.oy) * inv
        t_near = np.maximum(c0, np.minimum(ty0, ty1))
        t_far = np.minimum(c1, np.maximum(ty0, ty1))
        ok = (flat | (disc >= 0)) & (t_near <= t_far) & (t_near > EPS)
        return np.where(ok, t_near, np.inf)

    def surface(self, p: tuple[Arr, Arr, Arr], rays: Rays) -> Surface:
        x, z = p[0] - self.x, p[2] - self.z
        rho = np.maximum(np.sqrt(x * x + z * z), _TINY)
        d_bottom, d_top = np.abs(p[1] - self.y0), np.abs(p[1] - self.y1)
        cap = np.minimum(d_bottom, d_top) < np.abs(rho - self.radius)
        top = d_top < d_bottom
        ny = np.where(cap, np.where(top, 1.0, -1.0), 0.0)
        nx = np.where(cap, 0.0, x / rho)
        nz = np.where(cap, 0.0, z / rho)
        return nx, ny, nz, np.where(cap, np.where(top, 3, 2), 0)

    def bounds(self) -> tuple[Arr, Arr]:
        r = self.radius
        return (np.array([self.x - r, self.y0, self.z - r]),
                np.array([self.x + r, self.y1, self.z + r]))

    def frame(self) -> tuple[Arr, float, Arr]:
        mid = 0.5 * (self.y0 + self.y1)
        return (np.array([self.x, mid, self.z]), 0.0,
                np.array([self.radius, 0.5 * (self.y1 - self.y0), self.radius]))


class RayHits(NamedTuple):
    """Nearest hit over a list of primitives: ``t`` (inf = none), index (−1), face, normal."""

    t: Arr
    index: Arr
    face: Arr
    normal: Arr


Window = tuple[int, int, int, int]


def cast(prims: list[Primitive], origin: Arr, dirs: Arr,
         windows: list[Window | None] | None = None) -> RayHits:
    """Nearest hit of the rays ``origin + t·dirs`` over ``prims`` (z-buffer over primitives).

    ``dirs`` has shape ``(H, W, 3)`` or ``(N, 3)``; ``origin`` is one point ``(3,)`` or one per
    ray. ``windows[k]`` optionally restricts primitive ``k`` to the image rows ``v0:v1`` and
    columns ``u0:u1`` of an ``(H, W, 3)`` bundle (a conservative screen-space bound, see
    :meth:`Camera.window`); ``None`` there means "all rays". Ties keep the earlier primitive.
    The normal is flipped where needed so that ``n·d ≤ 0`` (it faces the ray origin).
    """
    rays = Rays(origin, dirs)
    rays.inv  # noqa: B018 - computed once for the whole bundle, shared by the windows
    shape = rays.shape
    best_t = np.full(shape, np.inf)
    best_i = np.full(shape, -1, np.int64)
    for k, prim in enumerate(prims):
        win = windows[k] if windows is not None else None
        if win is None:
            sub, bt, bi = rays, best_t, best_i
        else:
            v0, v1, u0, u1 = win
            if v1 <= v0 or u1 <= u0:
                continue
            sl = (slice(v0, v1), slice(u0, u1))
            sub, bt, bi = rays.select(sl), best_t[sl], best_i[sl]
        t = prim.distance(sub)
        closer = t < bt
        np.copyto(bt, t, where=closer)
        np.copyto(bi, k, where=closer)
    face, normal = surfaces(prims, rays, best_t, best_i)
    return RayHits(best_t, best_i, face, normal)


def surfaces(prims: list[Primitive], rays: Rays, t: Arr, index: Arr) -> tuple[Arr, Arr]:
    """Face index and facing unit normal ``(..., 3)`` at the hits ``t`` of primitives ``index``."""
    flat_i = index.reshape(-1)
    order = np.argsort(flat_i, kind="stable")
    starts = np.searchsorted(flat_i[order], np.arange(-1, len(prims) + 1))
    n = np.zeros((flat_i.size, 3))
    face = np.zeros(flat_i.size, np.int64)
    flat_rays = Rays._from(
        tuple(v if isinstance(v, float) else v.reshape(-1) for v in (rays.ox, rays.oy, rays.oz)),
        (rays.dx.reshape(-1), rays.dy.reshape(-1), rays.dz.reshape(-1)))
    flat_t = t.reshape(-1)
    for k, prim in enumerate(prims):
        pix = order[starts[k + 1]:starts[k + 2]]
        if pix.size == 0:
            continue
        sub = flat_rays.select(pix)
        nx, ny, nz, f = prim.surface(sub.at(flat_t[pix]), sub)
        facing = np.where(nx * sub.dx + ny * sub.dy + nz * sub.dz > 0, -1.0, 1.0)
        n[pix, 0], n[pix, 1], n[pix, 2] = nx * facing, ny * facing, nz * facing
        face[pix] = f
    return face.reshape(t.shape), n.reshape((*t.shape, 3))


def _bounding_spheres(prims: list[Primitive]) -> tuple[Arr, Arr, Arr]:
    """Centres ``(P, 3)``, radii and a bounded flag of the primitives' AABB bounding spheres."""
    centers = np.zeros((len(prims), 3))
    radii = np.full(len(prims), np.inf)
    bounded = np.zeros(len(prims), bool)
    for k, prim in enumerate(prims):
        b = prim.bounds()
        if b is not None:
            centers[k] = 0.5 * (b[0] + b[1])
            radii[k] = 0.5 * float(np.linalg.norm(b[1] - b[0]))
            bounded[k] = True
    return centers, radii, bounded


def occluded(prims: list[Primitive], origins: Arr, target: Arr, *,
             directional: bool) -> Arr:
    """Shadow rays: whether the segment from each origin ``(N, 3)`` to a point light ``target``
    (``directional=False``), or the ray towards the sun direction ``target``
    (``directional=True``), hits any primitive (for ``EPS < t < 1``, resp. ``t > EPS``).

    Culling with bounding spheres ``(c, ρ)``. Sun: the rays are parallel, so they are sorted by
    their coordinate ``a = o·e₁`` across the direction (``e₁ ⊥ s``); a sphere can only block rays
    with ``|a − c·e₁| < ρ`` (a binary search) whose distance to ``c`` across ``s`` is below ``ρ``
    and that do not start beyond it (``(c − o)·s > −ρ``). Point light ``L``: the rays leave
    ``L`` backwards along unit directions ``w = (o − L)/|o − L|``, sorted by elevation
    ``φ = asin w_y``; a sphere at distance ``D`` from ``L`` subtends the half angle
    ``α = asin(ρ/D)``, so only rays with ``|φ − φ_c| ≤ α`` and ``w·w_c ≥ cos α`` and
    ``|o − L| > D − ρ`` can be blocked (all of them if ``L`` is inside the sphere).
    """
    n = len(origins)
    blocked = np.zeros(n, bool)
    if n == 0 or not prims:
        return blocked
    centers, radii, bounded = _bounding_spheres(prims)
    target = np.asarray(target, float)
    if directional:
        s = target / np.linalg.norm(target)
        helper = np.array([1.0, 0.0, 0.0]) if abs(s[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
        e1 = np.cross(s, helper)
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(s, e1)
        key = origins @ e1
        b2 = origins @ e2
        along = origins @ s
        dirs = np.broadcast_to(s, origins.shape)
        t_max = np.inf
    else:
        rel = origins - target
        dist = np.linalg.norm(rel, axis=1)
        w = rel / np.maximum(dist, _TINY)[:, None]
        key = np.arcsin(np.clip(w[:, 1], -1.0, 1.0))
        dirs = target - origins
        t_max = 1.0
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    for k, prim in enumerate(prims):
        if not bounded[k]:
            cand = np.flatnonzero(~blocked)
        elif directional:
            c, rho = centers[k], radii[k]
            lo, hi = np.searchsorted(key_sorted, [c @ e1 - rho, c @ e1 + rho])
            cand = order[lo:hi]
            cand = cand[~blocked[cand]]
            cand = cand[(np.abs(b2[cand] - c @ e2) < rho) & (along[cand] < c @ s + rho)]
        else:
            c, rho = centers[k] - target, radii[k]
            d = float(np.linalg.norm(c))
            if d <= rho:
                cand = np.flatnonzero(~blocked)
            else:
                alpha = float(np.arcsin(rho / d))
                phi = float(np.arcsin(np.clip(c[1] / d, -1.0, 1.0)))
                lo, hi = np.searchsorted(key_sorted, [phi - alpha, phi + alpha])
                cand = order[lo:hi]
                cand = cand[~blocked[cand]]
                cand = cand[(w[cand] @ (c / d) >= np.cos(alpha) - 1e-9) & (dist[cand] > d - rho)]
        if cand.size == 0:
            continue
        sub = Rays(origins[cand], dirs[cand])
        t = prim.distance(sub)
        blocked[cand[t < t_max]] = True
    return blocked
