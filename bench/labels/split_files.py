"""Split files that name images: the official MTPSL PASCAL-Context splits (``pascal_*.npy``).

Such a file holds a pickled dict, task key → list of image ids whose label of that task is kept
(``np.load(path, allow_pickle=True).item()``; only load files you trust, as with any pickle).
With the dataset's training ids in index order (``ImageSets/Context/train.txt`` for PASCAL) it
becomes the label mask ``[N, K]``: ``mask[i, k]`` is True iff ``ids[i]`` is listed under task
``k``'s key (``file_keys`` maps task names to the file's keys, e.g. ``saliency`` → ``sal``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bench.errors import BenchError


def read_id_split(path: Path) -> dict[str, list[str]]:
    """The dict of an id-based split file; :class:`BenchError` if it is not one."""
    hint = ("Expected a .npy file holding a dict task → list of image ids, as "
            "pascal_onelabel.npy / pascal_randomlabels.npy of the official MTPSL code.")
    try:
        obj = np.load(path, allow_pickle=True)
        obj = obj.item() if isinstance(obj, np.ndarray) and obj.shape == () else obj
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise BenchError(f"Cannot read split file {path}: {type(exc).__name__}: {exc}",
                         hint) from None
    if not isinstance(obj, dict) or not all(isinstance(v, (list, tuple, np.ndarray))
                                            for v in obj.values()):
        raise BenchError(f"Split file {path} does not hold a dict of image-id lists.", hint)
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
