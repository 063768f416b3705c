"""``bench perf``: training-step time of each method relative to SL, side by side on one batch.

Every method is built with the same seed and width, gets real optimiser wrappers (its own groups:
net, FiLM, discriminator…) and runs its real ``train_step`` on the *same* batch (random images
and labels shaped like the dataset's, a label mask from a regime, and the second view the
cross-task methods use). Steps are interleaved: each round times one step of every
(method, variant) in turn, so drift and the load of other processes on the machine affect all
alike; with ``rounds`` ≥ 10 every entry gets ≥ 10 timed steps. Each round gives every entry a
ratio to SL's step of the same round and variant; the table reports the median ratio with its
interquartile range, next to the FLOPs of one step (forward + backward,
``torch.utils.flop_counter``), so a time ratio can be compared with the work ratio.

A *variant* is a precision / memory layout (:data:`VARIANTS`): ``fp32``, ``bf16`` (autocast, as
``train.amp=bf16``), ``channels_last`` (as ``model.channels_last=true``) or both; with several,
each entry's speed-up over its own ``fp32`` steps is reported, again per round.
``xtc-loop`` (:data:`LOOP_REFERENCE`) times the same xtc loss computed as the official code does
(a Python loop over images and pairs, one mapping call per input). Methods are built through the
registry only: this module knows no method.

A row may name a task weighting (``sl+gradnorm``, :mod:`bench.config.rows`): the same method with that
weighting, so its cost relative to the method's equal-weight row is the weighting's own cost (for
GradNorm and the aggregators: one more backward pass per task to get the per-task gradients).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.utils.flop_counter import FlopCounterMode

from bench.engine.precision import make_optim_wrapper
from bench.errors import BenchError
from bench.labels.regimes import parse_regime
from bench.metadata import split_row
from bench.registry import METHODS, get_dataset
from bench.tasks import Task

#: the registered variant that computes xtc's loss the official code's way
LOOP_REFERENCE = "xtc-loop"
#: variant name → (train.amp, model.channels_last)
VARIANTS: dict[str, tuple[str, bool]] = {
    "fp32": ("off", False), "bf16": ("bf16", False), "channels_last": ("off", True),
    "bf16+channels_last": ("bf16", True), "fp16": ("fp16", False)}


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) == 1:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


@dataclass
class PerfResult:
    """One (method, variant): its step times, FLOPs and per-round ratios to SL."""

    method: str
    variant: str
    times: list[float]
    flops: float
    ratios: list[float] = field(default_factory=list)  # per round: this step / SL's step
    speedups: list[float] = field(default_factory=list)  # per round: fp32 step / this step

    @property
    def label(self) -> str:
        return self.method if self.variant == "fp32" else f"{self.method} [{self.variant}]"

    @property
    def step_s(self) -> float:
        return statistics.median(self.times)

    @property
    def steps(self) -> int:
        return len(self.times)

    def ratio(self) -> tuple[float, float, float]:
        """(q25, median, q75) of the per-round time ratio to SL."""
        return _quartiles(self.ratios)

    def flop_ratio(self, base: PerfResult) -> float:
        return self.flops / base.flops if base.flops else float("nan")

    def equal_row(self) -> str:
        """The row of the same method with equal weights (itself when it has them)."""
        return split_row(self.method)[0]

    def speedup(self) -> tuple[float, float, float] | None:
        return _quartiles(self.speedups) if self.speedups else None

    def to_dict(self, base: PerfResult) -> dict[str, Any]:
        lo, mid, hi = self.ratio()
        fr = self.flop_ratio(base)
        return {"method": self.method, "variant": self.variant, "step_s": self.step_s,
                "steps": self.steps, "times_s": self.times, "flops": self.flops,
                "time_ratio": mid, "time_ratio_iqr": [lo, hi], "flop_ratio": fr,
                "time_per_flop_ratio": mid / fr, "time_per_flop_iqr": [lo / fr, hi / fr],
                "speedup_vs_fp32": self.speedup()}


def random_batch(tasks: tuple[Task, ...], batch: int, height: int, width: int, regime: str,
                 seed: int = 0) -> dict[str, Any]:
    """A fixed batch shaped like the dataset's, with a label mask drawn from ``regime``."""
    g = torch.Generator().manual_seed(seed)

    def labels() -> dict[str, torch.Tensor]:
        return {t.name: t.random_label(batch, height, width, g) for t in tasks}

    mask = torch.from_numpy(parse_regime(regime).mask(batch, [t.name for t in tasks], seed))
    lab, lab2 = labels(), labels()
    for k, t in enumerate(tasks):  # as the data pipeline does: unlabelled tasks are blank
        rows = ~mask[:, k]
        lab[t.name][rows] = t.blank_label(lab[t.name][rows])
        lab2[t.name][rows] = t.blank_label(lab2[t.name][rows])
    return {"image": torch.rand(batch, 3, height, width, generator=g), "labels": lab,
            "label_mask": mask, "index": torch.arange(batch),
            "view2": {"image": torch.rand(batch, 3, height, width, generator=g), "labels": lab2}}


