"""Execute one run: RunSpec config → mmengine Runner → record.json.

The run trains on its training images (the validation subset carved out), evaluates the
validation subset every ``val_interval`` epochs, selects an epoch by ``train.selection`` and
evaluates the test split once, at the end, on that epoch's weights (see
:mod:`bench.engine.evaluation`). The record is written atomically once the run ends (``ok``,
``diverged`` or ``failed``), after the final weights and figure data, and only then are the
training checkpoints dropped. An interrupted run (Ctrl-C, SIGKILL, at any instant) leaves no
record but its checkpoints: running it again resumes from the newest intact one
(:mod:`bench.engine.checkpoints`). The caller holds the run folder's lock (:mod:`bench.records.locks`).

On the CPU a run uses a fixed number of threads (:mod:`bench.engine.threads`), so its numbers
do not depend on ``--jobs``. A loss that is not finite or beyond ``train.diverge_above`` ends the
run as ``diverged``, unless the run's data fails the data check when read again (then the run
is ``failed`` with the bad files named, and is retried once the data is fixed).
"""

from __future__ import annotations

import logging
import multiprocessing
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.device import get_device
from mmengine.runner import Runner, set_random_seed

from bench.config.runspec import RunSpec, config_hash, group_hash
from bench.config.schema import DIVERGE_ABOVE
from bench.data.check import check_files, problems_error
from bench.engine.allocator import keep_freed_memory
from bench.engine.build import (
    Loaders,
    build_dataloaders,
    build_method,
    build_optimisation,
    needs_second_view,
    run_mask,
    training_split,
)
from bench.engine.checkpoints import (
    POINTER,
    KillSafeCheckpointHook,
    Recovery,
    recover_checkpoint,
)
from bench.engine.distributed import (
    backend,
    barrier,
    broadcast_object,
    convert_batchnorm,
    distributed_wrappers,
    is_main,
    rank,
    world_size,
)
from bench.engine.environment import environment, launch_info
from bench.engine.evaluation import evaluate
from bench.engine.hooks import (
    AverageLogValuesHook,
    ConsistencyRampHook,
    DivergedError,
    EpochEvaluation,
    ProgressHook,
    RunStateHook,
    save_weights,
)
from bench.engine.progress import NullSink, ProgressSink
from bench.engine.threads import run_threads
from bench.engine.tracking import Tracking, TrackingHook
from bench.engine.visuals import VISUALS, render_visuals, write_visuals
from bench.engine.weights_only import install_checkpoint_loader
from bench.errors import BenchError
from bench.labels.regimes import mask_summary, pack_mask
from bench.labels.validation import TrainingSplit
from bench.metrics import metric_key
from bench.records.atomic import remove_stale_temps
from bench.records.collapse import collapse_reason
from bench.records.record import Record, TaskEntry
from bench.records.store import write_record
from bench.records.tracking import TRACKING
from bench.registry import dataset_info, get_dataset, method_info, weighting_info

FINAL_WEIGHTS = "model_final.pth"
BEST_WEIGHTS = "best.pth"


def run_one(spec: RunSpec, config: dict[str, Any], directory: Path,
            sink: ProgressSink | None = None, *, evaluate_test: bool = True,
            extra_hooks: Sequence[Any] = (),
            reraise: tuple[type[BaseException], ...] = ()) -> Record:
    """Train and evaluate one run in ``directory``; return (and write) its record.

    The caller holds the lock of ``directory`` (:func:`bench.launch.claim.run_claimed`).
    ``evaluate_test=False`` (tuning) never touches the test split: the record then holds the
    validation metrics of the selected epoch only, and no figure data. ``extra_hooks`` are added
    to the runner (e.g. the tuner's pruning hook); exceptions of a type in ``reraise`` end the
    run without a record (e.g. a pruned tuning trial).
    """
    record = run_rank(spec, config, directory, sink, evaluate_test=evaluate_test,
                      extra_hooks=extra_hooks, reraise=reraise)
    assert record is not None, "run_one is for one process, or rank 0 of several"
    return record


def run_rank(spec: RunSpec, config: dict[str, Any], directory: Path,
             sink: ProgressSink | None = None, *, evaluate_test: bool = True,
             extra_hooks: Sequence[Any] = (),
             reraise: tuple[type[BaseException], ...] = (),
             launcher_gone: Callable[[], bool] | None = None) -> Record | None:
    """:func:`run_one` in one process of a data-parallel run (:mod:`bench.launch.torchrun`), or
    alone: every process trains on its shard of each global batch and evaluates its share of the
    splits; rank 0 alone writes into ``directory`` (checkpoints, state, log, weights, record)
    and returns the record, the others keep their own files in a temporary folder, removed at
    the end, and return ``None``. They resume from the checkpoint rank 0 chose. An exception
    in rank 0 gives a failed record, as in one process; in another rank it propagates (the
    launcher then ends the run, :mod:`bench.launch.torchrun`). Nor does rank 0 write a failed record
    when ``launcher_gone()`` says the ``bench run`` that launched the processes has disappeared:
    its error is then only the other processes exiting with it (killed together, they notice
    at different instants), and the run must resume from its checkpoint like any killed run.
    """
    install_checkpoint_loader()
    device = torch.device(get_device())
    if device.type == "cpu":
        keep_freed_memory()
    with run_threads(device):
        return _run(spec, config, Path(directory), sink or NullSink(), device, evaluate_test,
                    tuple(extra_hooks), reraise, launcher_gone or _never)


