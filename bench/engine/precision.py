"""Mixed precision (``train.amp``) and memory layout (``model.channels_last``) of a run.

``train.amp``:

* ``off`` (default): float32 everywhere.
* ``bf16`` / ``fp16`` on CUDA: mmengine's :class:`~mmengine.optim.AmpOptimWrapper` per optimiser
  group: the forward runs under ``torch.autocast`` and the loss is scaled by a ``GradScaler``.
  The groups that step after one backward (net, FiLM: :func:`bench.method.base.joint_step`) share
  the net group's scaler, the documented multi-optimiser recipe of ``torch.amp``: one scaled
  backward, ``scaler.step`` per optimiser, one ``scaler.update``.
* ``bf16`` on the CPU: :class:`CpuAutocastOptimWrapper` (autocast to bfloat16, no loss scaling:
  bfloat16 has float32's exponent range). ``fp16`` on the CPU is refused (exit 2).

The losses are reduced in float32 (:func:`bench.weightings.losses.loss_matrix`); the parameters, their
gradients and the optimiser state stay float32. ``model.channels_last`` stores every 4-D
parameter and the input images in NHWC order (``torch.channels_last``); convolutions then keep
that layout. Both keys are in the run's identity when set (autocast and the NHWC kernels round
differently); at ``off`` / ``false`` they are left out of it (:data:`IDENTITY_NEUTRAL`), so runs
from before they existed keep their identity.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict

from bench.errors import BenchError

AMP_MODES = ("off", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class CpuAutocastOptimWrapper(OptimWrapper):
    """An :class:`OptimWrapper` whose ``optim_context`` runs the forward under CPU autocast."""

    def __init__(self, dtype: torch.dtype = torch.bfloat16, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast("cpu", dtype=self.cast_dtype):
            yield


def amp_mode(config: dict[str, Any]) -> str:
    """The run's ``train.amp`` (``off`` when the config leaves it out)."""
    return str(config["train"].get("amp", "off"))


def channels_last(config: dict[str, Any]) -> bool:
    """The run's ``model.channels_last`` (``False`` when the config leaves it out)."""
    return bool(config["model"].get("channels_last", False))


def check_amp(mode: str, device: torch.device | str) -> None:
    """Refuse an autocast mode the device cannot run (:class:`BenchError`, exit 2)."""
    kind = torch.device(device).type
    if mode not in AMP_MODES:
        raise BenchError(f"train.amp={mode!r} is not one of {', '.join(AMP_MODES)}.")
    if mode == "fp16" and kind != "cuda":
        raise BenchError("train.amp=fp16 needs a CUDA GPU; this run would train on the CPU.",
                         "Use --set train.amp=bf16 (CPU autocast) or train.amp=off.")
    if mode == "bf16" and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise BenchError("train.amp=bf16: this GPU does not support bfloat16.",
                         "Use --set train.amp=fp16 or train.amp=off.")


def make_optim_wrapper(optimizer: torch.optim.Optimizer, mode: str,
                       device: torch.device | str) -> OptimWrapper:
    """The optimiser wrapper of one group for ``train.amp`` = ``mode`` on ``device``."""
    check_amp(mode, device)
    if mode == "off":
        return OptimWrapper(optimizer=optimizer)
    if torch.device(device).type == "cuda":
        return AmpOptimWrapper(optimizer=optimizer, dtype=_DTYPES[mode])
    return CpuAutocastOptimWrapper(optimizer=optimizer, dtype=_DTYPES[mode])


def forward_context(optim_wrapper: OptimWrapper, model: torch.nn.Module
                    ) -> Any:
    """The context a training forward runs in: the net group's ``optim_context`` (autocast
    under ``train.amp``); an :class:`OptimWrapperDict` has none of its own."""
    if isinstance(optim_wrapper, OptimWrapperDict):
        return optim_wrapper["net"].optim_context(model)
    return optim_wrapper.optim_context(model)


def use_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Store ``model``'s 4-D parameters and buffers in channels-last order (in place)."""
    return model.to(memory_format=torch.channels_last)
