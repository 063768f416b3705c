"""The full data check: every file a run will read is validated once, before any run starts.

:meth:`DenseDataset.check_layout` checks a dataset's folder structure and a few samples; this
module checks the *content* of every file the planned runs will read (the first ``n`` files of a
split when a profile limits the images): the image is numeric, ``H×W×3`` at the dataset's
resolution, finite and in [0, 1]; each label is numeric and passes its task's
:meth:`~bench.tasks.Task.check_array` (shape, finiteness, class range, unit normals, …). Every bad
file is named with its problem (:class:`~bench.errors.DatasetError`, exit 2), so no run trains on
or is evaluated on bad data, and NaN in the data can never end a run as ``diverged``.

The files are checked in *units*: one file each for the ``.npy`` layouts (:func:`npy_units`); an
adapter whose labels are derived from several files (PASCAL-Context: edges and the normals mask
come from the ``LabelMap``) checks each image with all its files as one unit
(:meth:`DenseDataset.check_units`), each label still through its task's ``check_array``.

Results are cached per unit by the ``(size, mtime)`` of its files: a second ``bench run`` reads only the files
that changed. The cache is a JSON file per dataset root under the *results* folder
(``RESULTS/.cache/datacheck/``), not under the data root: data roots are often shared and
read-only, the results folder is always writable by whoever runs the harness, and nothing is ever
written into a dataset. Only passing files are cached; the cache is written atomically and a
lost or unreadable cache only costs a re-check.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import DatasetError
from bench.records.atomic import atomic_write_json
from bench.tasks import Task

#: a dataset adapter class (a :class:`bench.data.base.DenseDataset` subclass; not imported here,
#: as the adapter base calls this module)
DenseDataset = type

#: bump when a check changes, so cached verdicts of the old checks are not trusted
CHECK_VERSION = 1
CACHE_FOLDER = Path(".cache") / "datacheck"
#: problems listed in the error message (the rest are counted)
SHOWN = 12
IMAGE_TOLERANCE = 1e-3
_NUMERIC = "biuf"


def read_array(path: Path) -> tuple[np.ndarray | None, str | None]:
    """The array in ``path`` or the reason it cannot be read."""
    try:
        return np.load(path, allow_pickle=False), None
    except FileNotFoundError:
        return None, "file is missing"
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file: a data problem
        return None, f"Cannot read this file as a numpy array ({exc})."


def _dtype_problem(array: np.ndarray) -> str | None:
    if array.dtype.kind not in _NUMERIC:
        return f"dtype {array.dtype} is not numeric."
    return None


def image_problem(array: np.ndarray, hw: tuple[int, int] | None) -> str | None:
    """What is wrong with a stored image (``H×W×3`` numbers in [0, 1]), or ``None``."""
    problem = _dtype_problem(array)
    if problem:
        return problem
    if array.ndim != 3 or array.shape[2] != 3:
        return f"shape {array.shape}; expected H×W×3."
    if hw is not None and tuple(array.shape[:2]) != tuple(hw):
        return f"is {array.shape[0]}×{array.shape[1]} but the dataset's images are {hw[0]}×{hw[1]}."
    if not np.isfinite(array).all():
        return "an image must hold finite values in [0, 1] (found NaN or inf)."
    lo, hi = float(array.min()), float(array.max())
    if lo < -IMAGE_TOLERANCE or hi > 1 + IMAGE_TOLERANCE:
        return (f"an image must hold values in [0, 1], found [{lo:g}, {hi:g}]"
                + (" (0–255 images must be divided by 255)." if hi > 2 else "."))
    return None


def label_problem(task: Task, array: np.ndarray, hw: tuple[int, int]) -> str | None:
    """What is wrong with a stored label of ``task``, or ``None``."""
    problem = _dtype_problem(array)
    if problem:
        return problem
    try:
        return task.check_array(array, hw)
    except (TypeError, ValueError) as exc:  # a check that cannot even run on this array
        return f"cannot be checked as a {task.name} label ({exc})."


def check_sample(cls: DenseDataset, root: Path, split: str, i: int,
                 tasks: Sequence[Task], shape: tuple[int, int] | None) -> tuple[int, int]:
    """Check image ``i`` of ``split`` and its labels; the image's ``(H, W)``.

    Raises the dataset's :class:`DatasetError` on the first problem (used by the layout check).
    """
    path = root / split / "image" / f"{i}.npy"
    image, problem = read_array(path)
    if image is not None:
        problem = image_problem(image, shape)
    if problem:
        raise cls._error(root, f"{path}: {problem}")
    hw = (int(image.shape[0]), int(image.shape[1]))
    for task in tasks:
        path = root / split / cls.folders[task.name] / f"{i}.npy"
        label, problem = read_array(path)
        if label is not None:
            problem = label_problem(task, label, hw)
        if problem:
            raise cls._error(root, f"{path}: {problem}")
    return hw


@dataclass
class DataCheck:
    """The outcome of :func:`check_files`."""

    files: int = 0
    checked: int = 0
    cached: int = 0
    seconds: float = 0.0
    problems: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.files} files: {self.checked} checked, {self.cached} unchanged since their "
                f"last check ({self.seconds:.1f} s)")


def _identity(cls: DenseDataset, root: Path, hw: tuple[int, int]) -> dict[str, Any]:
    tasks = cls.build_tasks()
    return {"version": CHECK_VERSION, "dataset": cls.name, "root": str(Path(root).resolve()),
            "hw": list(hw), "tasks": [[t.name, cls.folders.get(t.name, ""), t.describe_array()]
                                      for t in tasks]}


def cache_path(results_root: Path, cls: DenseDataset, root: Path) -> Path:
    """Where the check results of the dataset at ``root`` are cached."""
    digest = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:12]
    return Path(results_root) / CACHE_FOLDER / f"{cls.name}-{digest}.json"


def _load_cache(path: Path | None, identity: dict[str, Any]) -> dict[str, list[int]]:
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("identity") != identity:
        return {}
    files = data.get("files")
    return files if isinstance(files, dict) else {}


@dataclass(frozen=True)
class CheckUnit:
    """Files checked, and cached, together: their paths relative to the root, and the check
    that reads them and returns every problem found (``(path, problem)``; empty: all valid)."""

    key: str
    paths: tuple[str, ...]
    check: Callable[[], list[tuple[Path, str]]]


def files_to_read(cls: DenseDataset, counts: dict[str, int]) -> list[tuple[str, str | None]]:
    """``(relative path, task name or None for the image)`` of the first ``counts[split]``
    samples of each split (the ``.npy`` layouts)."""
    out = []
    tasks = cls.build_tasks()
    for split, n in counts.items():
        for i in range(int(n)):
            out.append((f"{split}/image/{i}.npy", None))
            out += [(f"{split}/{cls.folders[t.name]}/{i}.npy", t.name) for t in tasks]
    return out


def npy_units(cls: DenseDataset, root: Path, hw: tuple[int, int],
              counts: dict[str, int]) -> list[CheckUnit]:
    """One unit per file of :func:`files_to_read`: the image checked by :func:`image_problem`
    at the dataset's resolution ``hw``, a label by :func:`label_problem` of its task."""
    tasks = {t.name: t for t in cls.build_tasks()}

    def unit(rel: str, task: str | None) -> CheckUnit:
        def check() -> list[tuple[Path, str]]:
            array, problem = read_array(root / rel)
            if array is not None:
                problem = (image_problem(array, hw) if task is None
                           else label_problem(tasks[task], array, hw))
            return [(root / rel, problem)] if problem else []
        return CheckUnit(rel, (rel,), check)

    return [unit(rel, task) for rel, task in files_to_read(cls, counts)]


