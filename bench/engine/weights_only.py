"""Checkpoints that mmengine 0.10.7 can resume from on torch ≥ 2.6.

torch 2.6 made ``torch.load(weights_only=True)`` the default. mmengine 0.10.7 calls ``torch.load``
without ``weights_only`` and its checkpoints hold ``HistoryBuffer`` objects whose pickles need
``getattr`` on functions, so resuming fails with an ``UnpicklingError``. The harness fixes it on
both ends, keeping the safe loader:

* :func:`to_plain_message_hub` (called from a hook before every save) stores the message hub's
  ``HistoryBuffer`` s as plain dicts of tensors, and :func:`from_plain_message_hub` (after every
  load) rebuilds them, so harness checkpoints contain only tensors and builtin containers;
* :func:`install_checkpoint_loader` registers a local-file loader for mmengine that reads with
  ``weights_only=True`` (allow-listing numpy's array reconstruction for checkpoints written by
  plain mmengine) and turns a refusal into a clear error instead of a deep traceback.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from bench.errors import BenchError

_PLAIN_TAG = "__bench_history_buffer__"
_installed = False


def _numpy_safe_globals() -> list[Any]:
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    dtypes = {type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                           np.int32, np.int64, np.uint8, np.uint32, np.bool_)}
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtypes]


def load_weights_only(filename: str, map_location: Any = None) -> Any:
    """``torch.load(weights_only=True)`` of a local file; the raw exception if it fails."""
    with torch.serialization.safe_globals(_numpy_safe_globals()):
        return torch.load(filename, map_location=map_location, weights_only=True)


def is_refused_pickle(exc: BaseException) -> bool:
    """Whether a load failed because the file holds objects ``weights_only`` refuses (as
    opposed to a truncated or corrupt file)."""
    return isinstance(exc, pickle.UnpicklingError) and "weights only" in str(exc).lower()


def describe_load_error(exc: BaseException) -> str:
    """One line saying why a checkpoint file could not be loaded."""
    first = (str(exc).splitlines() or [""])[0].strip()
    if is_refused_pickle(exc):
        return f"it holds Python objects that weights-only loading refuses ({first})"
    what = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"it is truncated or corrupt ({what})"


def load_from_local_weights_only(filename: str, map_location: Any = None) -> Any:
    """mmengine loader for local files: ``torch.load(weights_only=True)``, clear error if refused."""
    try:
        return load_weights_only(filename, map_location)
    except FileNotFoundError:
        raise BenchError(f"Checkpoint not found: {filename}",
                         "Run `bench run` again: it resumes from the newest intact checkpoint "
                         "of the run folder, or starts the run afresh if there is none.") from None
    except Exception as exc:  # noqa: BLE001 - unpickling refusals and corrupt files come as several types
        if is_refused_pickle(exc):
            hint = ("Harness checkpoints load with weights_only=True; this file holds other "
                    "Python objects. Remove the run folder to restart that run from scratch.")
        else:
            hint = ("The file is incomplete or damaged (a process killed while writing it, or a "
                    "disk problem). `bench run` skips such checkpoints and resumes from the "
                    "newest intact one; delete the file if you load it by hand.")
        raise BenchError(f"Cannot load checkpoint {filename}: {describe_load_error(exc)}.",
                         hint) from None


def install_checkpoint_loader() -> None:
    """Register :func:`load_from_local_weights_only` as mmengine's loader for local paths (idempotent)."""
    global _installed
    if _installed:
        return
    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local_weights_only, force=True)
    _installed = True


def to_plain_message_hub(state: dict[str, Any]) -> dict[str, Any]:
    """Message-hub state dict with every ``HistoryBuffer`` replaced by a dict of tensors."""
    scalars = {}
    for key, buf in state.get("log_scalars", {}).items():
        if isinstance(buf, HistoryBuffer):
            log, count = buf.data
            scalars[key] = {_PLAIN_TAG: True, "max_length": int(buf.max_length),
                            "log": torch.as_tensor(np.asarray(log, dtype=np.float64)),
                            "count": torch.as_tensor(np.asarray(count, dtype=np.float64))}
        else:
            scalars[key] = buf
    out = dict(state)
    out["log_scalars"] = scalars
    out["runtime_info"] = {k: _plain(v) for k, v in state.get("runtime_info", {}).items()}
    return out


def from_plain_message_hub(state: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`to_plain_message_hub`."""
    scalars = {}
    for key, value in state.get("log_scalars", {}).items():
        if isinstance(value, dict) and value.get(_PLAIN_TAG):
            buf = HistoryBuffer(max_length=value["max_length"])
            for v, c in zip(value["log"].tolist(), value["count"].tolist(), strict=True):
                buf.update(v, c)
            scalars[key] = buf
        else:
            scalars[key] = value
    out = dict(state)
    out["log_scalars"] = scalars
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.as_tensor(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    return value


def rng_state() -> dict[str, Any]:
    """Global RNG states (torch CPU/CUDA, numpy, random) as tensors and builtins."""
    import random

    np_state = np.random.get_state()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.as_tensor(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])],
        "random": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    import random

    torch.set_rng_state(state["torch"].cpu())
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    random.setstate(_tupleize(state["random"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _tupleize(x: Any) -> Any:
    return tuple(_tupleize(v) for v in x) if isinstance(x, (list, tuple)) else x
