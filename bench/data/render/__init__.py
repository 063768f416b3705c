"""Procedural synthetic datasets in the exact on-disk layouts of preprocessed NYUv2/Cityscapes.

Semantics, depth and surface normals of an image all come from one ray-cast 3-D scene, so the
cross-task relations of real data hold: class boundaries coincide with depth and normal
discontinuities (except for flat things on walls), floors face up, walls sideways, and so on.

Modules: :mod:`geometry` (ray–primitive intersection), :mod:`camera` (pinhole camera),
:mod:`scene` (primitives with per-face classes/materials), :mod:`textures` (procedural
patterns), :mod:`shading` (lighting and camera model), :mod:`artifacts` (missing depth,
unlabelled pixels), :mod:`indoor` / :mod:`street` (scene generators), :mod:`writer` (the
on-disk datasets, and :data:`writer.GENERATOR_VERSION`) and :mod:`preview` (a PNG of a few
samples). Import from the modules themselves: this package file imports nothing, so no module
of the renderer depends on it.
"""