def _never() -> bool:
    return False


def new_record(spec: RunSpec, config: dict[str, Any], started: str,
               parts: tuple[tuple, TrainingSplit, np.ndarray] | None = None) -> Record:
    """The record of a run about to start, ``failed`` until it ends otherwise; ``parts`` are
    the run's tasks, training split and label mask where already built."""
    if parts is None:
        ds_cls = get_dataset(spec.dataset)
        split = training_split(config)
        parts = (ds_cls.build_tasks(), split, run_mask(config, ds_cls, split, spec.seed))
    tasks, split, mask = parts
    return Record(
        run_id=config_hash(config)[:12], group_id=group_hash(config)[:12],
        config_hash=config_hash(config), spec=spec.to_dict(), config=config,
        tasks=[TaskEntry.from_dict(t.describe()) for t in tasks], status="failed",
        method_info=method_info(spec.method), dataset_info=dataset_info(spec.dataset),
        weighting_info=weighting_info(spec.weighting),
        mask={**mask_summary(mask, [t.name for t in tasks]), "packed": pack_mask(mask)},
        validation=split.summary(), started_at=started, launch=launch_info())


def _run(spec: RunSpec, config: dict[str, Any], directory: Path, sink: ProgressSink,
         device: torch.device, evaluate_test: bool, extra_hooks: tuple[Any, ...],
         reraise: tuple[type[BaseException], ...],
         launcher_gone: Callable[[], bool]) -> Record | None:
    main = is_main()
    own = directory / "work"  # rank 0's: checkpoints, best weights, state, log
    scratch = None if main else Path(tempfile.mkdtemp(prefix=f"bench-rank{rank()}-"))
    work = own if scratch is None else scratch / "work"
    work.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    wall0 = time.perf_counter()
    if main:
        remove_stale_temps(directory)
        recovery = recover_checkpoint(work)
    else:
        recovery = Recovery(None)
    if world_size() > 1:  # every process resumes from the checkpoint rank 0 chose
        chosen = broadcast_object(None if recovery.checkpoint is None
                                  else str(recovery.checkpoint))
        recovery.checkpoint = None if chosen is None else Path(chosen)

    ds_cls = get_dataset(spec.dataset)
    tasks = ds_cls.build_tasks()
    split = training_split(config)
    mask = run_mask(config, ds_cls, split, spec.seed)
    record = new_record(spec, config, started, (tasks, split, mask))
    state_hook = RunStateHook(work / "bench_state.json", device,
                              diverge_above=float(config["train"].get("diverge_above",
                                                                      DIVERGE_ABOVE)),
                              seed=spec.seed)
    notes = recovery.notes + state_hook.notes
    for note in notes:
        sink.message(f"{spec.label()}: {note}")
    names = list(config["execution"].get("track") or [])
    tracking = None
    runner = None
    loaders = None
    try:
        set_random_seed(spec.seed)
        method = build_method(config, tasks)
        if world_size() > 1:
            convert_batchnorm(method)
        loaders = build_dataloaders(ds_cls, config, split, mask, needs_second_view(spec.method))
        state_hook.evaluation = epoch_evaluation(config, loaders, tasks, own, evaluate_test)
        optim_wrapper, schedulers = build_optimisation(method, config)
        distributed_wrappers(optim_wrapper)
        primary = [metric_key(t.name, t.primary) for t in tasks]
        hooks = [state_hook, ProgressHook(sink, directory.name, spec.label(), primary,
                                          state_hook),
                 ConsistencyRampHook(), *extra_hooks]
        if world_size() > 1:
            hooks.append(AverageLogValuesHook())
        runner = _build_runner(spec, config, method, loaders.train, optim_wrapper, schedulers,
                               work, hooks, recovery.checkpoint, directory.name)
        for note in notes:
            runner.logger.warning(note)
        if main and names:  # opened once the runner's logger is the current one
            tracking = Tracking(names, directory, spec, config,
                                lambda text: sink.message(f"{spec.label()}: {text}"))
            runner.register_hook(TrackingHook(tracking, state_hook))
        runner.train()
        _finish(runner.model, state_hook, loaders, tasks, record, evaluate_test)
        record.status = "ok"
        collapsed = collapse_reason(state_hook.history) if (
            record.method_info.control_of is None
            and config["train"].get("collapse_check", True)) else ""
        if collapsed:  # finished, but its mapping says nothing: never scored as a normal row
            record.status = "collapsed"
            record.error = {"type": "Collapsed", "message": collapsed}
    except DivergedError as exc:  # every process stops at the same step
        bad = _bad_data(ds_cls, config) if main else None
        if bad is not None:
            record.error = {"type": type(bad).__name__, "message": str(bad),
                            "diverged": str(exc)}
        else:
            record.status = "diverged"
            record.error = {"type": "DivergedError", "message": str(exc)}
    except BenchError as exc:
        if not main:
            raise
        record.error = {"type": type(exc).__name__, "message": str(exc)}
    except (KeyboardInterrupt, SystemExit, *reraise):
        state_hook.persist()
        _close_logger(runner)
        if tracking is not None:  # resumed, the run continues its tracker runs
            tracking.close()
        raise
    except Exception as exc:  # noqa: BLE001 - any crash becomes a failed record, not lost work
        if not main or launcher_gone():
            if tracking is not None:
                tracking.close()
            raise
        record.error = {"type": type(exc).__name__, "message": str(exc),
                        "traceback": traceback.format_exc()}
    finally:
        _close_logger(runner)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if not main:
        return None

    record.history = state_hook.history
    if record.status not in ("ok", "collapsed"):
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
    if record.status in ("ok", "collapsed") and runner is not None:
        save_weights(runner.model, directory / FINAL_WEIGHTS)
        record.weights = FINAL_WEIGHTS
        if evaluate_test:
            write_visuals(directory / VISUALS,
                          render_visuals(runner.model, loaders.test.dataset, tasks))
            record.artifacts["visuals"] = VISUALS
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    problem = record.result_problem()
    if problem and record.status == "ok":  # never write an ok record that reads as no result
        record.status, record.error = "failed", {"type": "NoResult",
                                                 "message": f"the run ended but {problem}"}
    if tracking is not None:
        record.artifacts["tracking"] = TRACKING
    write_record(directory, record)
    if tracking is not None:  # the record first: a tracker never holds it back
        tracking.finish(record.status, record.metrics,
                        int(record.history[-1]["iter"]) if record.history else 0)
    if record.finished:  # nobody resumes a finished run: its checkpoints only take space
        drop_training_checkpoints(work)
    return record


