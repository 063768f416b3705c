"""Execute one run: RunSpec config → mmengine Runner → record.json.

The record is written atomically once the run ends (``ok``, ``diverged`` or ``failed``). An
interrupted run (Ctrl-C, SIGKILL) leaves no record but its checkpoints: running it again resumes
from the last one.
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
from mmengine.evaluator import Evaluator
from mmengine.runner import Runner, set_random_seed

from bench.engine.build import (
    build_dataloaders,
    build_method,
    build_optimisation,
    needs_second_view,
)
from bench.engine.checkpoint import install_checkpoint_loader
from bench.engine.environment import environment
from bench.engine.hooks import DivergedError, ProgressHook, RunStateHook
from bench.engine.progress import NullSink, ProgressSink
from bench.engine.visuals import VISUALS, render_visuals, write_visuals
from bench.errors import BenchError
from bench.metrics import build_metrics, metric_key
from bench.record import Record, TaskEntry
from bench.regimes import mask_summary, pack_mask, parse_regime
from bench.registry import dataset_info, get_dataset, method_info
from bench.runspec import RunSpec, config_hash, group_hash
from bench.store import write_record

FINAL_WEIGHTS = "model_final.pth"


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
    n_train = config["dataset"]["images"]["train"]
    mask = parse_regime(config["regime"]).mask(
        n_train, [t.name for t in tasks], spec.seed,
        ids=ds_cls.image_ids(Path(config["execution"]["data_root"]), "train"),
        file_keys=getattr(ds_cls, "split_file_keys", None))

    record = Record(
        run_id=config_hash(config)[:12], group_id=group_hash(config)[:12],
        config_hash=config_hash(config), spec=spec.to_dict(), config=config,
        tasks=[TaskEntry.from_dict(t.describe()) for t in tasks], status="failed",
        method_info=method_info(spec.method), dataset_info=dataset_info(spec.dataset),
        mask={**mask_summary(mask, [t.name for t in tasks]), "packed": pack_mask(mask)},
        started_at=started)
    state_hook = RunStateHook(work / "bench_state.json", device)
    runner = None
    try:
        set_random_seed(spec.seed)
        method = build_method(config, tasks)
        train_loader, val_loader = build_dataloaders(ds_cls, config, mask,
                                                     needs_second_view(spec.method))
        optim_wrapper, schedulers = build_optimisation(method, config)
        primary = [metric_key(t.name, t.primary) for t in tasks]
        runner = _build_runner(spec, config, method, train_loader, val_loader, optim_wrapper,
                               schedulers, work, tasks,
                               [state_hook, ProgressHook(sink, key, spec.label(), primary)])
        runner.train()
        _validate_if_missing(runner, state_hook, config)
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

    history = state_hook.history
    record.history = history
    record.metrics = history[-1]["metrics"] if history and record.status == "ok" else {}
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
                      render_visuals(runner.model, val_loader.dataset, tasks))
        record.artifacts["visuals"] = VISUALS
        _drop_training_checkpoints(work)
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    write_record(directory, record)
    return record


def _build_runner(spec: RunSpec, config: dict[str, Any], method: torch.nn.Module,
                  train_loader: Any, val_loader: Any, optim_wrapper: Any, schedulers: Any,
                  work: Path, tasks: tuple, hooks: list) -> Runner:
    train = config["train"]
    ckpt_interval = int(train.get("checkpoint_interval", 1))
    runner = Runner(
        model=method,
        work_dir=str(work),
        experiment_name=work.parent.name,
        train_dataloader=train_loader,
        val_dataloader=val_loader,
        val_evaluator=Evaluator(build_metrics(tasks)),
        train_cfg={"by_epoch": True, "max_epochs": int(train["epochs"]),
                   "val_interval": int(train.get("val_interval", 1))},
        val_cfg={},
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


def _validate_if_missing(runner: Runner, state: RunStateHook, config: dict[str, Any]) -> None:
    """Run the final validation if the run was interrupted during it and then resumed."""
    last = int(config["train"]["epochs"])
    if not any(h["epoch"] == last for h in state.history):
        runner.val_loop.run()


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
