"""Profiles: the protocol's hyper-parameters as data (JSON files in ``bench/profiles``).

A profile holds defaults (``model``, ``train``, ``eval``; optional ``data``: ``size`` [H, W]
to resize to, ``limit`` {train: N, val: M} to use only the first images of each split),
per-method settings under ``methods`` (keyed by method family, e.g. ``xtc`` applies to ``xtc``,
``xtc-nocond``, …, or by exact method name) and per-dataset overrides under ``datasets``
(deep-merged over the defaults; a synthetic set also takes the overrides of the real set it
imitates). ``--profile PATH.json`` loads a profile
file of the same shape from anywhere.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from bench.errors import BenchError, unknown_name

PROFILE_DIR = Path(__file__).parent / "profiles"


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def load_profile(name: str) -> dict[str, Any]:
    """The raw profile ``name`` (a shipped profile name or a path to a JSON file)."""
    path = Path(name)
    if not (name.endswith(".json") and path.is_file()):
        path = PROFILE_DIR / f"{name}.json"
        if not path.is_file():
            raise unknown_name("profile", name, profile_names())
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        raise BenchError(f"Profile {path} is not valid JSON: {exc}") from None
    for key in ("model", "train", "eval"):
        if key not in data:
            raise BenchError(f"Profile {path} has no '{key}' section.",
                             f"See {PROFILE_DIR / 'paper.json'} for the expected shape.")
    return data


def deep_merge(base: dict, over: dict) -> dict:
    """``base`` updated recursively with ``over`` (new dict; inputs untouched)."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_profile(name: str, dataset_keys: list[str]) -> dict[str, Any]:
    """Profile defaults merged with the ``datasets`` overrides of each key in ``dataset_keys``."""
    raw = load_profile(name)
    merged = {k: v for k, v in raw.items() if k not in ("datasets", "description")}
    for key in dataset_keys:
        merged = deep_merge(merged, raw.get("datasets", {}).get(key, {}))
    return merged


def parse_overrides(items: list[str] | tuple[str, ...]) -> list[tuple[str, Any]]:
    """``['train.epochs=3', 'methods.xtc.con_weight=1']`` → ``[('train.epochs', 3), …]``."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BenchError(f"Bad --set '{item}'.", "Write --set section.key=value, "
                             "e.g. --set train.epochs=3.")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out.append((key.strip(), parsed))
    return out


def apply_overrides(config: dict, overrides: list[tuple[str, Any]]) -> dict:
    out = copy.deepcopy(config)
    for key, value in overrides:
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BenchError(f"--set {key}: '{part}' is not a section.")
        node[parts[-1]] = value
    return out