def _bad_data(ds_cls: Any, config: dict[str, Any]) -> BenchError | None:
    """After a divergence: the run's files read again, uncached; the error naming bad ones.

    The data check before the run passed, so this only finds files changed since (or a cache
    fooled by a file replaced with one of the same size and time stamp): NaN in the data must
    never make a run ``diverged``, which counts as finished and would never be retried.
    """
    images = config["dataset"]["images"]
    root = Path(config["execution"]["data_root"])
    hw = tuple(config["dataset"]["fingerprint"]["stored_size"])
    result = check_files(ds_cls, root, hw, {"train": images["train"], "val": images["test"]})
    if not result.problems:
        return None
    return problems_error(ds_cls, root, result.problems,
                          "the loss diverged on this data, so the run counts as failed, not "
                          "diverged")


def epoch_evaluation(config: dict[str, Any], loaders: Loaders, tasks: tuple, work: Path,
                     evaluate_test: bool) -> EpochEvaluation:
    """What the run evaluates after its epochs (see :class:`EpochEvaluation`)."""
    train = config["train"]
    interval = int(train.get("val_interval", 1))
    last_k = int(config["eval"]["average_last"]) if evaluate_test else 1
    epochs = EpochEvaluation.evaluated_epochs(int(train["epochs"]), interval)
    return EpochEvaluation(tasks, loaders.validation, loaders.test, train["selection"], interval,
                           work / BEST_WEIGHTS,
                           frozenset(epochs[-last_k:]) if last_k > 1 else frozenset())


