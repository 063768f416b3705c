"""Split files that name images: the official MTPSL PASCAL-Context splits (``pascal_*.npy``).

Such a file is a ``.npy`` holding one pickled dict, task key → list of image ids whose label of
that task is kept. Split files are what users download from other repositories, so the pickle
is never run as such: :func:`read_id_split` reads the ``.npy`` header with numpy and the pickle
with :class:`SplitUnpickler`, which builds only plain containers, strings, numbers and numpy's
own array and scalar reconstruction (what ``np.save`` writes for such a dict). A file that
asks for anything else (a function, any other class) is refused before anything in it runs.

With the dataset's training ids in index order (``ImageSets/Context/train.txt`` for PASCAL) the
dict becomes the label mask ``[N, K]``: ``mask[i, k]`` is True iff ``ids[i]`` is listed under
task ``k``'s key (``file_keys`` maps task names to the file's keys, e.g. ``saliency`` → ``sal``).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib import format as npy_format

from bench.errors import BenchError

HINT = ("Expected a .npy file holding a dict task → list of image ids, as pascal_onelabel.npy "
        "/ pascal_randomlabels.npy of the official MTPSL code.")

#: the only globals a split file's pickle may name: numpy's reconstruction of an object array
#: and of its string scalars (numpy 1.x and 2.x module names)
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
})


class UnsafeSplitFile(pickle.UnpicklingError):
    """A split file's pickle names something other than plain data."""


class SplitUnpickler(pickle.Unpickler):
    """Unpickles only plain data and numpy arrays of it (:data:`ALLOWED_GLOBALS`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafeSplitFile(f"it asks to load {module}.{name}, which a split file never "
                                  "needs (only a dict of image-id lists)")
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeSplitFile("it refers to persistent objects, which a split file never needs")


def load_plain_npy(path: Path) -> Any:
    """The content of a ``.npy`` file, an object array included, without running its code."""
    with open(path, "rb") as f:
        version = npy_format.read_magic(f)
        header = {(1, 0): npy_format.read_array_header_1_0,
                  (2, 0): npy_format.read_array_header_2_0}.get(version)
        if header is None:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, fortran, dtype = header(f)
        if not dtype.hasobject:  # a plain numeric array: numpy reads it without any pickle
            f.seek(0)
            return np.load(f, allow_pickle=False)
        return SplitUnpickler(f).load()


def read_id_split(path: Path) -> dict[str, list[str]]:
    """The dict of an id-based split file; :class:`BenchError` if it is not one (and never the
    file's code run, see the module docstring)."""
    try:
        obj = load_plain_npy(Path(path))
    except UnsafeSplitFile as exc:
        raise BenchError(f"Split file {path} is refused: {exc}. Nothing in it was run.",
                         HINT) from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise BenchError(f"Cannot read split file {path}: {type(exc).__name__}: {exc}",
                         HINT) from None
    obj = obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
    if not isinstance(obj, dict) or not all(isinstance(v, (list, tuple, np.ndarray))
                                            for v in obj.values()):
        raise BenchError(f"Split file {path} does not hold a dict of image-id lists.", HINT)
    if not all(isinstance(i, (str, np.str_, int, np.integer)) for v in obj.values() for i in v):
        raise BenchError(f"Split file {path}: its image ids must be strings or integers.", HINT)
    return {str(k): [str(i) for i in v] for k, v in obj.items()}


def id_split_mask(path: Path, tasks: Sequence[str], ids: Sequence[str] | None,
                  file_keys: Mapping[str, str] | None = None) -> np.ndarray:
    """The label mask ``[len(ids), len(tasks)]`` of an id-based split file."""
    if ids is None:
        raise BenchError(f"Split file {path} names images by id, but this dataset knows its "
                         "images by index only.",
                         "Use a .pth split file (labels_weights [N, K]) for this dataset.")
    keys = [(file_keys or {}).get(t, t) for t in tasks]
    split = read_id_split(path)
    missing = [k for k in keys if k not in split]
    if missing:
        raise BenchError(f"Split file {path} has no entry for {', '.join(missing)} "
                         f"(it has {', '.join(sorted(split))}).",
                         "Use the split file made for this dataset's tasks.")
    index = {image_id: i for i, image_id in enumerate(ids)}
    mask = np.zeros((len(ids), len(tasks)), dtype=bool)
    for k, key in enumerate(keys):
        unknown = [i for i in split[key] if i not in index]
        if unknown:
            raise BenchError(
                f"Split file {path}: {len(unknown)} image ids under '{key}' are not training "
                f"images of this dataset (e.g. {', '.join(unknown[:3])}).",
                "Use the split file made for this dataset and its official training list "
                "(ImageSets/Context/train.txt for PASCAL-Context).")
        mask[[index[i] for i in split[key]], k] = True
    return mask
