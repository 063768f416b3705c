"""mmengine hooks of the harness: run state (history, timing, RNG, divergence) and progress."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import Hook

from bench.config.schema import DIVERGE_ABOVE
from bench.engine.distributed import (
    average_log_values,
    gather_objects,
    is_main,
    rank,
    rank_seed,
    world_size,
)
from bench.engine.evaluation import evaluate, improves, select_epoch
from bench.engine.memory import PeakMemory
from bench.engine.progress import ProgressSink
from bench.engine.weights_only import (
    from_plain_message_hub,
    rng_state,
    set_rng_state,
    to_plain_message_hub,
)
from bench.records.atomic import atomic_write_json, atomic_write_with
from bench.tasks import Task


class DivergedError(RuntimeError):
    """Training produced a non-finite loss, or one beyond ``train.diverge_above``."""


@dataclass
class EpochEvaluation:
    """What the run evaluates every ``interval`` epochs, and how it selects its epoch.

    ``validation`` is the loader of the validation subset (``None`` without one); ``test`` the
    test split's, evaluated per epoch only when the rule is ``best-test`` and at the epochs in
    ``test_epochs`` (the last ``eval.average_last`` evaluations, whose test metrics are averaged).
    The weights of the selected epoch so far are kept in ``best_weights`` (rules ``best-val`` and
    ``best-test``).
    """

    tasks: Sequence[Task]
    validation: Any
    test: Any
    selection: str
    interval: int
    best_weights: Path
    test_epochs: frozenset[int] = frozenset()

    @staticmethod
    def evaluated_epochs(epochs: int, interval: int) -> list[int]:
        """The epochs after which the run evaluates: every ``interval``-th and the last."""
        return sorted({e for e in range(1, epochs + 1) if e % interval == 0} | {epochs})

    @property
    def selection_key(self) -> str | None:
        return {"best-val": "val", "best-test": "test"}.get(self.selection)


class RunStateHook(Hook):
    """Collects what the record needs and makes resumed runs continue exactly.

    * one history entry per epoch: the mean training losses, and on evaluation epochs the
      validation metrics (``metrics``) and, with ``best-test``, the test metrics (``test``),
      evaluated right after the epoch's training and persisted before its checkpoint is
      written, so a resumed run keeps its earlier epochs and recomputes the others;
    * the selected epoch so far (:mod:`bench.engine.evaluation`) and its weights;
    * time per training step (wall clock, CUDA-synchronised) and peak memory;
    * RNG states and the run state (history, resume count, training time) saved into every
      checkpoint and restored on resume, so a killed run ends with the same numbers and the same
      history as an uninterrupted one (CPU); ``bench_state.json`` mirrors the state between
      checkpoints (an unreadable one is ignored: the checkpoint's copy is authoritative);
    * the message hub stored without ``HistoryBuffer`` objects (see :mod:`bench.engine.weights_only`);
    * a non-finite loss, or one whose magnitude exceeds ``diverge_above``, stops training with
      :class:`DivergedError`.

    In a data-parallel run (:mod:`bench.engine.distributed`) the hook runs in every process,
    on the log values averaged over them (:class:`AverageLogValuesHook`), so every process
    makes the same divergence decision and evaluation (sharded) gives every process the same
    metrics; only rank 0 writes the selected weights. Every process draws its own random
    numbers (Gumbel samples, a control's partners): rank 0 the stream one process would draw
    from, rank r > 0 a stream seeded from (``seed``, r). Every epoch the processes' RNG states
    are gathered, and rank 0's checkpoints carry all of them (``bench_rng_ranks``), so a resumed
    run continues every process's stream; resumed with another process count, rank 0 continues
    its own stream and the others start new ones.
    """

    priority = "VERY_HIGH"

    def __init__(self, state_file: Path, device: torch.device,
                 evaluation: EpochEvaluation | None = None,
                 diverge_above: float = DIVERGE_ABOVE, seed: int = 0) -> None:
        self.state_file = Path(state_file)
        self.device = device
        self.evaluation = evaluation
        self.diverge_above = float(diverge_above)
        self.seed = int(seed)
        self._rank_rng: list[dict[str, Any]] | None = None
        self._reseed = False
        #: what happened to the saved state that the run's log should mention
        self.notes: list[str] = []
        self._checkpoint_state: dict[str, Any] | None = None
        self.history: list[dict[str, Any]] = []
        self.step_times: list[float] = []
        self.resumed = 0
        self.previous_train_time = 0.0
        self.train_time = 0.0
        self._epoch_losses: dict[str, list[float]] = {}
        self._pending_rng: dict[str, Any] | None = None
        self._t0 = 0.0
        self.memory = PeakMemory(device)
        saved = self._read_state_file()
        if saved is not None:
            self.history = list(saved.get("history") or [])
            self.previous_train_time = float(saved.get("train_time") or 0.0)
            self.resumed = int(saved.get("resumed") or 0)

    def _read_state_file(self) -> dict[str, Any] | None:
        if not self.state_file.exists():
            return None
        try:
            saved = json.loads(self.state_file.read_text())
            if not isinstance(saved, dict) or not isinstance(saved.get("history", []), list):
                raise ValueError(f"a JSON {type(saved).__name__} without a history list")
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            self.notes.append(f"ignored the unreadable {self.state_file.name} ({exc}); the run "
                              "state comes from its checkpoint")
            return None
        return saved

    # -- checkpoints ----------------------------------------------------------------------------
    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        checkpoint["message_hub"] = to_plain_message_hub(checkpoint["message_hub"])
        meta = checkpoint.setdefault("meta", {})
        meta["bench_rng"] = rng_state()
        if self._rank_rng is not None:
            meta["bench_rng_ranks"] = self._rank_rng
        meta["bench_state"] = self._state()

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        if "message_hub" in checkpoint:
            checkpoint["message_hub"] = from_plain_message_hub(checkpoint["message_hub"])
        meta = checkpoint.get("meta", {})
        ranks = meta.get("bench_rng_ranks")
        if world_size() > 1 and isinstance(ranks, list) and len(ranks) == world_size():
            self._pending_rng, self._reseed = ranks[rank()], False
        else:  # one process, or resumed with another process count
            self._pending_rng, self._reseed = meta.get("bench_rng"), rank() > 0
        state = meta.get("bench_state")
        self._checkpoint_state = state if isinstance(state, dict) else None

    # -- training -------------------------------------------------------------------------------
    def before_train(self, runner: Any) -> None:
        if self._pending_rng is not None:
            set_rng_state(self._pending_rng)
            self._pending_rng = None
        if rank() > 0 and (runner.iter == 0 or self._reseed):  # this process's own stream
            torch.manual_seed(rank_seed(self.seed, rank(), int(runner.iter)))
        self.memory.reset()
        self._t0 = time.perf_counter()
        if runner.iter == 0:  # fresh start (no checkpoint): forget any earlier attempt
            self.history, self.resumed, self.previous_train_time = [], 0, 0.0
            self._checkpoint_state = None
            return
        saved = self._checkpoint_state
        if saved is not None:  # the checkpoint's own copy: consistent with its weights
            self.history = list(saved.get("history") or [])
            self.resumed = max(self.resumed, int(saved.get("resumed") or 0))
            self.previous_train_time = max(self.previous_train_time,
                                           float(saved.get("train_time") or 0.0))
            self._checkpoint_state = None
        self.resumed += 1
        # keep only epochs up to the checkpoint (later ones will be recomputed)
        self.history = [h for h in self.history if h["epoch"] <= int(runner.epoch)]
        self.persist()

    def before_train_epoch(self, runner: Any) -> None:
        self._epoch_losses = {}

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        self._sync()
        self._iter_start = time.perf_counter()

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: dict | None = None) -> None:
        self._sync()
        self.step_times.append(time.perf_counter() - self._iter_start)
        outputs = outputs or {}
        for key, value in outputs.items():
            v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            if key == "loss" and not math.isfinite(v):
                raise DivergedError(f"non-finite loss ({v}) at epoch {runner.epoch + 1}, "
                                    f"iteration {runner.iter + 1}")
            if key == "loss" and abs(v) > self.diverge_above:
                raise DivergedError(f"loss {v:.4g} beyond train.diverge_above="
                                    f"{self.diverge_above:g} at epoch {runner.epoch + 1}, "
                                    f"iteration {runner.iter + 1}")
            self._epoch_losses.setdefault(key, []).append(v)
        self.memory.sample()

    def after_train_epoch(self, runner: Any) -> None:
        epoch = int(runner.epoch) + 1
        entry: dict[str, Any] = {"epoch": epoch, "iter": int(runner.iter),
                                 "train": {k: sum(v) / len(v) for k, v in
                                           self._epoch_losses.items() if v}}
        counted = {k: len(v) for k, v in self._epoch_losses.items() if k.startswith("probe_")}
        if counted:  # the collapse probe's spread over the epoch needs its step count
            entry["train_n"] = counted
        ev = self.evaluation
        if ev is not None and (epoch % ev.interval == 0 or epoch == runner.max_epochs):
            if ev.validation is not None:
                entry["metrics"] = evaluate(runner.model, ev.validation, ev.tasks)
            if ev.selection == "best-test" or epoch in ev.test_epochs:
                entry["test"] = evaluate(runner.model, ev.test, ev.tasks)
            key = ev.selection_key
            if key is not None and key in entry:
                best = self.best_epoch()
                previous = next((h[key] for h in self.history if h["epoch"] == best), None)
                if improves(entry[key], previous, ev.tasks) and is_main():
                    save_weights(runner.model, ev.best_weights)
        self.history = [h for h in self.history if h["epoch"] != epoch] + [entry]
        self.persist()
        if world_size() > 1:  # for rank 0's checkpoint of this epoch
            self._rank_rng = gather_objects(rng_state())

    def after_train(self, runner: Any) -> None:
        self.train_time = time.perf_counter() - self._t0
        self.persist()

    def best_epoch(self) -> int | None:
        """The epoch the selection rule picks among the history so far (``None``: none yet)."""
        ev = self.evaluation
        if ev is None or ev.selection_key is None:
            return None
        return select_epoch(self.history, ev.selection_key, ev.tasks)

    def _state(self) -> dict[str, Any]:
        return {"history": self.history, "resumed": self.resumed,
                "train_time": self.previous_train_time + (
                    time.perf_counter() - self._t0 if self._t0 else 0.0)}

    def persist(self) -> None:
        """Write the run state to ``bench_state.json`` (atomically)."""
        atomic_write_json(self.state_file, self._state(), indent=None)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def step_time(self, warmup: int = 3) -> float | None:
        """Median wall time of one training step, ignoring the first ``warmup`` steps."""
        times = self.step_times[warmup:] or self.step_times
        if not times:
            return None
        times = sorted(times)
        return times[len(times) // 2]


class AverageLogValuesHook(Hook):
    """Data-parallel runs: every step's log values (the loss included) become their average
    over the processes (:func:`bench.engine.distributed.average_log_values`) before any other
    hook sees them, so the history, the log, the progress display and the divergence check see
    the global batch's loss, and every process stops at the same step. A no-op in one
    process."""

    priority = "HIGHEST"

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: dict | None = None) -> None:
        if outputs and world_size() > 1:
            outputs.update(average_log_values(outputs))


def save_weights(model: torch.nn.Module, path: Path) -> None:
    """The model's ``state_dict`` at ``path``, written atomically (see :mod:`bench.records.atomic`)."""
    atomic_write_with(Path(path), lambda f: torch.save(model.state_dict(), f))


class ConsistencyRampHook(Hook):
    """Ramps a method's consistency terms up linearly over its first ``rampup_epochs`` epochs.

    Before every training step the model's ``consistency_scale`` is set to
    :math:`\\min(1, (e + i / I) / E_r)` (epoch ``e``, step ``i`` of ``I``, ramp length
    :math:`E_r` = the method's declared
    :attr:`~bench.method.base.PartialLabelMethod.rampup_epochs`), as the official scripts'
    ``--rampup up`` does over 100 epochs; 1 when the method has no ramp-up. A function of the step alone, so a
    resumed run continues exactly.
    """

    priority = "HIGH"

    def before_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None) -> None:
        model = runner.model
        epochs = float(model.rampup_epochs)
        if epochs <= 0:
            return
        progress = runner.epoch + batch_idx / max(len(runner.train_dataloader), 1)
        model.consistency_scale = min(1.0, progress / epochs)


class ProgressHook(Hook):
    """Reports iterations and per-epoch evaluations of one run to a :class:`ProgressSink`."""

    priority = "LOW"

    def __init__(self, sink: ProgressSink, key: str, label: str, primary: list[str],
                 state: RunStateHook) -> None:
        self.sink = sink
        self.key = key
        self.label = label
        self.primary = primary
        self.state = state
        self.info = ""

    def before_train(self, runner: Any) -> None:
        self.sink.start(self.key, self.label, runner.max_iters, runner.iter)

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: dict | None = None) -> None:
        value = (outputs or {}).get("loss", float("nan"))
        loss = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
        self.sink.update(self.key, runner.iter + 1,
                         f"ep {runner.epoch + 1}/{runner.max_epochs} loss {loss:.3f} {self.info}")

    def after_train_epoch(self, runner: Any) -> None:
        last = self.state.history[-1] if self.state.history else {}
        metrics, where = (last.get("metrics"), "val") if "metrics" in last else (
            last.get("test"), "test")
        if metrics:
            parts = [f"{k.split('/')[0][:4]} {metrics[k]:.3g}" for k in self.primary
                     if k in metrics]
            self.info = f"· {where} " + " ".join(parts)