def _wrappers(model: torch.nn.Module, amp: str = "off", device: str = "cpu"
              ) -> OptimWrapper | OptimWrapperDict:
    groups = model.optim_groups()
    wrappers = {k: make_optim_wrapper(torch.optim.Adam(v, lr=1e-4), amp, device)
                for k, v in groups.items()}
    return wrappers["net"] if len(wrappers) == 1 else OptimWrapperDict(**wrappers)


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(methods: list[str], dataset: str, *, width: float, batch: int, height: int,
            width_px: int, regime: str, rounds: int, warmup: int, device: str = "cpu",
            variants: tuple[str, ...] = ("fp32",),
            progress: Callable[[str], None] | None = None,
            arch: str | None = None, stages: int | None = None) -> list[PerfResult]:
    """Step times (one per round), FLOPs and per-round ratios of every (row, variant); a row is
    a method or method+weighting, on backbone ``arch`` (SegNet when ``None``) with ``stages``
    (``model.stages``), with the dataset's camera at the batch's size."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown or not variants:
        raise BenchError(f"Unknown perf variant(s) {', '.join(unknown) or '(none)'}.",
                         f"Choose from {', '.join(VARIANTS)}.")
    if methods[0] != "sl":
        raise ValueError("the first method must be sl, the base of the ratios")
    ds = get_dataset(dataset)
    tasks = ds.build_tasks()
    camera = ds.intrinsics((height, width_px))
    data = random_batch(tasks, batch, height, width_px, regime)
    entries: dict[tuple[str, str], tuple[torch.nn.Module, Any]] = {}
    results: dict[tuple[str, str], PerfResult] = {}
    for variant in variants:
        amp, nhwc = VARIANTS[variant]
        for name in methods:
            torch.manual_seed(0)
            method, weighting = split_row(name)
            model = METHODS.build({"type": method, "tasks": tasks, "width": width,
                                   "weighting": weighting, "camera": camera,
                                   **({"arch": arch} if arch else {}),
                                   **({"stages": stages} if stages else {})}).to(device)
            if nhwc:
                model.use_channels_last()
            model.train()
            wrappers = _wrappers(model, amp, device)
            for _ in range(warmup):
                model.train_step(data, wrappers)
            with FlopCounterMode(display=False) as counter:
                model.train_step(data, wrappers)
            entries[name, variant] = model, wrappers
            results[name, variant] = PerfResult(name, variant, [],
                                                float(counter.get_total_flops()))
            if progress:
                progress(f"built {results[name, variant].label}: "
                         f"{results[name, variant].flops / 1e9:.1f} GFLOP per step")
    for r in range(rounds):
        for key, (model, wrappers) in entries.items():
            _synchronise(device)
            t0 = time.perf_counter()
            model.train_step(data, wrappers)
            _synchronise(device)
            results[key].times.append(time.perf_counter() - t0)
        for (name, variant), res in results.items():
            res.ratios.append(res.times[-1] / results["sl", variant].times[-1])
            if "fp32" in variants and variant != "fp32":
                res.speedups.append(results[name, "fp32"].times[-1] / res.times[-1])
        if progress:
            progress(f"round {r + 1}/{rounds} done")
    return list(results.values())
