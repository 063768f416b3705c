"""Procedural synthetic datasets in the exact on-disk layouts of preprocessed NYUv2/Cityscapes.

Semantics, depth and surface normals of an image all come from one ray-cast 3-D scene, so the
cross-task relations of real data hold: class boundaries coincide with depth and normal
discontinuities (except for flat things on walls), floors face up, walls sideways, and so on.

Modules: :mod:`geometry` (ray–primitive intersection), :mod:`camera` (pinhole camera),
:mod:`scene` (primitives with per-face classes/materials), :mod:`textures` (procedural
patterns), :mod:`shading` (lighting and camera model), :mod:`artifacts` (missing depth,
unlabelled pixels), :mod:`indoor` / :mod:`street` (scene generators), :mod:`writer` (the
on-disk datasets) and :mod:`preview` (a PNG of a few samples).
"""

from bench.data.synthetic.classes import (
    CITYSCAPES7_CLASSES,
    CITYSCAPES19_CLASSES,
    CITYSCAPES19_TO_7,
    NYUV2_CLASSES,
)
from bench.data.synthetic.indoor import render_indoor
from bench.data.synthetic.street import render_street
from bench.data.synthetic.writer import generate_dataset

#: Bump whenever the rendered content changes, so that stale generated datasets are rebuilt.
GENERATOR_VERSION = 1

__all__ = [
    "CITYSCAPES19_CLASSES",
    "CITYSCAPES19_TO_7",
    "CITYSCAPES7_CLASSES",
    "GENERATOR_VERSION",
    "NYUV2_CLASSES",
    "generate_dataset",
    "render_indoor",
    "render_street",
]
