"""Dataset adapter base: reads one on-disk layout of ``.npy`` files and yields training samples.

Layout (the preprocessed MTAN layout used by the official MTPSL code)::

    ROOT/{train,val}/image/{i}.npy      H×W×3 float in [0, 1]
    ROOT/{train,val}/<folder>/{i}.npy   one folder per task (see ``folders``)

A subclass states its tasks, the folder of each task, the official split sizes, its native
resolution, its augmentation and where the data comes from. :meth:`DenseDataset.check_layout`
validates a root's structure (and a few samples) before any training starts and raises
:class:`DatasetError` naming the path, what was expected and how to get the data;
:mod:`bench.data.check` then checks the content of every file the planned runs read.

A sample is ``{'image': [3,H,W], 'labels': {task: label}, 'label_mask': bool[K], 'index': i}``,
plus ``'view2'`` (a second random scale-crop of the augmented image, with its labels) for methods
that need it. The labels of tasks the regime drops are blanked (every pixel marked missing), so a
method cannot use a label it is not given, whatever its code does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch.utils.data import Dataset

from bench.data.augment import RandomScaleCrop, resize_sample
from bench.errors import DatasetError
from bench.tasks import Task

SPLITS = ("train", "val")
_NPY = re.compile(r"^(\d+)\.npy$")
#: samples per split whose contents the layout check reads (first, last, spread); every file a
#: run reads is checked before it starts by :mod:`bench.data.check`
VALIDATE_SAMPLES = 6


@dataclass(frozen=True)
class LayoutInfo:
    """What :meth:`DenseDataset.check_layout` found on disk."""

    root: Path
    sizes: dict[str, int]
    height: int
    width: int


class DenseDataset(Dataset):
    """Base class of the dataset adapters (one subclass per on-disk layout)."""

    name: ClassVar[str] = ""
    #: how tables and figures name it
    display: ClassVar[str] = ""
    folders: ClassVar[dict[str, str]] = {}
    official_sizes: ClassVar[dict[str, int] | None] = None
    native_size: ClassVar[tuple[int, int]] = (0, 0)
    default_profile: ClassVar[str] = "paper"
    default_regimes: ClassVar[tuple[str, ...]] = ("onelabel",)
    default_seeds: ClassVar[tuple[int, ...]] = (0,)
    scales: ClassVar[tuple[float, ...]] = (1.0, 1.2, 1.5)
    flip: ClassVar[bool] = False
    source: ClassVar[str] = ""
    cache_in_memory: ClassVar[bool] = False

    # -- description ----------------------------------------------------------------------------
    @classmethod
    def build_tasks(cls) -> tuple[Task, ...]:
        raise NotImplementedError

    @classmethod
    def task_names(cls) -> tuple[str, ...]:
        return tuple(t.name for t in cls.build_tasks())

    @classmethod
    def default_root(cls, data_root: Path) -> Path:
        return data_root / cls.name

    @classmethod
    def expected_layout(cls) -> str:
        t = cls.build_tasks()
        lines = ["  ROOT/{train,val}/image/{i}.npy   H×W×3 float32 in [0,1]"]
        for task in t:
            lines.append(f"  ROOT/{{train,val}}/{cls.folders[task.name]}/{{i}}.npy   "
                         + task.describe_array())
        sizes = cls.official_sizes
        if sizes:
            lines.append(f"  with i = 0…N-1 (official sizes: train {sizes['train']}, "
                         f"val {sizes['val']}; {cls.native_size[0]}×{cls.native_size[1]})")
        return "\n".join(lines)

    # -- validation -----------------------------------------------------------------------------
    @classmethod
    def prepare(cls, root: Path) -> None:
        """Make the data available at ``root`` if the adapter can (synthetic sets generate)."""

    @classmethod
    def check_layout(cls, root: Path) -> LayoutInfo:
        """Validate the layout under ``root``; :class:`DatasetError` on the first problem."""
        root = Path(root)
        if not root.is_dir():
            raise cls._error(root, f"No dataset found at {root}.")
        tasks = cls.build_tasks()
        sizes: dict[str, int] = {}
        shape: tuple[int, int] | None = None
        for split in SPLITS:
            folders = ["image"] + [cls.folders[t.name] for t in tasks]
            counts = {}
            for folder in folders:
                d = root / split / folder
                if not d.is_dir():
                    raise cls._error(root, f"Missing folder {d}.")
                ids = sorted(int(m.group(1)) for f in os.listdir(d) if (m := _NPY.match(f)))
                if not ids:
                    raise cls._error(root, f"No .npy files in {d}.")
                if ids != list(range(len(ids))):
                    missing = sorted(set(range(ids[-1] + 1)) - set(ids))[:5]
                    raise cls._error(root, f"Files in {d} are not numbered 0…N-1 "
                                           f"(missing e.g. {', '.join(f'{i}.npy' for i in missing)}).")
                counts[folder] = len(ids)
            if len(set(counts.values())) != 1:
                listing = ", ".join(f"{k}: {v}" for k, v in counts.items())
                raise cls._error(root, f"Split '{split}' has different numbers of files per "
                                       f"folder ({listing}).")
            n = counts["image"]
            sizes[split] = n
            for i in _spread(n, VALIDATE_SAMPLES):
                shape = cls._check_sample(root, split, i, tasks, shape)
        if shape is None:
            raise cls._error(root, "No images to check.")
        return LayoutInfo(root=root, sizes=sizes, height=shape[0], width=shape[1])

    @classmethod
    def _check_sample(cls, root: Path, split: str, i: int, tasks: Sequence[Task],
                      shape: tuple[int, int] | None) -> tuple[int, int]:
        """Check sample ``i`` of ``split`` (see :func:`bench.data.check.check_sample`)."""
        from bench.data.check import check_sample

        return check_sample(cls, root, split, i, tasks, shape)

    @classmethod
    def _error(cls, root: Path, what: str) -> DatasetError:
        return DatasetError(
            f"Dataset '{cls.name}' at {root}: {what}",
            f"Expected layout (ROOT = {Path(root).resolve()}):\n{cls.expected_layout()}\n"
            f"{cls.source}")

    # -- torch Dataset --------------------------------------------------------------------------
    def __init__(self, root: Path | str, split: str, *, indices: Sequence[int] | None = None,
                 mask: np.ndarray | None = None, augment: bool = False,
                 two_views: bool = False, size: tuple[int, int] | None = None,
                 seed: int = 0) -> None:
        """The images ``indices`` (file numbers, default: every file) of ``split``.

        ``mask`` (``[len(indices), K]``) says which task labels each image keeps; the others
        are blanked. Augmentation is a function of ``(seed, epoch, file number)``.
        """
        self.root = Path(root)
        self.split = split
        self.tasks = self.build_tasks()
        self.augment = augment
        self.two_views = two_views
        self.size = tuple(size) if size else None
        self.seed = seed
        if indices is None:
            indices = range(len([f for f in os.listdir(self.root / split / "image")
                                 if _NPY.match(f)]))
        self.indices = [int(i) for i in indices]
        self.n = len(self.indices)
        if mask is not None and mask.shape != (self.n, len(self.tasks)):
            raise DatasetError(f"Label mask of shape {mask.shape} does not fit {self.n} images × "
                               f"{len(self.tasks)} tasks of '{self.name}' {split}.")
        self.mask = mask
        self.cropper = RandomScaleCrop(self.scales, flip=self.flip)
        self._cache: dict[int, tuple[torch.Tensor, dict[str, torch.Tensor]]] = {}

    def __len__(self) -> int:
        return self.n

    @property
    def metainfo(self) -> dict[str, Any]:
        """Dataset meta information handed to mmengine's evaluator."""
        return {"name": self.name, "tasks": [t.name for t in self.tasks], "split": self.split}

    def read(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Image ``[3,H,W]`` and labels of sample ``i`` as stored (resized to ``size``)."""
        if i in self._cache:
            return self._cache[i]
        d = self.root / self.split
        image = torch.from_numpy(np.ascontiguousarray(
            _load(d / "image" / f"{i}.npy", self.root, type(self)).transpose(2, 0, 1))).float()
        labels = {}
        for task in self.tasks:
            arr = _load(d / self.folders[task.name] / f"{i}.npy", self.root, type(self))
            labels[task.name] = task.decode(arr)
        if self.size:
            image, labels = resize_sample(image, labels, self.tasks, self.size)
        if self.cache_in_memory:
            self._cache[i] = (image, labels)
        return image, labels

    def __getitem__(self, key: int | Sequence[int]) -> dict[str, Any]:
        # training samplers yield (position, epoch) so augmentation is a function of both
        if isinstance(key, (tuple, list)):
            position, epoch = int(key[0]), int(key[1])
        else:
            position, epoch = int(key), 0
        index = self.indices[position]
        image, labels = self.read(index)
        sample: dict[str, Any] = {"index": index}
        rng = np.random.default_rng([self.seed, epoch, index, 0xA06])
        if self.augment:
            image, labels = self.cropper(rng, image, labels, self.tasks)
        keep = self.mask[position] if self.mask is not None else np.ones(len(self.tasks), bool)
        sample["image"] = image
        sample["labels"] = self._blank(labels, keep)
        sample["label_mask"] = torch.from_numpy(keep.copy())
        if self.two_views:
            image2, labels2 = self.cropper(rng, image, labels, self.tasks)
            sample["view2"] = {"image": image2, "labels": self._blank(labels2, keep)}
        return sample

    def _blank(self, labels: dict[str, torch.Tensor], keep: np.ndarray) -> dict[str, torch.Tensor]:
        return {t.name: labels[t.name] if keep[k] else t.blank_label(labels[t.name])
                for k, t in enumerate(self.tasks)}


def _spread(n: int, k: int) -> list[int]:
    return sorted(set(np.linspace(0, n - 1, num=min(n, k)).round().astype(int).tolist()))


def _load(path: Path, root: Path, cls: type[DenseDataset]) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise cls._error(root, f"Missing file {path}.") from None
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file: a data problem
        raise cls._error(root, f"Cannot read {path} as a numpy array ({exc}).") from None
