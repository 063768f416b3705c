"""Procedural textures evaluated at the 3-D hit point, in the hit object's own frame.

A texture is a function of the local hit coordinates ``q`` (see :meth:`Primitive.frame`) and of
face coordinates ``(s, t)``: on a box face with normal axis ``k`` the two other local axes,
measured from the face's corner (``s`` horizontal, ``t`` vertical on walls, ``(x, z)`` on floors
and tops), with the face's size ``(S, T)``. So patterns stick to the geometry: they move,
foreshorten and scale with the surface, never with the screen.

Noise is value noise: pseudo-random values ``h(i) ∈ [0, 1)`` on the integer lattice (an integer
hash of the lattice point and a seed) blended with the smoothstep weights ``w = f²(3 − 2f)`` of
the fractional coordinates ``f``; fBm sums octaves ``Σ_k 2^−k · noise(2^k x)`` (normalised).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Pattern(IntEnum):
    PLAIN = 0      # colour · (1 ± amount·noise)
    NOISE = 1      # mix(colour, colour2, fBm(q / scale))
    STRIPES = 2    # params[0]: 0 = along s (vertical stripes), 1 = along t; params[1]: hardness
    CHECKER = 3    # square tiles of side ``scale`` with darker grout
    PLANKS = 4     # floor boards ``scale`` wide, params[0] long, random tone per board
    WOOD = 5       # growth rings around the local y axis, ring spacing ``scale``
    SPINES = 6     # book spines ``scale`` wide with random colours; paper on top faces
    PAINTING = 7   # fBm colour field of three colours inside a frame (params: width, rgb)
    SCREEN = 8     # dark screen in a bezel (params[0]: bezel width, params[1]: 1 = switched on)
    WINDOW = 9     # bright glass with frame and mullions (params: frame, vbar, hbar, frame grey)
    FACADE = 10    # wall with a grid of windows (params: storey, window w, spacing, h fraction)
    ROAD = 11      # asphalt with lane markings (params: half width, lane width)
    GLASS = 12     # dark reflective glass with a vertical gradient; roof in colour2
    LEAVES = 13    # foliage: high-contrast fBm with dark gaps
    LAMPS = 14     # traffic light housing with three lamps (params[0]: lit lamp 0/1/2)
    SIGN = 15      # sign panel with a border on the front face (params[0]: border, [1]: face)


@dataclass(frozen=True)
class Material:
    """Surface description: albedo colours (display space, 0–1), pattern and its parameters.

    ``emission`` is the self-lit part (windows, screens, lamps): it is added to the shaded
    radiance as ``emission · albedo`` times the emissive weight the pattern returns.
    """

    color: tuple[float, float, float]
    pattern: Pattern = Pattern.PLAIN
    color2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0
    amount: float = 0.1
    emission: float = 0.0
    params: tuple[float, ...] = ()
    seed: int = 0


N_PARAMS = 4


@dataclass
class TexInput:
    """Per-pixel inputs of the pattern functions (all arrays have the same first axis ``N``)."""

    q: np.ndarray        # (N, 3) local coordinates
    s: np.ndarray        # (N,) face coordinate from the face corner
    t: np.ndarray        # (N,) face coordinate from the face corner (height on walls)
    size_s: np.ndarray   # (N,) face extent along s
    size_t: np.ndarray   # (N,) face extent along t
    axis: np.ndarray     # (N,) local axis of the face normal (0, 1, 2)
    face: np.ndarray     # (N,) face index
    color: np.ndarray    # (N, 3)
    color2: np.ndarray   # (N, 3)
    scale: np.ndarray    # (N,)
    amount: np.ndarray   # (N,)
    params: np.ndarray   # (N, N_PARAMS)
    seed: np.ndarray     # (N,) uint32


# -- noise ----------------------------------------------------------------------------------------
_PRIMES = (0x9E3779B1, 0x85EBCA77, 0xC2B2AE3D, 0x27D4EB2F, 0x165667B1)


def _finalise(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit avalanche finaliser (in place on a uint32 array)."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def _u32(v: np.ndarray | int) -> np.ndarray:
    return np.asarray(v).astype(np.int64).astype(np.uint32)


def hash_u32(seed: np.ndarray, *coords: np.ndarray | int) -> np.ndarray:
    """Integer hash of lattice coordinates: ``finalise(Σ_k P_k·c_k mod 2³²)`` (odd primes ``P``)."""
    h = _u32(seed) * np.uint32(_PRIMES[0])
    for k, c in enumerate(coords):
        h = h + _u32(c) * np.uint32(_PRIMES[1 + k % 4])
    return _finalise(np.array(h, dtype=np.uint32, copy=True))


def hash01(seed: np.ndarray, *coords: np.ndarray | int) -> np.ndarray:
    """Hash mapped to ``[0, 1)``."""
    return hash_u32(seed, *coords).astype(np.float64) * (1.0 / 4294967296.0)


def _smooth(f: np.ndarray) -> np.ndarray:
    return f * f * (3.0 - 2.0 * f)


def _corner(base: np.ndarray, offset: int) -> np.ndarray:
    return _finalise(base + np.uint32(offset)).astype(np.float64) * (1.0 / 4294967296.0)


def value_noise2(x: np.ndarray, y: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """2-D value noise in ``[0, 1)``: bilinear blend (smoothstep weights) of lattice hashes."""
    fx, fy = np.floor(x), np.floor(y)
    wx, wy = _smooth(x - fx), _smooth(y - fy)
    base = (_u32(seed) * np.uint32(_PRIMES[0]) + _u32(fx) * np.uint32(_PRIMES[1])
            + _u32(fy) * np.uint32(_PRIMES[2]))
    px, py = _PRIMES[1], _PRIMES[2]
    h00, h10 = _corner(base, 0), _corner(base, px)
    h01, h11 = _corner(base, py), _corner(base, (px + py) % 2**32)
    a = h00 + wx * (h10 - h00)
    b = h01 + wx * (h11 - h01)
    return a + wy * (b - a)


def value_noise3(p: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """3-D value noise in ``[0, 1)``: trilinear blend (smoothstep weights) of lattice hashes."""
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    fx, fy, fz = np.floor(x), np.floor(y), np.floor(z)
    wx, wy, wz = _smooth(x - fx), _smooth(y - fy), _smooth(z - fz)
    px, py, pz = _PRIMES[1], _PRIMES[2], _PRIMES[3]
    base = (_u32(seed) * np.uint32(_PRIMES[0]) + _u32(fx) * np.uint32(px)
            + _u32(fy) * np.uint32(py) + _u32(fz) * np.uint32(pz))
    out = 0.0
    for dz in (0, 1):
        plane = 0.0
        for dy in (0, 1):
            off = (dy * py + dz * pz) % 2**32
            a = _corner(base, off)
            b = _corner(base, (off + px) % 2**32)
            plane = plane + (a + wx * (b - a)) * (wy if dy else 1.0 - wy)
        out = out + plane * (wz if dz else 1.0 - wz)
    return out


def fbm2(x: np.ndarray, y: np.ndarray, seed: np.ndarray, octaves: int = 3) -> np.ndarray:
    """Fractal sum of 2-D value noise, normalised to ``[0, 1)``."""
    total, norm, amp = 0.0, 0.0, 1.0
    for k in range(octaves):
        total = total + amp * value_noise2(x * 2**k, y * 2**k, seed + 101 * k)
        norm += amp
        amp *= 0.5
    return total / norm


def fbm3(p: np.ndarray, seed: np.ndarray, octaves: int = 2) -> np.ndarray:
    """Fractal sum of 3-D value noise, normalised to ``[0, 1)``."""
    total, norm, amp = 0.0, 0.0, 1.0
    for k in range(octaves):
        total = total + amp * value_noise3(p * 2**k, seed + 211 * k)
        norm += amp
        amp *= 0.5
    return total / norm


# -- patterns -------------------------------------------------------------------------------------
def _mix(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a + (b - a) * w[:, None]


def _sstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    return _smooth(np.clip((x - e0) / (e1 - e0), 0.0, 1.0))


def _edge_dist(x: TexInput) -> np.ndarray:
    return np.minimum(np.minimum(x.s, x.size_s - x.s), np.minimum(x.t, x.size_t - x.t))


def _plain(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    n = fbm3(x.q / x.scale[:, None], x.seed)
    return x.color * (1.0 + 2.0 * x.amount * (n - 0.5))[:, None], None


def _noise(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    n = fbm3(x.q / x.scale[:, None], x.seed)
    w = np.clip(0.5 + (n - 0.5) * (1.0 + 4.0 * x.amount), 0.0, 1.0)
    return _mix(x.color, x.color2, w), None


def _stripes(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    c = np.where(x.params[:, 0] > 0.5, x.t, x.s)
    w = 0.5 + 0.5 * np.sin(2 * np.pi * c / x.scale)
    hard = x.params[:, 1]
    w = (1 - hard) * w + hard * (w > 0.5)
    n = fbm3(x.q / 0.3, x.seed)
    return _mix(x.color, x.color2, w) * (1.0 + x.amount * (n - 0.5))[:, None], None


def _checker(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    a, b = x.s / x.scale, x.t / x.scale
    parity = (np.floor(a) + np.floor(b)) % 2
    grout = (np.minimum(a % 1, b % 1) < 0.04)
    col = _mix(x.color, x.color2, parity)
    n = fbm3(x.q / 0.2, x.seed)
    col = col * (1.0 + x.amount * (n - 0.5))[:, None]
    return np.where(grout[:, None], col * 0.6, col), None


def _planks(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    length = np.maximum(x.params[:, 0], 0.2)
    a = x.s / x.scale
    row = np.floor(a)
    along = x.t / length + hash01(x.seed, row, 7)
    board = np.floor(along)
    tone = hash01(x.seed, row, board)
    grain = value_noise2(a * 4.0, x.t * 0.7, x.seed + 3)
    col = _mix(x.color, x.color2, np.clip(0.7 * tone + 0.5 * grain - 0.1, 0, 1))
    seam = ((a % 1) < 0.05) | ((along % 1) < 0.01)
    return np.where(seam[:, None], col * 0.55, col), None


def _wood(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    r = np.hypot(x.q[:, 0] + 3.0, x.q[:, 1] * 0.2 + 2.0) / x.scale
    r = r + 1.5 * value_noise3(x.q * np.array([1.0, 6.0, 1.0]) * 2.0, x.seed)
    ring = (r % 1.0) ** 3
    return _mix(x.color, x.color2, ring * (0.4 + x.amount)), None


def _spines(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    a = x.s / x.scale
    idx = np.floor(a)
    rnd = np.stack([hash01(x.seed, idx, np.full_like(idx, k)) for k in range(3)], axis=1)
    bright = 0.35 + 0.6 * hash01(x.seed, idx, np.full_like(idx, 9))
    spine = 0.5 * x.color + 0.5 * rnd * bright[:, None]
    gap = (a % 1) < 0.1
    spine = np.where(gap[:, None], spine * 0.4, spine)
    lines = 0.85 + 0.15 * np.sin(2 * np.pi * x.s / 0.004)
    paper = x.color2 * lines[:, None]
    return np.where((x.axis == 1)[:, None], paper, spine), None


def _painting(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    n1 = fbm2(x.s / x.scale, x.t / x.scale, x.seed)
    n2 = fbm2(x.s / x.scale + 17.0, x.t / x.scale, x.seed + 5)
    third = np.stack([hash01(x.seed, np.full_like(x.s, k)) for k in range(3)], axis=1)
    col = _mix(_mix(x.color, x.color2, _sstep(0.35, 0.65, n1)), third, _sstep(0.55, 0.75, n2))
    frame = _edge_dist(x) < x.params[:, 0]
    return np.where(frame[:, None], x.params[:, 1:4], col), None


def _screen(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    inside = (_edge_dist(x) >= x.params[:, 0]) & (x.axis == 2)
    on = x.params[:, 1] > 0.5
    v = x.t / np.maximum(x.size_t, 1e-6)
    dark = x.color * (0.6 + 0.8 * v)[:, None]
    n = fbm2(x.s / 0.15, x.t / 0.15, x.seed)
    lit = np.stack([n, 1 - n, 0.5 + 0.5 * np.sin(6 * n)], axis=1) * 0.8 + 0.1
    screen = np.where(on[:, None], lit, dark)
    emit = (inside & on).astype(np.float64)
    return np.where(inside[:, None], screen, x.color2), emit


def _window(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    fw = x.params[:, 0]
    frame = _edge_dist(x) < fw
    vbar = (x.params[:, 1] > 0.5) & (np.abs(x.s - 0.5 * x.size_s) < 0.5 * fw)
    hbar = (x.params[:, 2] > 0.5) & (np.abs(x.t - 0.62 * x.size_t) < 0.5 * fw)
    solid = frame | vbar | hbar | (x.axis != 2)
    v = x.t / np.maximum(x.size_t, 1e-6)
    n = fbm2(x.s / 0.4, x.t / 0.4, x.seed)
    outdoor = _mix(x.color2, x.color, np.clip(0.35 + 0.9 * v - 0.5 * (n - 0.5), 0, 1))
    frame_col = np.repeat(x.params[:, 3:4], 3, axis=1)
    return np.where(solid[:, None], frame_col, outdoor), (~solid).astype(np.float64)


def _facade(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    storey, win_w, spacing, hfrac = (x.params[:, k] for k in range(4))
    n = fbm3(x.q / x.scale[:, None], x.seed)
    wall = x.color * (1.0 + 2.0 * x.amount * (n - 0.5))[:, None]
    a = (x.s - 0.5 * (x.size_s % spacing)) % spacing
    b = x.t % storey
    in_w = np.abs(a - 0.5 * spacing) < 0.5 * win_w
    in_h = np.abs(b - 0.55 * storey) < 0.5 * hfrac * storey
    ground = x.t < storey
    margin = (x.s > 0.6) & (x.s < x.size_s - 0.6) & (x.t < x.size_t - 0.8)
    win = in_w & in_h & margin & (x.axis != 1) & ~(ground & (hash01(x.seed, 3) < 0.5))
    frame = win & ((np.abs(a - 0.5 * spacing) > 0.5 * win_w - 0.1)
                   | (np.abs(b - 0.55 * storey) > 0.5 * hfrac * storey - 0.1))
    refl = hash01(x.seed, np.floor(x.s / spacing), np.floor(x.t / storey))
    glass = x.color2 * (0.6 + 0.8 * refl + 0.3 * (b / storey))[:, None]
    col = np.where(win[:, None], np.where(frame[:, None], 0.85 * np.ones(3), glass), wall)
    roof = x.axis == 1
    return np.where(roof[:, None], wall * 0.6, col), None


def _road(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    half, lane = x.params[:, 0], np.maximum(x.params[:, 1], 2.0)
    n = fbm3(x.q / x.scale[:, None], x.seed)
    asphalt = _mix(x.color, x.color2, np.clip(0.5 + 2.0 * (n - 0.5), 0, 1))
    lat = x.q[:, 0]
    edge = np.abs(np.abs(lat) - (half - 0.35)) < 0.08
    k = np.round(lat / lane)
    divider = (np.abs(lat - k * lane) < 0.07) & (np.abs(k * lane) < half - 1.0)
    dashed = (x.q[:, 2] % 9.0) < 3.0
    centre = np.abs(k) < 0.5
    paint = edge | (divider & (dashed | (centre & (x.params[:, 2] > 0.5))))
    return np.where(paint[:, None], 0.75 * np.ones(3), asphalt), None


def _glass(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    v = x.t / np.maximum(x.size_t, 1e-6)
    glass = x.color * (0.6 + 0.8 * v)[:, None]
    return np.where((x.axis == 1)[:, None], x.color2, glass), None


def _leaves(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    n = fbm3(x.q / x.scale[:, None], x.seed)
    col = _mix(x.color, x.color2, np.clip(0.5 + 3.0 * (n - 0.5), 0, 1))
    return np.where((n < 0.35)[:, None], col * 0.45, col), None


_LAMP_COLOURS = np.array([[1.0, 0.15, 0.1], [1.0, 0.75, 0.1], [0.2, 1.0, 0.4]])


def _lamps(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    k = np.clip(np.floor(3.0 * x.t / np.maximum(x.size_t, 1e-6)), 0, 2)
    cy = (2.0 - k + 0.5) * x.size_t / 3.0
    rad = 0.32 * np.minimum(x.size_s, x.size_t / 3.0)
    on_lamp = (np.hypot(x.s - 0.5 * x.size_s, x.t - cy) < rad) & (x.axis == 2)
    lit = on_lamp & (np.abs((2.0 - k) - x.params[:, 0]) < 0.5)
    lamp = _LAMP_COLOURS[(2 - k).astype(np.int64)]
    col = np.where(on_lamp[:, None], np.where(lit[:, None], lamp, lamp * 0.25), x.color)
    return col, lit.astype(np.float64)


def _sign(x: TexInput) -> tuple[np.ndarray, np.ndarray | None]:
    front = x.face == x.params[:, 1].astype(np.int64)
    border = _edge_dist(x) < x.params[:, 0] * np.minimum(x.size_s, x.size_t)
    col = np.where(border[:, None], x.color2, x.color)
    return np.where(front[:, None], col, np.full_like(col, 0.55)), None


_PATTERNS = {
    Pattern.PLAIN: _plain, Pattern.NOISE: _noise, Pattern.STRIPES: _stripes,
    Pattern.CHECKER: _checker, Pattern.PLANKS: _planks, Pattern.WOOD: _wood,
    Pattern.SPINES: _spines, Pattern.PAINTING: _painting, Pattern.SCREEN: _screen,
    Pattern.WINDOW: _window, Pattern.FACADE: _facade, Pattern.ROAD: _road,
    Pattern.GLASS: _glass, Pattern.LEAVES: _leaves, Pattern.LAMPS: _lamps, Pattern.SIGN: _sign,
}


def evaluate(pattern: Pattern, x: TexInput) -> tuple[np.ndarray, np.ndarray]:
    """Albedo ``(N, 3)`` in ``[0, 1]`` and emissive weight ``(N,)`` of one pattern."""
    albedo, emit = _PATTERNS[Pattern(pattern)](x)
    if emit is None:
        emit = np.ones(len(x.s))
    return np.clip(albedo, 0.0, 1.0), emit
