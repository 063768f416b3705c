"""Execute one run: RunSpec config → mmengine Runner → record.json.

The run trains on its training images (the validation subset carved out), evaluates the
validation subset every ``val_interval`` epochs, selects an epoch by ``train.selection`` and
evaluates the test split once, at the end, on that epoch's weights (see
:mod:`bench.engine.evaluation`). The record is written atomically once the run ends (``ok``,
``diverged`` or ``failed``). An interrupted run (Ctrl-C, SIGKILL) leaves no record but its
checkpoints: running it again resumes from the last one.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from mmengine.device import get_device
from mmengine.runner import Runner, set_random_seed

from bench.engine.build import (
    Loaders,
    build_dataloaders,
    build_method,
    build_optimisation,
    needs_second_view,
    training_split,
)
from bench.engine.checkpoint import install_checkpoint_loader
from bench.engine.environment import environment
from bench.engine.evaluation import evaluate
from bench.engine.hooks import DivergedError, EpochEvaluation, ProgressHook, RunStateHook
from bench.engine.progress import NullSink, ProgressSink
from bench.engine.visuals import VISUALS, render_visuals, write_visuals
from bench.errors import BenchError
from bench.metrics import metric_key
from bench.record import Record, TaskEntry
from bench.regimes import mask_summary, pack_mask, parse_regime, training_mask
from bench.registry import dataset_info, get_dataset, method_info
from bench.runspec import RunSpec, config_hash, group_hash
from bench.store import write_record
from bench.weightings import weighting_info

FINAL_WEIGHTS = "model_final.pth"
BEST_WEIGHTS = "best.pth"


def run_one(spec: RunSpec, config: dict[str, Any], directory: Path,
            sink: ProgressSink | None = None) -> Record:
    """Train and evaluate one run in ``directory``; return (and write) its record."""
    install_checkpoint_loader()
    sink = sink or NullSink()
    directory = Path(directory)
    work = directory / "work"
    work.mkdir(parents=True, exist_ok=True)
    key = directory.name
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    device = torch.device(get_device())

    ds_cls = get_dataset(spec.dataset)
    tasks = ds_cls.build_tasks()
    names = [t.name for t in tasks]
    split = training_split(config)
    mask = training_mask(parse_regime(config["regime"]), split.train,
                         int(config["dataset"]["fingerprint"]["sizes"]["train"]), names,
                         spec.seed)

    record = Record(
        run_id=config_hash(config)[:12], group_id=group_hash(config)[:12],
        config_hash=config_hash(config), spec=spec.to_dict(), config=config,
        tasks=[TaskEntry.from_dict(t.describe()) for t in tasks], status="failed",
        method_info=method_info(spec.method), dataset_info=dataset_info(spec.dataset),
        weighting_info=weighting_info(spec.weighting),
        mask={**mask_summary(mask, names), "packed": pack_mask(mask)},
        validation=split.summary(), started_at=started)
    state_hook = RunStateHook(work / "bench_state.json", device)
    runner = None
    loaders = None
    try:
        set_random_seed(spec.seed)
        method = build_method(config, tasks)
        loaders = build_dataloaders(ds_cls, config, split, mask, needs_second_view(spec.method))
        state_hook.evaluation = EpochEvaluation(
            tasks, loaders.validation, loaders.test, config["train"]["selection"],
            int(config["train"].get("val_interval", 1)), work / BEST_WEIGHTS)
        optim_wrapper, schedulers = build_optimisation(method, config)
        primary = [metric_key(t.name, t.primary) for t in tasks]
        runner = _build_runner(spec, config, method, loaders.train, optim_wrapper, schedulers,
                               work, [state_hook, ProgressHook(sink, key, spec.label(), primary,
                                                               state_hook)])
        runner.train()
        _finish(runner.model, state_hook, loaders, tasks, record)
        record.status = "ok"
    except DivergedError as exc:
        record.status = "diverged"
        record.error = {"type": "DivergedError", "message": str(exc)}
    except BenchError as exc:
        record.error = {"type": type(exc).__name__, "message": str(exc)}
    except (KeyboardInterrupt, SystemExit):
        state_hook.persist()
        raise
    except Exception as exc:  # noqa: BLE001 - any crash becomes a failed record, not lost work
        record.error = {"type": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc()}
    finally:
        _close_logger(runner)

    record.history = state_hook.history
    if record.status != "ok":
        record.metrics, record.val_metrics = {}, {}
    record.epochs_completed = int(runner.epoch) if runner is not None else 0
    record.timing = {
        "wall_time_s": time.perf_counter() - wall0,
        "train_time_s": state_hook.previous_train_time + state_hook.train_time,
        "step_time_s": state_hook.step_time(),
        "steps_timed": len(state_hook.step_times),
        "resumed": state_hook.resumed,
    }
    record.memory = {"peak_bytes": state_hook.memory.peak_bytes(),
                     "kind": state_hook.memory.kind}
    record.environment = environment(device)
    if record.status == "ok" and runner is not None:
        torch.save(runner.model.state_dict(), directory / FINAL_WEIGHTS)
        record.weights = FINAL_WEIGHTS
        write_visuals(directory / VISUALS,
                      render_visuals(runner.model, loaders.test.dataset, tasks))
        record.artifacts["visuals"] = VISUALS
        _drop_training_checkpoints(work)
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_record(directory, record)
    return record


def _finish(model: torch.nn.Module, state: RunStateHook, loaders: Loaders, tasks: tuple,
            record: Record) -> None:
    """Select the epoch, load its weights and test them: the record's metrics.

    ``last``: the final weights. ``best-val`` / ``best-test``: the weights kept when the epoch
    was selected (the test metrics of ``best-test`` were measured then, per epoch).
    """
    ev = state.evaluation
    rule = ev.selection if ev is not None else "last"
    epoch = state.best_epoch() if ev is not None else None
    if epoch is None:
        epoch = state.history[-1]["epoch"] if state.history else 0
    elif ev is not None:
        model.load_state_dict(torch.load(ev.best_weights, map_location="cpu",
                                         weights_only=True))
    entry = next((h for h in state.history if h["epoch"] == epoch), {})
    record.selection = {"rule": rule, "epoch": int(epoch)}
    record.val_metrics = dict(entry.get("metrics") or {})
    record.metrics = (dict(entry["test"]) if rule == "best-test" and "test" in entry
                      else evaluate(model, loaders.test, tasks))


def _build_runner(spec: RunSpec, config: dict[str, Any], method: torch.nn.Module,
                  train_loader: Any, optim_wrapper: Any, schedulers: Any, work: Path,
                  hooks: list) -> Runner:
    train = config["train"]
    ckpt_interval = int(train.get("checkpoint_interval", 1))
    runner = Runner(
        model=method,
        work_dir=str(work),
        experiment_name=work.parent.name,
        train_dataloader=train_loader,
        train_cfg={"by_epoch": True, "max_epochs": int(train["epochs"])},
        optim_wrapper=optim_wrapper,
        param_scheduler=schedulers,
        default_hooks={
            "timer": {"type": "IterTimerHook"},
            "logger": {"type": "LoggerHook", "interval": 50},
            "param_scheduler": {"type": "ParamSchedulerHook"},
            "checkpoint": {"type": "CheckpointHook", "interval": ckpt_interval,
                           "by_epoch": True, "max_keep_ckpts": 1, "save_last": True},
            "sampler_seed": {"type": "DistSamplerSeedHook"},
        },
        custom_hooks=hooks,
        randomness={"seed": int(spec.seed)},
        resume=(work / "last_checkpoint").is_file(),
        log_level="ERROR",
        default_scope="mmengine",
    )
    # the console belongs to the progress display; the run's log file gets everything
    runner.logger.setLevel(logging.INFO)
    for handler in runner.logger.handlers:
        handler.setLevel(logging.INFO if isinstance(handler, logging.FileHandler)
                         else logging.ERROR)
    return runner


def _drop_training_checkpoints(work: Path) -> None:
    for path in work.glob("*.pth"):
        path.unlink()
    (work / "last_checkpoint").unlink(missing_ok=True)


def _close_logger(runner: Runner | None) -> None:
    if runner is None:
        return
    for handler in list(runner.logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            runner.logger.removeHandler(handler)