def _stamp(root: Path, paths: Sequence[str]) -> tuple[list[int] | None, list[tuple[Path, str]]]:
    """``[size, mtime_ns]`` of each file (flattened), or the missing files as problems."""
    stamp: list[int] = []
    missing = []
    for rel in paths:
        try:
            st = os.stat(root / rel)
        except OSError:
            missing.append((root / rel, "file is missing"))
            continue
        stamp += [st.st_size, st.st_mtime_ns]
    return (None, missing) if missing else (stamp, [])


def check_files(cls: DenseDataset, root: Path, hw: tuple[int, int],
                counts: dict[str, int], cache: Path | None = None,
                workers: int | None = None) -> DataCheck:
    """Check the first ``counts[split]`` samples of each split under ``root`` (every file of
    each, in the adapter's units, :meth:`DenseDataset.check_units`), skipping units whose files'
    ``(size, mtime)`` passed before (``cache``: a file of :func:`cache_path`, ``None``: no
    cache)."""
    t0 = time.perf_counter()
    root = Path(root)
    hw = (int(hw[0]), int(hw[1]))
    identity = _identity(cls, root, hw)
    known = _load_cache(cache, identity)
    result = DataCheck()
    passed: dict[str, list[int]] = {}
    todo: list[tuple[CheckUnit, list[int]]] = []
    for unit in cls.check_units(root, hw, counts):
        result.files += len(unit.paths)
        stamp, missing = _stamp(root, unit.paths)
        if stamp is None:
            result.problems += missing
        elif known.get(unit.key) == stamp:
            passed[unit.key] = stamp
            result.cached += len(unit.paths)
        else:
            todo.append((unit, stamp))

    def check(item: tuple[CheckUnit, list[int]]) -> tuple[CheckUnit, list[int],
                                                          list[tuple[Path, str]]]:
        unit, stamp = item
        return unit, stamp, unit.check()

    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for unit, stamp, problems in pool.map(check, todo, chunksize=16):
            result.checked += len(unit.paths)
            if problems:
                result.problems += problems
            else:
                passed[unit.key] = stamp
    if cache is not None and result.checked:
        try:
            atomic_write_json(cache, {"identity": identity, "files": {**known, **passed}},
                              indent=None)
        except OSError:
            pass  # a cache that cannot be written only costs a re-check next time
    result.problems.sort(key=lambda p: str(p[0]))
    result.seconds = time.perf_counter() - t0
    return result


def require_valid(cls: DenseDataset, root: Path, hw: tuple[int, int],
                  counts: dict[str, int], cache: Path | None = None,
                  consequence: str = "no run was started") -> DataCheck:
    """:func:`check_files`, raising a :class:`DatasetError` that names every bad file."""
    result = check_files(cls, root, hw, counts, cache)
    if result.problems:
        raise problems_error(cls, root, result.problems, consequence)
    return result


def problems_error(cls: DenseDataset, root: Path, problems: Iterable[tuple[Path, str]],
                   consequence: str = "no run was started") -> DatasetError:
    """The error naming bad files (the first :data:`SHOWN`, then a count)."""
    problems = list(problems)
    lines = [f"  {path}: {problem}" for path, problem in problems[:SHOWN]]
    if len(problems) > SHOWN:
        lines.append(f"  … and {len(problems) - SHOWN} more")
    what = "file fails" if len(problems) == 1 else "files fail"
    error = cls._error(root, f"{len(problems)} {what} the data check; {consequence}:\n"
                             + "\n".join(lines))
    error.hint = "Fix or replace these files, then run the command again.\n" + (error.hint or "")
    return error
