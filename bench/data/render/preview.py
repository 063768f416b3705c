"""Render a few synthetic samples to one PNG: image, labels, depth, normals.

Usage: ``python -m bench.data.render.preview OUT.png [--n 4] [--seed 0] [--kind both]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench.data.render.classes import (
    CITYSCAPES7_CLASSES,
    CITYSCAPES19_CLASSES,
    NYUV2_CLASSES,
)

_NYU_PALETTE = np.array([
    [0.55, 0.27, 0.07], [0.94, 0.90, 0.25], [0.65, 0.65, 0.95], [0.85, 0.10, 0.10],
    [0.50, 0.35, 0.60], [0.20, 0.55, 0.85], [0.95, 0.50, 0.05], [0.95, 0.40, 0.75],
    [0.10, 0.70, 0.30], [0.60, 0.85, 0.20], [0.05, 0.95, 0.95], [0.75, 0.72, 0.65],
    [0.95, 0.95, 0.95]])
# the official Cityscapes colours (trainId order)
_CS19_PALETTE = np.array([
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153],
    [153, 153, 153], [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152],
    [70, 130, 180], [220, 20, 60], [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100],
    [0, 80, 100], [0, 0, 230], [119, 11, 32]]) / 255.0
_CS7_PALETTE = np.array([[128, 64, 128], [70, 70, 70], [250, 170, 30], [107, 142, 35],
                         [70, 130, 180], [220, 20, 60], [0, 0, 142]]) / 255.0


def colorize(label: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Label map → RGB; void (−1) is black."""
    idx = np.asarray(label).astype(np.int64)
    rgb = palette[np.clip(idx, 0, len(palette) - 1)]
    rgb[idx < 0] = 0.0
    return rgb


def _depth_rgb(depth: np.ndarray, inverse: bool) -> np.ndarray:
    import matplotlib

    d = depth[..., 0]
    valid = d > 0
    lo, hi = (0.0, 0.3) if inverse else (0.0, 8.0)
    rgb = matplotlib.colormaps["magma" if inverse else "viridis"](
        np.clip((d - lo) / (hi - lo), 0, 1))[..., :3]
    rgb[~valid] = 0.0
    return rgb


def preview(out: Path, n: int = 4, seed: int = 0, kind: str = "both",
            nyu_size: tuple[int, int] = (192, 256),
            city_size: tuple[int, int] = (128, 256)) -> None:
    """Render ``n`` samples of each kind and save a grid of panels to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.data.render.indoor import render_indoor
    from bench.data.render.street import render_street

    rows: list[tuple[str, list[tuple[str, np.ndarray]]]] = []
    if kind in ("both", "nyuv2"):
        for i in range(n):
            s = render_indoor(np.random.default_rng([seed, 0, i]), *nyu_size)
            rows.append((f"nyuv2 #{i}", [
                ("image", s["image"]), ("label (13)", colorize(s["label"], _NYU_PALETTE)),
                ("depth (0–8 m)", _depth_rgb(s["depth"], False)),
                ("normal (n+1)/2", np.where(np.abs(s["normal"]).sum(-1, keepdims=True) > 0,
                                            (s["normal"] + 1) / 2, 0.0))]))
    if kind in ("both", "cityscapes"):
        for i in range(n):
            s = render_street(np.random.default_rng([seed, 0, i]), *city_size)
            rows.append((f"cityscapes #{i}", [
                ("image", s["image"]), ("label_19", colorize(s["label_19"], _CS19_PALETTE)),
                ("label_7", colorize(s["label_7"], _CS7_PALETTE)),
                ("inverse depth", _depth_rgb(s["depth"], True))]))
    fig, axes = plt.subplots(len(rows), 4, figsize=(16, 2.9 * len(rows)), squeeze=False)
    for r, (name, panels) in enumerate(rows):
        for c, (title, img) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
            ax.set_title(f"{name}: {title}", fontsize=8)
            ax.axis("off")
    legend = ("NYUv2: " + ", ".join(NYUV2_CLASSES) + "\nCityscapes-19: "
              + ", ".join(CITYSCAPES19_CLASSES) + "\nCityscapes-7: "
              + ", ".join(CITYSCAPES7_CLASSES))
    fig.text(0.01, 0.002, legend, fontsize=7, va="bottom")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kind", choices=("both", "nyuv2", "cityscapes"), default="both")
    args = p.parse_args(argv)
    preview(args.out, n=args.n, seed=args.seed, kind=args.kind)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
