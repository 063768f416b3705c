"""The built-in synthetic datasets: procedural ray-cast scenes written in the real layouts.

``synthetic-nyuv2``, ``synthetic-cityscapes`` and ``synthetic-pascal`` are the NYUv2 /
Cityscapes / PASCAL-Context adapters reading data
that :mod:`bench.data.render` renders on first use (or with ``bench data synth``) into
``datasets/synthetic-*``, in exactly the on-disk layout of the real preprocessed sets.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, ClassVar

from bench.data.cityscapes import Cityscapes
from bench.data.intrinsics import Intrinsics
from bench.data.nyuv2 import NYUv2
from bench.data.pascal_context import PascalContext
from bench.registry import register_dataset


class SyntheticMixin:
    """Generates the data at ``root`` when it is missing or was made by other settings."""

    synth_kind: ClassVar[str] = ""
    synth_sizes: ClassVar[dict[str, int]] = {}
    synth_size: ClassVar[tuple[int, int]] = (64, 96)
    synth_seed: ClassVar[int] = 0
    cache_in_memory = True
    default_profile = "quick"
    official_sizes = None
    synthetic = True

    @classmethod
    def rendered_size(cls, size: tuple[int, int] | None) -> tuple[int, int]:
        """The size it is rendered at: the protocol's ``data.size``, else its default."""
        return (int(size[0]), int(size[1])) if size else tuple(cls.synth_size)

    @classmethod
    def default_root(cls, data_root: Path, size: tuple[int, int] | None = None) -> Path:
        h, w = cls.rendered_size(size)
        if (h, w) == tuple(cls.synth_size):
            return Path(data_root) / cls.name
        return Path(data_root) / f"{cls.name}-{h}x{w}"

    @classmethod
    def manifest_expected(cls, size: tuple[int, int] | None = None) -> dict[str, Any]:
        from bench.data.render.writer import GENERATOR_VERSION

        h, w = cls.rendered_size(size)
        return {"kind": cls.synth_kind, "generator_version": GENERATOR_VERSION,
                "seed": cls.synth_seed, "n_train": cls.synth_sizes["train"],
                "n_val": cls.synth_sizes["val"], "height": h, "width": w}

    @classmethod
    def is_current(cls, root: Path, size: tuple[int, int] | None = None) -> bool:
        try:
            manifest = json.loads((Path(root) / "synthetic.json").read_text())
        except (OSError, ValueError):
            return False
        return all(manifest.get(k) == v for k, v in cls.manifest_expected(size).items())

    @classmethod
    def prepare(cls, root: Path, force: bool = False, workers: int = 1,
                size: tuple[int, int] | None = None) -> bool:
        """Render the dataset into ``root`` (at ``size``, else its default) unless an identical
        one is there; True if rendered."""
        from bench.data.render.writer import generate_dataset

        root = Path(root)
        if not force and cls.is_current(root, size):
            return False
        if root.exists():
            shutil.rmtree(root)
        root.parent.mkdir(parents=True, exist_ok=True)
        e = cls.manifest_expected(size)
        generate_dataset(cls.synth_kind, root, n_train=e["n_train"], n_val=e["n_val"],
                         height=e["height"], width=e["width"], seed=e["seed"], workers=workers)
        return True


@register_dataset("synthetic-nyuv2")
class SyntheticNYUv2(SyntheticMixin, NYUv2):
    """Procedural indoor scenes in the NYUv2 layout (13 classes, depth, normals), 64×96."""

    name = "synthetic-nyuv2"
    display = "synthetic NYUv2"
    profile_keys = ("nyuv2", "synthetic-nyuv2")
    synth_kind = "nyuv2"
    synth_sizes = {"train": 240, "val": 320}
    synth_size = (64, 96)
    native_size = (64, 96)
    default_seeds = (0,)
    source = "Built in: generated on first use, or by `bench data synth --dataset synthetic-nyuv2`."

    @classmethod
    def intrinsics(cls, size: tuple[int, int]) -> Intrinsics:
        """The renderer's camera (square pixels, horizontal FOV 62°, principal point at the
        image centre, :func:`bench.data.render.camera.intrinsics`) at ``size``: the set is
        rendered at the protocol's size, so no resize distorts it."""
        from bench.data.render.camera import intrinsics
        from bench.data.render.indoor import HFOV_DEG

        f, cx, cy = intrinsics(int(size[0]), int(size[1]), HFOV_DEG)
        return Intrinsics(f, f, cx, cy, int(size[0]), int(size[1]))


@register_dataset("synthetic-cityscapes")
class SyntheticCityscapes(SyntheticMixin, Cityscapes):
    """Procedural street scenes in the Cityscapes layout (7 classes, inverse depth), 64×128."""

    name = "synthetic-cityscapes"
    display = "synthetic Cityscapes"
    profile_keys = ("cityscapes", "synthetic-cityscapes")
    synth_kind = "cityscapes"
    synth_sizes = {"train": 240, "val": 320}
    synth_size = (64, 128)
    native_size = (64, 128)
    default_seeds = (0,)
    source = ("Built in: generated on first use, or by "
              "`bench data synth --dataset synthetic-cityscapes`.")


@register_dataset("synthetic-pascal")
class SyntheticPascal(SyntheticMixin, PascalContext):
    """Procedural PASCAL-like photographs in the PASCAL-Context layout (5 tasks), 128×128.

    128×128 rather than 64×64: the dilated ResNet-18 has output stride 8, so a 64×64 image
    leaves an 8×8 feature map (ASPP's rates 12–36 then see only padding) from which thin
    edges and small parts cannot be placed; measured, SL with full labels then did not beat
    one-label SL on parts or edges (README, PASCAL-Context).
    """

    name = "synthetic-pascal"
    display = "synthetic PASCAL-Context"
    profile_keys = ("pascal_context", "synthetic-pascal")
    synth_kind = "pascal"
    synth_sizes = {"train": 240, "val": 80}
    synth_size = (128, 128)
    native_size = (128, 128)
    default_seeds = (0,)
    source = ("Built in: generated on first use, or by "
              "`bench data synth --dataset synthetic-pascal`.")

    @classmethod
    def manifest_expected(cls, size: tuple[int, int] | None = None) -> dict[str, Any]:
        from bench.data.render.pascal import PASCAL_GENERATOR_VERSION

        return {**super().manifest_expected(size), "pascal_version": PASCAL_GENERATOR_VERSION}
