"""``bench perf``: training-step time of each method relative to SL, side by side on one batch.

Every method is built with the same seed and width, gets real optimiser wrappers (its own groups:
net, FiLM, discriminator…) and runs its real ``train_step`` on the *same* batch (random images
and labels shaped like the dataset's, a label mask from a regime, and the second view the
cross-task methods use). Methods are timed in interleaved rounds (method A, B, … then again) so
drift of the machine affects all alike; the median step time is reported with the FLOPs of one
step (forward + backward, ``torch.utils.flop_counter``), so a time ratio can be compared with the
work ratio. ``xtc-loop`` (:data:`LOOP_REFERENCE`) times the same xtc loss computed as the
official code does (a Python loop over images and pairs, one mapping call per input). Methods
are built through the registry only: this module knows no method.

A row may name a task weighting (``sl+gradnorm``, :mod:`bench.rows`): the same method with that
weighting, so its cost relative to the method's equal-weight row is the weighting's own cost (for
GradNorm and the aggregators: one more backward pass per task to get the per-task gradients).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from mmengine.optim import OptimWrapper, OptimWrapperDict
from torch.utils.flop_counter import FlopCounterMode

from bench.metadata import split_row
from bench.regimes import parse_regime
from bench.registry import METHODS, get_dataset
from bench.tasks import Task

#: the registered variant that computes xtc's loss the official code's way
LOOP_REFERENCE = "xtc-loop"


@dataclass
class PerfResult:
    method: str
    step_s: float
    steps: int
    flops: float

    def ratio(self, base: PerfResult) -> float:
        return self.step_s / base.step_s

    def flop_ratio(self, base: PerfResult) -> float:
        return self.flops / base.flops if base.flops else float("nan")

    def equal_row(self) -> str:
        """The row of the same method with equal weights (itself when it has them)."""
        return split_row(self.method)[0]


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


def _wrappers(model: torch.nn.Module) -> OptimWrapper | OptimWrapperDict:
    groups = model.optim_groups()
    wrappers = {k: OptimWrapper(torch.optim.Adam(v, lr=1e-4)) for k, v in groups.items()}
    return wrappers["net"] if len(wrappers) == 1 else OptimWrapperDict(**wrappers)


def measure(methods: list[str], dataset: str, *, width: float, batch: int, height: int,
            width_px: int, regime: str, steps: int, rounds: int, warmup: int,
            device: str = "cpu", progress: Callable[[str], None] | None = None,
            arch: str | None = None) -> list[PerfResult]:
    """Median training-step time and FLOPs per row (method or method+weighting) on one shared
    batch (backbone ``arch``, SegNet when ``None``)."""
    tasks = get_dataset(dataset).build_tasks()
    data = random_batch(tasks, batch, height, width_px, regime)
    models, wrappers, flops = {}, {}, {}
    for name in methods:
        torch.manual_seed(0)
        method, weighting = split_row(name)
        model = METHODS.build({"type": method, "tasks": tasks, "width": width,
                               "weighting": weighting,
                               **({"arch": arch} if arch else {})}).to(device).train()
        models[name], wrappers[name] = model, _wrappers(model)
        for _ in range(warmup):
            model.train_step(data, wrappers[name])
        with FlopCounterMode(display=False) as counter:
            model.train_step(data, wrappers[name])
        flops[name] = float(counter.get_total_flops())
        if progress:
            progress(f"built {name}: {flops[name] / 1e9:.1f} GFLOP per step")
    times: dict[str, list[float]] = {name: [] for name in methods}
    for r in range(rounds):
        for name in methods:
            for _ in range(steps):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                models[name].train_step(data, wrappers[name])
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times[name].append(time.perf_counter() - t0)
        if progress:
            progress(f"round {r + 1}/{rounds} done")
    return [PerfResult(n, statistics.median(times[n]), len(times[n]), flops[n]) for n in methods]
