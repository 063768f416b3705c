"""Shading: textured albedo, Lambertian lighting with cast shadows, and a simple camera model.

Radiance of a pixel that sees surface point ``p`` with unit normal ``n`` (facing the camera) and
display-space albedo ``a`` (linear albedo ``ρ = a^2.2``)::

    L = ρ ⊙ ( A · (1 − h + h·(1 + n_y)/2)  +  Σ_l c_l · E_l · max(0, n·l̂) · V_l(p) )  +  e · w · ρ

with ambient colour ``A`` and hemisphere weight ``h`` (surfaces facing up see more of the
bright ceiling/sky), per light colour ``c_l`` and strength ``E_l`` — a point light at ``x_l``
falls off as ``E / (r0² + |x_l − p|²)``, the sun does not — visibility ``V_l ∈ {0, 1}`` from a
shadow ray towards the light (:func:`geometry.occluded`), and emission ``e`` times the pattern's
emissive weight ``w``. The camera then applies auto-exposure ``k = key / median(luminance)``,
white-balance jitter, vignetting ``1 − v·r²`` (``r`` = distance from the centre, 1 at the
corners), gamma ``x^(1/2.2)``, Gaussian sensor noise, and clips to ``[0, 1]``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.data.render.geometry import occluded
from bench.data.render.scene import Scene, Trace
from bench.data.render.textures import Pattern, TexInput, evaluate

GAMMA = 2.2
Color = tuple[float, float, float]


@dataclass(frozen=True)
class PointLight:
    position: tuple[float, float, float]
    color: Color = (1.0, 1.0, 1.0)
    strength: float = 1.0
    r0: float = 0.5


@dataclass(frozen=True)
class SunLight:
    direction: tuple[float, float, float]  # towards the sun
    color: Color = (1.0, 1.0, 1.0)
    strength: float = 1.0


@dataclass
class Lighting:
    lights: list[PointLight | SunLight] = field(default_factory=list)
    ambient: Color = (0.3, 0.3, 0.3)
    hemisphere: float = 0.4
    shadows: bool = True


def jitter_color(rng: np.random.Generator, rgb: Sequence[float], value: float = 0.15,
                 hue: float = 0.03, sat: float = 0.15) -> Color:
    """``rgb`` with its HSV hue shifted by ``±hue``, saturation and value scaled by
    ``1 ± sat`` and ``1 ± value``."""
    h, s, v = colorsys.rgb_to_hsv(*(float(c) for c in rgb))
    jh, js, jv = rng.uniform(-1.0, 1.0, size=3)
    h = (h + hue * jh) % 1.0
    s = min(max(s * (1 + sat * js), 0.0), 1.0)
    v = min(max(v * (1 + value * jv), 0.0), 1.0)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (r, g, b)


def pick(rng: np.random.Generator, palette: Sequence[Color], **jitter: float) -> Color:
    """A jittered colour drawn from ``palette``."""
    return jitter_color(rng, palette[int(rng.integers(len(palette)))], **jitter)


def texture_inputs(scene: Scene, trace: Trace, pix: np.ndarray) -> TexInput:
    """Texture inputs of the pixels with flat indices ``pix`` (all must have a hit)."""
    idx = trace.index.reshape(-1)[pix]
    face = trace.face.reshape(-1)[pix]
    surf = idx * 6 + face
    centers, yaws, halves = scene.frames()
    point = trace.point.reshape(-1, 3)[pix]
    c, s = np.cos(yaws[idx]), np.sin(yaws[idx])
    dx = point[:, 0] - centers[idx, 0]
    dy = point[:, 1] - centers[idx, 1]
    dz = point[:, 2] - centers[idx, 2]
    qx, qz = c * dx - s * dz, s * dx + c * dz
    q = np.stack([qx, dy, qz], axis=1)
    hx, hy, hz = halves[idx, 0], halves[idx, 1], halves[idx, 2]
    axis = face // 2
    # face coordinates (s, t) from the face corner and the face size (S, T):
    # x-faces (z, y), y-faces (x, z), z-faces (x, y)
    on_x, on_y = axis == 0, axis == 1
    fs = np.where(on_x, qz + hz, qx + hx)
    size_s = 2 * np.where(on_x, hz, hx)
    ft = np.where(on_y, qz + hz, dy + hy)
    size_t = 2 * np.where(on_y, hz, hy)
    is_round = scene.round_flags()[idx]
    if is_round.any():
        fs[is_round] = hx[is_round] * (np.arctan2(qz[is_round], qx[is_round]) + np.pi)
        size_s[is_round] = 2 * np.pi * hx[is_round]
        ft[is_round] = dy[is_round] + hy[is_round]
        size_t[is_round] = 2 * hy[is_round]
    tab = scene.material_table()
    return TexInput(q=q, s=fs, t=ft, size_s=size_s, size_t=size_t, axis=axis, face=face,
                    color=tab["color"][surf], color2=tab["color2"][surf],
                    scale=tab["scale"][surf], amount=tab["amount"][surf],
                    params=tab["params"][surf], seed=tab["seed"][surf])


def surface_albedo(scene: Scene, trace: Trace) -> tuple[np.ndarray, np.ndarray]:
    """Display-space albedo ``(H, W, 3)`` and emission ``(H, W)`` (zero where no hit)."""
    shape = trace.index.shape
    albedo = np.zeros((trace.index.size, 3))
    emission = np.zeros(trace.index.size)
    surf = trace.surface.reshape(-1)
    hit = np.flatnonzero(surf >= 0)
    if hit.size:
        tab = scene.material_table()
        patterns = tab["pattern"][surf[hit]]
        order = np.argsort(patterns, kind="stable")
        bounds = np.flatnonzero(np.diff(patterns[order])) + 1
        for group in np.split(order, bounds):
            pix = hit[group]
            x = texture_inputs(scene, trace, pix)
            albedo[pix], weight = evaluate(Pattern(int(patterns[group[0]])), x)
            emission[pix] = tab["emission"][surf[pix]] * weight
    return albedo.reshape((*shape, 3)), emission.reshape(shape)


def irradiance(scene: Scene, trace: Trace, lighting: Lighting) -> np.ndarray:
    """``A·(1 − h + h(1 + n_y)/2) + Σ c_l E_l max(0, n·l̂) V_l`` per pixel ``(H, W, 3)``."""
    hit = trace.hit
    out = np.zeros((*hit.shape, 3))
    n = trace.normal_world[hit]
    p = trace.point[hit]
    hemi = 1.0 - lighting.hemisphere + lighting.hemisphere * 0.5 * (1.0 + n[:, 1])
    total = hemi[:, None] * np.asarray(lighting.ambient)
    casters = scene.shadow_casters() if lighting.shadows else []
    for light in lighting.lights:
        if isinstance(light, PointLight):
            to_l = np.asarray(light.position) - p
            dist2 = np.einsum("ij,ij->i", to_l, to_l)
            cos = np.einsum("ij,ij->i", n, to_l) / np.sqrt(dist2)
            e = light.strength * np.maximum(cos, 0.0) / (light.r0**2 + dist2)
            target, directional = np.asarray(light.position, float), False
        else:
            to_l = np.broadcast_to(np.asarray(light.direction, float), p.shape)
            to_l = to_l / np.linalg.norm(to_l, axis=1, keepdims=True)
            cos = np.einsum("ij,ij->i", n, to_l)
            e = light.strength * np.maximum(cos, 0.0)
            target, directional = np.asarray(light.direction, float), True
        lit = np.flatnonzero(e > 0)
        if casters and lit.size:
            origin = p[lit] + 1e-4 * n[lit]
            blocked = occluded(casters, origin, target, directional=directional)
            e[lit[blocked]] = 0.0
        total += e[:, None] * np.asarray(light.color)
    out[hit] = total
    return out


def radiance(scene: Scene, trace: Trace, lighting: Lighting,
             background: np.ndarray | None = None) -> np.ndarray:
    """Linear radiance ``(H, W, 3)``; ``background`` (linear) fills the pixels without a hit."""
    albedo, emission = surface_albedo(scene, trace)
    rho = albedo**GAMMA
    rad = rho * (irradiance(scene, trace, lighting) + emission[..., None])
    if background is not None:
        rad = np.where(trace.hit[..., None], rad, background)
    return rad


def develop(rad: np.ndarray, rng: np.random.Generator, *, key: float = 0.2,
            vignette: tuple[float, float] = (0.1, 0.35),
            noise: tuple[float, float] = (0.004, 0.02)) -> np.ndarray:
    """Camera model: exposure, white balance, vignetting, gamma, sensor noise; float32 in [0,1]."""
    h, w = rad.shape[:2]
    lum = rad @ np.array([0.2126, 0.7152, 0.0722])
    k = key * rng.uniform(0.8, 1.25) / max(float(np.median(lum)), 1e-4)
    balance = 1.0 + rng.normal(0.0, 0.03, size=3)
    yy, xx = np.mgrid[0:h, 0:w]
    r2 = ((xx + 0.5 - w / 2) ** 2 + (yy + 0.5 - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    vig = 1.0 - rng.uniform(*vignette) * r2
    lin = np.clip(rad * (k * balance) * vig[..., None], 0.0, None)
    img = lin ** (1.0 / GAMMA)
    img = img + rng.normal(0.0, rng.uniform(*noise), size=img.shape)
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def render_image(scene: Scene, trace: Trace, lighting: Lighting, rng: np.random.Generator,
                 background: np.ndarray | None = None, key: float = 0.2) -> np.ndarray:
    """Shade a trace and develop it into an ``H×W×3`` float32 image in ``[0, 1]``."""
    return develop(radiance(scene, trace, lighting, background), rng, key=key)