def _finish(model: torch.nn.Module, state: RunStateHook, loaders: Loaders, tasks: tuple,
            record: Record, evaluate_test: bool) -> None:
    """Select the epoch, load its weights and test them: the record's metrics.

    ``last``: the final weights (with ``eval.average_last`` = k > 1: the mean of the test and
    validation metrics of the last k evaluations, as MTAN reports). ``best-val`` /
    ``best-test``: the weights kept when the epoch was selected (the test metrics of
    ``best-test`` were measured then, per epoch).
    """
    ev = state.evaluation
    rule = ev.selection if ev is not None else "last"
    epoch = state.best_epoch() if ev is not None else None
    if epoch is None:
        epoch = state.history[-1]["epoch"] if state.history else 0
    elif ev is not None:
        barrier()  # data-parallel: rank 0 has written them
        model.load_state_dict(torch.load(ev.best_weights, map_location="cpu",
                                         weights_only=True))
    entry = next((h for h in state.history if h["epoch"] == epoch), {})
    record.selection = {"rule": rule, "epoch": int(epoch)}
    if not evaluate_test:  # a tuning trial: validation metrics only, the test split untouched
        record.selection["test"] = False
    averaged = [h for h in state.history if ev is not None and h["epoch"] in ev.test_epochs]
    if averaged:
        record.selection["averaged_epochs"] = [h["epoch"] for h in averaged]
        record.val_metrics = mean_metrics([h.get("metrics") or {} for h in averaged])
        record.metrics = mean_metrics([h["test"] for h in averaged])
        return
    record.val_metrics = dict(entry.get("metrics") or {})
    if not evaluate_test:
        record.metrics = {}
    elif rule == "best-test" and "test" in entry:
        record.metrics = dict(entry["test"])
    else:
        record.metrics = evaluate(model, loaders.test, tasks)


def mean_metrics(entries: Sequence[dict[str, float]]) -> dict[str, float]:
    """The per-key mean of several evaluations' metrics (keys every entry has)."""
    keys = set.intersection(*(set(e) for e in entries)) if entries else set()
    return {k: sum(e[k] for e in entries) / len(entries) for k in sorted(keys)}


def _build_runner(spec: RunSpec, config: dict[str, Any], method: torch.nn.Module,
                  train_loader: Any, optim_wrapper: Any, schedulers: Any, work: Path,
                  hooks: list, resume_from: Path | None, name: str) -> Runner:
    """The Runner of a run; it resumes from ``resume_from`` (a verified checkpoint) if given.

    In a data-parallel run it is mmengine's ``pytorch`` launcher on the process group that
    :func:`bench.engine.distributed.init_from_torchrun` joined, with the model left unwrapped
    (:class:`DataParallelRunner`; the optimiser wrappers average the gradients), and only rank
    0 saves checkpoints.
    """
    train = config["train"]
    ckpt_interval = int(train.get("checkpoint_interval", 1))
    distributed = world_size() > 1
    checkpoints = [KillSafeCheckpointHook(ckpt_interval)] if is_main() else []
    runner = (DataParallelRunner if distributed else Runner)(
        model=method,
        work_dir=str(work),
        experiment_name=name,
        train_dataloader=train_loader,
        train_cfg={"by_epoch": True, "max_epochs": int(train["epochs"])},
        optim_wrapper=optim_wrapper,
        param_scheduler=schedulers,
        default_hooks={
            "timer": {"type": "IterTimerHook"},
            "logger": {"type": "LoggerHook", "interval": 50},
            "param_scheduler": {"type": "ParamSchedulerHook"},
            "checkpoint": None,  # replaced by the kill-safe hook below
            "sampler_seed": {"type": "DistSamplerSeedHook"},
        },
        custom_hooks=[*hooks, *checkpoints],
        randomness={"seed": int(spec.seed)},
        launcher="pytorch" if distributed else "none",
        # keep the process's multiprocessing start method (mmengine would force 'fork', with a
        # warning, in the grid's spawned workers)
        env_cfg={"mp_cfg": {"mp_start_method": multiprocessing.get_start_method(
            allow_none=True) or "fork"}, "dist_cfg": {"backend": backend() or "nccl"}},
        load_from=str(resume_from) if resume_from is not None else None,
        resume=resume_from is not None,
        log_level="ERROR",
        default_scope="mmengine",
    )
    # the console belongs to the progress display; the run's log file gets everything
    runner.logger.setLevel(logging.INFO)
    for handler in runner.logger.handlers:
        handler.setLevel(logging.INFO if isinstance(handler, logging.FileHandler)
                         else logging.ERROR)
    return runner


class DataParallelRunner(Runner):
    """The Runner of a data-parallel run: the method is not wrapped.

    mmengine's ``MMDistributedDataParallel`` does not fit the methods (several optimiser
    groups, their own ``train_step``; see :mod:`bench.engine.distributed`): the method stays as
    it is, on this process's device, and its optimiser wrappers average the gradients over the
    processes.
    """

    def wrap_model(self, model_wrapper_cfg: dict | None,
                   model: torch.nn.Module) -> torch.nn.Module:
        return model.to(get_device())


def drop_training_checkpoints(work: Path) -> None:
    """Delete the training checkpoints of a finished run (pointer first, then the files)."""
    (work / POINTER).unlink(missing_ok=True)
    for path in work.glob("*.pth"):
        path.unlink(missing_ok=True)
    remove_stale_temps(work)


def _close_logger(runner: Runner | None) -> None:
    if runner is None:
        return
    for handler in list(runner.logger.handlers):
        if isinstance(handler, logging.FileHandler):
            handler.close()
            runner.logger.removeHandler(handler)
