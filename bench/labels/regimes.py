"""Label regimes: which task labels each training image keeps.

A regime turns ``(number of images N, task names, seed)`` into a boolean mask ``[N, K]``
(row = training image, column = task, True = label kept):

``full``
    every label kept.
``onelabel``
    exactly one label per image; the tasks get equal shares (counts differ by at most one), the
    assignment is a seeded random permutation.
``randomlabels``
    each image keeps a random number of labels, uniform in ``1 … K-1``, on a random subset of the
    tasks; seeded; re-drawn until every task has at least one labelled image.
``ratio:a:b[:c…]``
    one label per image, imbalanced: task ``k`` labels a fraction ``a_k / Σa`` of the images
    (``ratio:1:9`` on Cityscapes = 10 % segmentation-only, 90 % depth-only images, Table 4).
``file:PATH``
    an official MTPSL split file: ``.pth`` with ``{'labels_weights': FloatTensor[N, K]}`` (rows
    = training images by index), or ``.npy`` with a dict task → list of image ids (PASCAL-Context,
    :mod:`bench.labels.split_files`; needs the dataset's training ids). ``PATH`` is a path, or the name of
    a split shipped in ``bench/labels/official`` (e.g. ``file:nyuv2_onelabel.pth``,
    ``file:pascal_onelabel.npy``).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.errors import BenchError, unknown_name

SPLITS_DIR = Path(__file__).parent / "official"
#: the largest share a ``ratio:`` regime may give one task (shares are relative: ratio:1:9)
MAX_RATIO = 1e6
REGIME_KINDS = {
    "full": "every image keeps every task label (fully supervised)",
    "onelabel": "each image keeps exactly one task label, tasks balanced",
    "randomlabels": "each image keeps 1…K-1 task labels, chosen at random",
    "ratio:a:b[:…]": "one label per image, task k labels a fraction a_k/Σa of the images",
    "file:PATH": "official MTPSL split file (.pth labels_weights [N, K], or .npy task → ids)",
}


@dataclass(frozen=True)
class Regime:
    """A parsed regime string."""

    kind: str
    ratios: tuple[float, ...] = ()
    path: Path | None = None

    @property
    def name(self) -> str:
        if self.kind == "ratio":
            return "ratio:" + ":".join(_fmt(r) for r in self.ratios)
        if self.kind == "file":  # its content, not where it lies, is in a run's identity
            return f"file:{self.path.name if self.path else ''}"
        return self.kind

    @property
    def reference(self) -> str:
        """How a RunSpec names the regime: its name, or ``file:PATH`` (where to read it)."""
        return f"file:{self.path}" if self.kind == "file" else self.name

    @property
    def slug(self) -> str:
        """File-system friendly name (``ratio_1_9``, ``file_nyuv2_onelabel``)."""
        if self.kind == "ratio":
            return "ratio_" + "_".join(_fmt(r) for r in self.ratios)
        if self.kind == "file":
            return "file_" + re.sub(r"[^A-Za-z0-9]+", "_", self.path.stem if self.path else "")
        return self.kind

    def mask(self, n: int, tasks: list[str] | tuple[str, ...], seed: int,
             ids: list[str] | None = None, file_keys: dict[str, str] | None = None
             ) -> np.ndarray:
        """The boolean label mask ``[n, len(tasks)]`` of this regime.

        ``ids`` (the first ``n`` training image ids, in index order) and ``file_keys`` (task name
        → key in the file) are needed only by split files that name images (``.npy``).
        """
        k = len(tasks)
        rng = np.random.default_rng([seed, 0x5E6])
        if self.kind == "full":
            return np.ones((n, k), dtype=bool)
        if self.kind == "onelabel":
            return _one_label(n, np.full(k, 1.0 / k), rng)
        if self.kind == "randomlabels":
            return _random_labels(n, k, rng)
        if self.kind == "ratio":
            if len(self.ratios) != k:
                raise BenchError(
                    f"Regime '{self.name}' gives {len(self.ratios)} ratios but the dataset has "
                    f"{k} tasks ({', '.join(tasks)}).",
                    f"Give one ratio per task, in this order, e.g. ratio:{':'.join(['1'] * k)}.")
            r = np.asarray(self.ratios, dtype=np.float64)
            return _one_label(n, r / r.sum(), rng)
        if self.path is None:
            raise BenchError(f"Regime '{self.name}' has no split file.")
        return load_split_file(self.path, n, tasks, ids, file_keys)


def split_file_identity(regime: Regime) -> dict[str, str]:
    """What a run's identity holds of a ``file:`` regime's split file: its name and the SHA-256
    of its content (as a profile file is identified), so a split file rewritten under the same
    path makes new runs and one moved elsewhere keeps its runs."""
    if regime.path is None or not regime.path.is_file():
        shipped = ", ".join(sorted(p.name for p in SPLITS_DIR.glob("*.pth"))
                            + sorted(p.name for p in SPLITS_DIR.glob("*.npy")))
        raise BenchError(f"Split file not found: {regime.path}",
                         f"Give a path to an MTPSL split file, or one shipped with the harness: "
                         f"{shipped}.")
    digest = hashlib.sha256(regime.path.read_bytes()).hexdigest()
    return {"name": regime.path.name, "sha256": digest}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_regime(text: str) -> Regime:
    """Parse a regime string; a clear error naming the valid forms if it is not one."""
    text = text.strip()
    if text in ("full", "onelabel", "randomlabels"):
        return Regime(text)
    if text.startswith("ratio:"):
        parts = text.split(":")[1:]
        try:
            ratios = tuple(float(p) for p in parts)
        except ValueError:
            ratios = ()
        if len(ratios) < 2 or not all(math.isfinite(r) and 0 < r <= MAX_RATIO for r in ratios):
            raise BenchError(
                f"Bad ratio regime '{text}'.",
                f"Write one finite number above 0 and at most {MAX_RATIO:g} per task (a task "
                "with a share of 0 would never be labelled), e.g. ratio:1:9 (10 % of the "
                "images labelled for the first task, 90 % for the second).")
        return Regime("ratio", ratios=ratios)
    if text.startswith("file:"):
        raw = text[len("file:"):]
        path = Path(raw).expanduser()
        if not path.exists() and (SPLITS_DIR / raw).exists():
            path = SPLITS_DIR / raw
        return Regime("file", path=path)
    raise unknown_name("regime", text, ["full", "onelabel", "randomlabels", "ratio:a:b",
                                        "file:PATH"])


def _one_label(n: int, fractions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One label per image; task k gets round(n * fraction_k) images (largest remainders)."""
    k = len(fractions)
    exact = fractions * n
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    # every task with a non-zero share gets at least one image when n allows it
    for i in np.flatnonzero((fractions > 0) & (counts == 0)):
        donor = int(np.argmax(counts))
        if counts[donor] > 1:
            counts[donor] -= 1
            counts[i] += 1
    assignment = rng.permutation(np.repeat(np.arange(k), counts))
    mask = np.zeros((n, k), dtype=bool)
    mask[np.arange(n), assignment] = True
    return mask


