"""Write a synthetic dataset to disk in the MTAN layout of NYUv2 or Cityscapes, or in the
PASCAL-Context multi-task layout (:mod:`pascal_writer`).

Image ``i`` of split ``s`` is rendered from ``np.random.default_rng([seed, split_id, i])`` alone
(``split_id`` 0 = train, 1 = val), so any subset can be regenerated and the output does not depend
on the number of worker processes. Files go to ``ROOT.tmp-<pid>`` first; the manifest
``synthetic.json`` is written last and the folder is then renamed to ``ROOT`` in one
``os.replace``, so an interrupted run never leaves a complete-looking dataset behind.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np

from bench.data.render.classes import CITYSCAPES7_CLASSES, CITYSCAPES19_CLASSES, NYUV2_CLASSES
from bench.data.render.indoor import render_indoor
from bench.data.render.pascal import PASCAL_GENERATOR_VERSION, VOC_CLASSES, render_pascal
from bench.data.render.pascal_writer import FOLDERS as PASCAL_FOLDERS
from bench.data.render.pascal_writer import write_pascal_sample, write_split_lists
from bench.data.render.street import render_street

SPLITS = (("train", 0), ("val", 1))
FOLDERS = {
    "nyuv2": ("image", "label", "depth", "normal"),
    "cityscapes": ("image", "label_7", "label_19", "depth"),
    "pascal": PASCAL_FOLDERS,
}
#: kinds whose files are per split folder (``ROOT/{train,val}/<folder>/{i}.npy``)
SPLIT_FOLDER_KINDS = ("nyuv2", "cityscapes")
MANIFEST = "synthetic.json"
#: Bump whenever the rendered content changes, so that stale generated datasets are rebuilt.
GENERATOR_VERSION = 1
#: fewer jobs than this per extra process are rendered in-process: starting a spawned worker
#: (which imports torch through ``bench.data``) costs about as much as 150–250 small images
MIN_JOBS_PER_WORKER = 200

Job = tuple[str, int, int, int, int, int, str]  # kind, seed, split_id, index, h, w, split dir


def render_sample(kind: str, seed: int, split_id: int, index: int, height: int,
                  width: int) -> dict[str, np.ndarray]:
    """Arrays of one sample, keyed by layout folder (``image``, ``label``/``label_7``…)."""
    rng = np.random.default_rng([seed, split_id, index])
    if kind == "nyuv2":
        return render_indoor(rng, height, width)
    if kind == "cityscapes":
        return render_street(rng, height, width)
    if kind == "pascal":
        return render_pascal(rng, height, width)
    raise ValueError(f"unknown synthetic dataset kind {kind!r}; expected one of {list(FOLDERS)}")


def _write(job: Job) -> int:
    kind, seed, split_id, index, height, width, split_dir = job
    sample = render_sample(kind, seed, split_id, index, height, width)
    if kind not in SPLIT_FOLDER_KINDS:
        write_pascal_sample(Path(split_dir).parent, split_id, index, sample)
        return index
    for folder in FOLDERS[kind]:
        np.save(Path(split_dir) / folder / f"{index}.npy", sample[folder])
    return index


def _jobs(kind: str, tmp: Path, sizes: dict[str, int], seed: int, height: int,
          width: int) -> Iterator[Job]:
    for split, split_id in SPLITS:
        for i in range(sizes[split]):
            yield (kind, seed, split_id, i, height, width, str(tmp / split))


def _run_parallel(jobs: list[Job], workers: int) -> list[Job]:
    """Run ``jobs`` in spawned processes; returns the jobs left undone if the pool broke (a
    worker could not start, e.g. under an interpreter whose main module cannot be re-imported),
    which the caller then runs in-process. Errors raised by a job propagate."""
    ctx = multiprocessing.get_context("spawn")
    chunk = max(1, len(jobs) // (8 * workers))
    done: set[int] = set()
    try:
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            for k, _ in enumerate(pool.map(_write, jobs, chunksize=chunk)):
                done.add(k)
    except BrokenProcessPool:
        return [job for k, job in enumerate(jobs) if k not in done]
    return []


def manifest(kind: str, *, n_train: int, n_val: int, height: int, width: int,
             seed: int) -> dict:
    """The content of ``synthetic.json``."""
    out: dict = {"kind": kind, "generator_version": GENERATOR_VERSION, "seed": seed,
                 "n_train": n_train, "n_val": n_val, "height": height, "width": width}
    if kind == "nyuv2":
        out["classes"] = list(NYUV2_CLASSES)
        out["depth"] = "metres, 0 = missing"
    elif kind == "pascal":
        out["pascal_version"] = PASCAL_GENERATOR_VERSION
        out["classes"] = list(VOC_CLASSES)
    else:
        out["classes"] = list(CITYSCAPES7_CLASSES)
        out["classes_19"] = list(CITYSCAPES19_CLASSES)
        out["depth"] = "inverse depth (1/m), 0 = missing"
    return out


def generate_dataset(kind: str, root: Path, *, n_train: int, n_val: int, height: int,
                     width: int, seed: int, workers: int = 1) -> None:
    """Render ``n_train``/``n_val`` samples of ``kind`` (``"nyuv2"`` or ``"cityscapes"``) into
    ``root`` in the real dataset's layout; an existing ``root`` is replaced.

    ``workers > 1`` renders in up to that many spawned processes (one per
    :data:`MIN_JOBS_PER_WORKER` images at most, as starting a process is not free); the files are
    byte-identical to a single-process run because every sample depends only on
    ``(seed, split, index)``.
    """
    if kind not in FOLDERS:
        raise ValueError(f"unknown synthetic dataset kind {kind!r}; "
                         f"expected one of {list(FOLDERS)}")
    if min(n_train, n_val) < 0 or min(height, width) < 8:
        raise ValueError("need n_train, n_val ≥ 0 and height, width ≥ 8")
    root = Path(root)
    tmp = root.with_name(f"{root.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    sizes = {"train": n_train, "val": n_val}
    try:
        for split, _ in SPLITS:
            for folder in FOLDERS[kind]:
                base = tmp / split if kind in SPLIT_FOLDER_KINDS else tmp
                (base / folder).mkdir(parents=True, exist_ok=True)
        jobs = list(_jobs(kind, tmp, sizes, seed, height, width))
        procs = min(workers, len(jobs) // MIN_JOBS_PER_WORKER)
        if procs > 1:
            jobs = _run_parallel(jobs, procs)
        for job in jobs:
            _write(job)
        if kind not in SPLIT_FOLDER_KINDS:
            write_split_lists(tmp, sizes)
        info = manifest(kind, n_train=n_train, n_val=n_val, height=height, width=width, seed=seed)
        (tmp / MANIFEST).write_text(json.dumps(info, indent=2) + "\n")
        if root.exists():
            old = root.with_name(f"{root.name}.old-{os.getpid()}")
            os.replace(root, old)
            os.replace(tmp, root)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
