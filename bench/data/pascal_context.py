"""PASCAL-Context with five tasks, in the layout of Vandenhende et al.'s ``PASCAL_MT``.

Layout (``ROOT`` = ``datasets/pascal_context``)::

    ROOT/ImageSets/Context/{train,val}.txt     one image id per line (e.g. 2008_000002)
    ROOT/JPEGImages/{id}.jpg                   RGB image
    ROOT/semseg/VOC12/{id}.png                 21 classes (else semseg/pascal-context/{id}.png)
    ROOT/human_parts/{id}.mat                  PASCAL-Part annotation (struct ``anno``)
    ROOT/normals_distill/{id}.png              distilled surface normals, RGB
    ROOT/sal_distill/{id}.png                  distilled saliency, grey levels
    ROOT/pascal-context/trainval/{id}.mat      ``LabelMap`` (459 classes): edges, normals mask

The official splits have 4998 training and 5105 validation images of varying size; the protocol
resizes every sample to 512×512 and augments the training images with a random flip, rotation
(±20°) and scale (0.75–1.25) (:class:`~bench.data.affine.RandomScaleRotate`). What each file holds
and how it becomes a label: :mod:`bench.data.pascal_files`. The order of ``train.txt`` is the
training index that label masks and the official MTPSL split files (which name image ids) use.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from bench.data import pascal_files as pf
from bench.data.affine import RandomScaleRotate
from bench.data.base import VALIDATE_SAMPLES, DenseDataset, LayoutInfo, spread_indices
from bench.data.check import CheckUnit, label_problem
from bench.registry import register_dataset
from bench.tasks import Task
from bench.tasks.edge import EdgeTask
from bench.tasks.human_parts import HumanPartsTask
from bench.tasks.normal_l1 import NormalL1Task
from bench.tasks.saliency import SaliencyTask
from bench.tasks.semantic import SemanticTask

SPLITS = ("train", "val")
SPLIT_LIST = Path("ImageSets") / "Context"
IMAGES = "JPEGImages"
SEMSEG_DIRS = (Path("semseg") / "VOC12", Path("semseg") / "pascal-context")
PARTS = "human_parts"
NORMALS = "normals_distill"
SALIENCY = "sal_distill"
LABEL_MAPS = Path("pascal-context") / "trainval"


@register_dataset("pascal_context")
class PascalContext(DenseDataset):
    """PASCAL-Context (4998 train / 5105 val, resized to 512×512): semseg, parts, normals, saliency, edges."""

    name = "pascal_context"
    display = "PASCAL-Context"
    official_sizes = {"train": 4998, "val": 5105}
    native_size = (512, 512)
    default_profile = "paper"
    default_regimes = ("onelabel", "randomlabels")
    default_seeds = (0,)
    flip = True
    #: task name → key of that task in the official MTPSL split files (``pascal_*.npy``)
    split_file_keys: ClassVar[dict[str, str]] = {
        "semseg": "semseg", "human_parts": "human_parts", "normals": "normals",
        "saliency": "sal", "edge": "edge"}
    source = ("Get PASCAL_MT.tgz, the multi-task PASCAL-Context of Vandenhende et al. "
              "(github.com/SimonVandenhende/Multi-Task-Learning-PyTorch, data/pascal_context.py "
              "names its URL), unpack it so that ROOT/JPEGImages and ROOT/ImageSets/Context/"
              "train.txt exist, and put it at datasets/pascal_context or pass --data-root DIR "
              "(DIR/pascal_context). See datasets/README.md.")

    @classmethod
    def build_tasks(cls) -> tuple[Task, ...]:
        return (SemanticTask(21, name="semseg"), HumanPartsTask(), NormalL1Task(),
                SaliencyTask(), EdgeTask())

    @classmethod
    def expected_layout(cls) -> str:
        sizes = cls.official_sizes
        lines = [
            "  ROOT/ImageSets/Context/{train,val}.txt   one image id per line",
            "  ROOT/JPEGImages/{id}.jpg                  RGB image",
            "  ROOT/semseg/VOC12/{id}.png or ROOT/semseg/pascal-context/{id}.png"
            "   8-bit classes 0…20, 255 = ignored",
            "  ROOT/human_parts/{id}.mat                 PASCAL-Part struct 'anno' (objects, parts)",
            "  ROOT/normals_distill/{id}.png             RGB normals, n = 2·v/255 − 1",
            "  ROOT/sal_distill/{id}.png                 grey saliency, salient where v > 127",
            "  ROOT/pascal-context/trainval/{id}.mat     'LabelMap', 459 PASCAL-Context classes",
        ]
        if sizes:
            lines.append(f"  (official sizes: train {sizes['train']}, val {sizes['val']}; "
                         f"resized to {cls.native_size[0]}×{cls.native_size[1]})")
        return "\n".join(lines)

    # -- listing --------------------------------------------------------------------------------
    @classmethod
    def image_ids(cls, root: Path, split: str) -> list[str]:
        path = Path(root) / SPLIT_LIST / f"{split}.txt"
        try:
            lines = path.read_text().splitlines()
        except FileNotFoundError:
            raise cls._error(Path(root), f"Missing split list {path}.") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise cls._error(Path(root), f"Cannot read split list {path} ({exc}).") from None
        return [line.strip() for line in lines if line.strip()]

    @classmethod
    def split_size(cls, root: Path, split: str) -> int:
        return len(cls.image_ids(root, split))

    @classmethod
    def files_of(cls, root: Path, image_id: str) -> dict[str, Path]:
        """Every file sample ``image_id`` needs, by role (the semseg PNG that exists)."""
        semseg = next((root / d / f"{image_id}.png" for d in SEMSEG_DIRS
                       if (root / d / f"{image_id}.png").is_file()),
                      root / SEMSEG_DIRS[-1] / f"{image_id}.png")
        return {"image": root / IMAGES / f"{image_id}.jpg", "semseg": semseg,
                "human_parts": root / PARTS / f"{image_id}.mat",
                "normals": root / NORMALS / f"{image_id}.png",
                "saliency": root / SALIENCY / f"{image_id}.png",
                "label_map": root / LABEL_MAPS / f"{image_id}.mat"}

    # -- reading --------------------------------------------------------------------------------
    @classmethod
    def sample_problems(cls, root: Path, image_id: str
                        ) -> tuple[tuple[np.ndarray, dict[str, np.ndarray]] | None,
                                   list[tuple[Path, str]]]:
        """Read sample ``image_id`` and check it: ``((image, arrays), [])`` when every file is
        valid, else ``(None, problems)`` naming each bad file.

        The image must be RGB; each task's array (read by :mod:`bench.data.pascal_files`) must
        pass its task's :meth:`~bench.tasks.Task.check_array` at the image's size. Edges and the
        normals mask derive from the ``LabelMap``, whose file a problem with them names.
        """
        root = Path(root)
        files = cls.files_of(root, image_id)
        missing = [(path, "file is missing" if role != "semseg" else
                    "file is missing (nor is there " + " or ".join(
                        str(root / d / f"{image_id}.png") for d in SEMSEG_DIRS[:-1]) + ")")
                   for role, path in files.items() if not path.is_file()]
        if missing:
            return None, missing

        problems: list[tuple[Path, str]] = []

        def guarded(role: str, fn: Any, *args: Any) -> np.ndarray | None:
            try:
                return fn(files[role], *args)
            except pf.FileFormatError as exc:
                problems.append((files[role], f"{exc}."))
            except (OSError, ValueError) as exc:
                problems.append((files[role], f"cannot read it ({exc})."))
            return None

        image = guarded("image", pf.read_image)
        label_map = guarded("label_map", pf.read_label_map)
        if image is None or label_map is None:
            return None, problems
        hw = (int(image.shape[0]), int(image.shape[1]))
        if label_map.shape != hw:
            problems.append((files["label_map"], f"LabelMap is {label_map.shape[0]}×"
                                                 f"{label_map.shape[1]} but the image is "
                                                 f"{hw[0]}×{hw[1]}."))
            return None, problems
        arrays = {
            "semseg": guarded("semseg", pf.read_semseg),
            "human_parts": guarded("human_parts", pf.read_human_parts, hw),
            "normals": guarded("normals", pf.read_normals, label_map),
            "saliency": guarded("saliency", pf.read_saliency),
            "edge": pf.edges_of(label_map),
        }
        for task in cls.build_tasks():
            array = arrays[task.name]
            if array is None:
                continue
            problem = label_problem(task, array, hw)
            if problem:
                problems.append((files.get(task.name, files["label_map"]), problem))
        if problems:
            return None, problems
        return (image, arrays), []  # type: ignore[return-value]

    @classmethod
    def read_arrays(cls, root: Path, image_id: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Image ``H×W×3`` in [0, 1] and each task's array, checked
        (:meth:`sample_problems`); :class:`DatasetError` naming the first bad file."""
        sample, problems = cls.sample_problems(root, image_id)
        if sample is None:
            path, problem = problems[0]
            raise cls._error(Path(root), f"{path}: {problem}")
        return sample

    def load(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        image_id = self.ids[i]
        image, arrays = self.read_arrays(self.root, image_id)
        tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()
        return tensor, {t.name: t.decode(arrays[t.name]) for t in self.tasks}

    @property
    def ids(self) -> list[str]:
        if not hasattr(self, "_ids"):
            self._ids = self.image_ids(self.root, self.split)
        return self._ids

    def build_augmenter(self) -> Any:
        return RandomScaleRotate(20.0, (0.75, 1.25), flip=self.flip)

    # -- validation -----------------------------------------------------------------------------
    @classmethod
    def check_layout(cls, root: Path) -> LayoutInfo:
        """Split lists, every file of every image, and the full contents of a few images per
        split; :class:`DatasetError` naming the path, what was expected and how to get it."""
        root = Path(root)
        if not root.is_dir():
            raise cls._error(root, f"No dataset found at {root}.")
        for folder in (SPLIT_LIST, Path(IMAGES), Path(PARTS), Path(NORMALS), Path(SALIENCY),
                       LABEL_MAPS):
            if not (root / folder).is_dir():
                raise cls._error(root, f"Missing folder {root / folder}.")
        if not any((root / d).is_dir() for d in SEMSEG_DIRS):
            raise cls._error(root, f"Missing folder {root / SEMSEG_DIRS[-1]} "
                                   f"(or {root / SEMSEG_DIRS[0]}).")
        listings = {p: _names(root / p) for p in (Path(IMAGES), Path(PARTS), Path(NORMALS),
                                                  Path(SALIENCY), LABEL_MAPS, *SEMSEG_DIRS)}
        suffix = {Path(IMAGES): ".jpg", Path(PARTS): ".mat", Path(NORMALS): ".png",
                  Path(SALIENCY): ".png", LABEL_MAPS: ".mat"}
        sizes: dict[str, int] = {}
        seen: dict[str, str] = {}
        for split in SPLITS:
            ids = cls.image_ids(root, split)
            if not ids:
                raise cls._error(root, f"Split list {root / SPLIT_LIST / f'{split}.txt'} is "
                                       "empty.")
            dup = sorted(i for i, c in Counter(ids).items() if c > 1)[:3]
            if dup:
                raise cls._error(root, f"Split list {root / SPLIT_LIST / f'{split}.txt'} names "
                                       f"images more than once (e.g. {', '.join(dup)}).")
            for image_id in ids:
                if image_id in seen:
                    raise cls._error(root, f"Image '{image_id}' is in both the {seen[image_id]} "
                                           f"and the {split} split lists.")
                seen[image_id] = split
            for folder, ext in suffix.items():
                missing = [i for i in ids if f"{i}{ext}" not in listings[folder]]
                if missing:
                    raise cls._error(root, f"{len(missing)} of the {len(ids)} {split} images "
                                           f"have no {root / folder}/<id>{ext} (e.g. "
                                           f"{root / folder / (missing[0] + ext)}).")
            semseg_missing = [i for i in ids
                              if not any(f"{i}.png" in listings[d] for d in SEMSEG_DIRS)]
            if semseg_missing:
                raise cls._error(root, f"{len(semseg_missing)} of the {len(ids)} {split} images "
                                       f"have no semseg PNG (e.g. "
                                       f"{root / SEMSEG_DIRS[-1] / (semseg_missing[0] + '.png')}).")
            for k in spread_indices(len(ids), VALIDATE_SAMPLES):
                cls.read_arrays(root, ids[k])
            sizes[split] = len(ids)
        return LayoutInfo(root=root, sizes=sizes, height=cls.native_size[0],
                          width=cls.native_size[1])


    @classmethod
    def check_units(cls, root: Path, hw: tuple[int, int],
                    counts: dict[str, int]) -> list[CheckUnit]:
        """One unit per image of the first ``counts[split]`` of each split list: its six files,
        checked together by :meth:`sample_problems` (images keep their own size; ``hw`` is the
        size every sample is resized to)."""
        root = Path(root)
        units = []
        for split, n in counts.items():
            for image_id in cls.image_ids(root, split)[: int(n)]:
                files = cls.files_of(root, image_id)
                units.append(CheckUnit(
                    f"{split}/{image_id}",
                    tuple(str(p.relative_to(root)) for p in files.values()),
                    partial(_unit_problems, cls, root, image_id)))
        return units


def _unit_problems(cls: type[PascalContext], root: Path, image_id: str
                   ) -> list[tuple[Path, str]]:
    return cls.sample_problems(root, image_id)[1]


def _names(folder: Path) -> set[str]:
    try:
        return {p.name for p in folder.iterdir()}
    except FileNotFoundError:
        return set()