def _random_labels(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    if k < 2:
        return np.ones((n, k), dtype=bool)
    for _ in range(1000):
        counts = rng.integers(1, k, size=n)  # 1 … k-1 labels per image
        # rank of each task in a random order per image; keep the `counts` first ranks
        ranks = np.argsort(np.argsort(rng.random((n, k)), axis=1), axis=1)
        mask = ranks < counts[:, None]
        if n < k or mask.any(0).all():
            return mask
    raise BenchError(f"Could not draw a random-label mask where every task is labelled (n={n}).")


def load_split_file(path: Path, n: int, tasks: list[str] | tuple[str, ...],
                    ids: list[str] | None = None, file_keys: dict[str, str] | None = None
                    ) -> np.ndarray:
    """Read an official MTPSL split (``.pth`` ``{'labels_weights': [N, K]}``, or ``.npy`` task →
    image ids) and validate it."""
    import torch

    k = len(tasks)
    shipped = ", ".join(sorted(p.name for p in SPLITS_DIR.glob("*.pth"))
                        + sorted(p.name for p in SPLITS_DIR.glob("*.npy")))
    if not path.is_file():
        raise BenchError(f"Split file not found: {path}",
                         f"Give a path to an MTPSL split file, or one shipped with the harness: "
                         f"{shipped}.")
    if path.suffix == ".npy":
        from bench.labels.split_files import id_split_mask

        mask = id_split_mask(path, tasks, ids, file_keys)[:n]
        return _check_every_image_labelled(path, mask)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise BenchError(f"Cannot read split file {path}: {type(exc).__name__}: {exc}",
                         "Expected a torch file holding {'labels_weights': FloatTensor[N, K]}, "
                         "as in the official MTPSL data/ folder.") from None
    if not isinstance(obj, dict) or "labels_weights" not in obj:
        raise BenchError(f"Split file {path} has no 'labels_weights' entry.",
                         "Expected {'labels_weights': FloatTensor[N, K]} (official MTPSL format).")
    w = np.asarray(obj["labels_weights"].detach().cpu().numpy() if hasattr(
        obj["labels_weights"], "detach") else obj["labels_weights"])
    if w.ndim != 2 or w.shape != (n, k):
        raise BenchError(
            f"Split file {path} has labels_weights of shape {tuple(w.shape)}, but the training "
            f"split has {n} images and {k} tasks ({', '.join(tasks)}).",
            "Use the split file made for this dataset.")
    if not np.isin(w, (0, 1)).all():
        raise BenchError(f"Split file {path}: labels_weights must hold only 0 and 1.")
    return _check_every_image_labelled(path, w.astype(bool))


def _check_every_image_labelled(path: Path, mask: np.ndarray) -> np.ndarray:
    if not mask.any(1).all():
        bad = int((~mask.any(1)).sum())
        raise BenchError(f"Split file {path}: {bad} images keep no label at all.",
                         "Every training image must keep at least one task label.")
    return mask


def training_mask(regime: Regime, train_indices: np.ndarray, n_files: int,
                  tasks: list[str] | tuple[str, ...], seed: int,
                  ids: list[str] | None = None, file_keys: dict[str, str] | None = None
                  ) -> np.ndarray:
    """The label mask ``[len(train_indices), K]`` of the images a run trains on.

    A generated regime draws its mask for those images. An official split file indexes every
    image of the training folder (``n_files`` rows; a ``.npy`` split names them by id, ``ids``
    being the folder's training ids in index order and ``file_keys`` the file's task keys): its
    rows of the trained images are kept, so the images carved out for validation take their
    labels out of training entirely (the record's ``mask.per_task`` gives the label counts that
    remain).
    """
    if regime.kind == "file":
        if regime.path is None:
            raise BenchError(f"Regime '{regime.name}' has no split file.")
        return load_split_file(regime.path, n_files, tasks, ids,
                               file_keys)[np.asarray(train_indices)]
    return regime.mask(len(train_indices), tasks, seed)


def mask_summary(mask: np.ndarray, tasks: list[str] | tuple[str, ...]) -> dict:
    """What a record stores about a mask: per-task counts, labels-per-image histogram, hash."""
    per_image = mask.sum(1)
    return {
        "shape": list(mask.shape),
        "per_task": {t: int(c) for t, c in zip(tasks, mask.sum(0), strict=True)},
        "labels_per_image": {str(i): int((per_image == i).sum())
                             for i in range(mask.shape[1] + 1) if (per_image == i).any()},
        "sha256": hashlib.sha256(np.packbits(mask).tobytes() + str(mask.shape).encode()).hexdigest(),
    }


def pack_mask(mask: np.ndarray) -> str:
    """Compact, exact text form of a mask (hex of ``np.packbits`` in row-major order)."""
    return np.packbits(mask.astype(bool).ravel()).tobytes().hex()


def unpack_mask(text: str, shape: tuple[int, int]) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))
    return bits[: shape[0] * shape[1]].reshape(shape).astype(bool)
