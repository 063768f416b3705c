"""Send a run to experiment trackers through mmengine's visualizer backends.

The trackers of a run are named in its config's ``execution.track`` (``bench run --track``,
profile key ``log.track``; :mod:`bench.config.trackers`). Rank 0 builds one backend per
tracker from ``mmengine.registry.VISBACKENDS`` and sends it:

* the run's identity once (dataset, method, weighting, row, regime, seed, profile, config
  hash, run and group ids): MLflow tags and params, W&B config, tags and group (runs that
  differ only by seed share the group), TensorBoard's ``config`` text;
* every training step's log values (``train/<key>``: the loss, each task's term, a method's own
  terms such as XTC's consistency and the collapse probe), at the global iteration;
* after every epoch its number (``epoch``), mean training values (``epoch/<key>``) and
  evaluations (``val/<metric>``, and ``test_epoch/<metric>`` where the run tests per epoch), at
  the epoch's last iteration;
* at the end, the record's test metrics exactly (``test/<metric>``) and its status.

Every value's step is the global iteration, so the curves of a tracker share one axis (and
TensorBoard, which drops what a restarted run logs again, never sees steps go back but after a
resume).

Where each writes follows the tracker's own conventions: TensorBoard event files in
``RUN/tensorboard`` (``tensorboard --logdir results/runs`` shows the grid), MLflow at
``MLFLOW_TRACKING_URI`` (MLflow's default where unset; always passed to the backend, whose own
default is a file store that MLflow 3 refuses), W&B online or under ``WANDB_MODE=offline`` in
``RUN/wandb``. One tracker run per harness run: ``RUN/tracking.json``
(:mod:`bench.records.tracking`) keeps the MLflow run id and the W&B run id, so a resumed run
continues the same tracker run.

The record stays the source of truth: a tracker that fails (server gone) is warned about once,
its error kept in ``tracking.json``, and the run goes on without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from bench import __version__
from bench.config.runspec import RunSpec, config_hash, group_hash
from bench.config.trackers import tracker_info
from bench.engine.environment import environ_set
from bench.errors import BenchError
from bench.records.tracking import read_tracking, write_tracking

#: the identity keys sent to every tracker
IDENTITY_KEYS = ("dataset", "method", "weighting", "row", "regime", "seed", "profile",
                 "config_hash", "run_id", "group_id")


def mlflow_experiment(dataset: str) -> str:
    """The MLflow experiment of a dataset's runs: ``MLFLOW_EXPERIMENT_NAME``, else the dataset."""
    return os.environ.get("MLFLOW_EXPERIMENT_NAME") or dataset


def _ensure_experiment(mlflow: Any, name: str) -> None:
    if mlflow.get_experiment_by_name(name) is None:
        try:
            mlflow.create_experiment(name)
        except Exception:  # noqa: BLE001 - another worker made it meanwhile
            if mlflow.get_experiment_by_name(name) is None:
                raise


def prepare_trackers(names: list[str] | tuple[str, ...], dataset: str) -> None:
    """Before a grid's runs start, in the planning process: the MLflow store (a new ``sqlite:``
    database is created on first use, which parallel workers must not race for) and the
    experiment exist. A store that cannot be reached is a :class:`BenchError` (exit 2)."""
    if "mlflow" not in names:
        return
    import mlflow

    uri = mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(uri)
        _ensure_experiment(mlflow, mlflow_experiment(dataset))
    except Exception as exc:  # noqa: BLE001 - any failure of the store says the same
        raise BenchError(f"The MLflow tracking store {uri} cannot be used: "
                         f"{type(exc).__name__}: {str(exc)[:300]}",
                         "Start the server, or set MLFLOW_TRACKING_URI (e.g. "
                         "sqlite:///mlflow.db), or leave mlflow out of --track.") from None


def run_identity(spec: RunSpec, config: dict[str, Any]) -> dict[str, str]:
    """What names the run in a tracker: the axes ``bench table`` groups by, and its hashes."""
    chash = config_hash(config)
    return {"dataset": spec.dataset, "method": spec.method, "weighting": spec.weighting,
            "row": spec.row, "regime": str(config["regime"]), "seed": str(spec.seed),
            "profile": spec.profile, "config_hash": chash, "run_id": chash[:12],
            "group_id": group_hash(config)[:12], "harness_version": __version__}


@dataclass
class Channel:
    """One tracker of a run: its backend while it works, what ``tracking.json`` says of it."""

    name: str
    backend: Any = None
    entry: dict[str, Any] = field(default_factory=dict)
    alive: bool = True


class Tracking:
    """The trackers of one run (see the module docstring); every call is guarded: the first
    error of a tracker is reported through ``warn`` and the tracker dropped."""

    def __init__(self, names: list[str], directory: Path, spec: RunSpec, config: dict[str, Any],
                 warn: Callable[[str], None]) -> None:
        self.directory = Path(directory)
        self.identity = run_identity(spec, config)
        self.name = f"{spec.label()} · {self.identity['run_id']}"
        self.warn = warn
        saved = read_tracking(self.directory)
        self.channels = [Channel(tracker_info(n).name, entry=dict(saved.get(tracker_info(n).name)
                                                                  or {})) for n in names]
        for channel in self.channels:
            channel.entry.pop("error", None)
            self._guard(channel, "start", lambda c=channel: self._open(c))
        self._save()

    # -- the trackers ---------------------------------------------------------------------------
    def _open(self, channel: Channel) -> None:
        from mmengine.registry import VISBACKENDS

        opener = {"tensorboard": self._tensorboard, "mlflow": self._mlflow,
                  "wandb": self._wandb}.get(channel.name, self._other)
        cfg = opener(channel)
        channel.backend = VISBACKENDS.build(cfg)
        if channel.name == "mlflow":  # close() reads the config add_config keeps; no artifacts
            channel.backend.cfg = Config({"work_dir": str(self.directory)})
            channel.backend.experiment  # noqa: B018  (starts it: tags and params now)
        elif channel.name != "wandb":  # W&B's add_config also uploads the code: config given
            channel.backend.add_config(Config(dict(self.identity)))

    def _tensorboard(self, channel: Channel) -> dict[str, Any]:
        channel.entry = {"logdir": "tensorboard"}
        return {"type": "TensorboardVisBackend", "save_dir": str(self.directory / "tensorboard")}

    def _mlflow(self, channel: Channel) -> dict[str, Any]:
        import mlflow

        uri = mlflow.get_tracking_uri()  # MLFLOW_TRACKING_URI, else MLflow's default
        experiment = mlflow_experiment(self.identity["dataset"])
        mlflow.set_tracking_uri(uri)
        _ensure_experiment(mlflow, experiment)
        mlflow.set_experiment(experiment)
        while mlflow.active_run() is not None:  # an earlier run of this process, interrupted
            try:  # or its tracker failed: MLflow drops it here before it tells the store
                mlflow.end_run(status="KILLED")
            except Exception:  # noqa: BLE001 - the store is gone; the run is dropped all the same
                pass
        saved = channel.entry
        run = None
        if saved.get("run_id") and saved.get("tracking_uri") == uri:
            try:  # a resumed run continues its tracker run
                run = mlflow.start_run(run_id=saved["run_id"])
            except Exception:  # noqa: BLE001 - deleted meanwhile: a new one
                run = None
        if run is None:
            run = mlflow.start_run(run_name=self.name)
        channel.entry = {"tracking_uri": uri, "experiment": experiment,
                         "run_id": run.info.run_id}
        return {"type": "MLflowVisBackend", "save_dir": str(self.directory / "work"),
                "exp_name": experiment, "run_name": self.name, "tracking_uri": uri,
                "tags": dict(self.identity), "params": dict(self.identity),
                "artifact_suffix": ()}

    def _wandb(self, channel: Channel) -> dict[str, Any]:
        # the folder W&B writes (`offline-run-<date>-<id>`) names the harness run
        run_id = channel.entry.get("id") or f"{self.identity['run_id']}-{uuid.uuid4().hex[:6]}"
        project = os.environ.get("WANDB_PROJECT") or self.identity["dataset"]
        channel.entry = {"id": run_id, "project": project,
                         "entity": os.environ.get("WANDB_ENTITY"),
                         "mode": os.environ.get("WANDB_MODE") or "online"}
        tags = [self.identity[k] for k in ("dataset", "row", "regime", "profile")]
        return {"type": "WandbVisBackend", "save_dir": str(self.directory),
                "init_kwargs": {"project": project, "name": self.name, "id": run_id,
                                "resume": "allow", "group": self.identity["group_id"],
                                "job_type": self.identity["row"], "tags": tags,
                                "config": dict(self.identity), "dir": str(self.directory)}}

    def _other(self, channel: Channel) -> dict[str, Any]:
        info = tracker_info(channel.name)
        channel.entry = {"save_dir": info.name}
        return {"type": info.backend, "save_dir": str(self.directory / info.name)}

    # -- what is sent ---------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        return any(c.alive for c in self.channels)

    def log(self, scalars: dict[str, float], step: int) -> None:
        """Send ``scalars`` at ``step`` to every working tracker."""
        if not scalars:
            return
        for channel in self.channels:
            self._guard(channel, "log",
                        lambda c=channel: c.backend.add_scalars(dict(scalars), step=int(step)))

    def finish(self, status: str, metrics: dict[str, float], step: int) -> None:
        """The record's outcome: its test metrics (``test/<metric>``, at the run's last
        iteration ``step``) and status; then close."""
        self.log({f"test/{k}": float(v) for k, v in metrics.items()}, step)
        for channel in self.channels:
            if channel.name == "mlflow":
                self._guard(channel, "finish",
                            lambda c=channel: c.backend.experiment.set_tag("status", status))
            elif channel.name == "wandb":
                self._guard(channel, "finish",
                            lambda c=channel: c.backend.experiment.run.summary.update(
                                {"status": status}))
            channel.entry["status"] = status
        self.close()

    def close(self) -> None:
        """Close every tracker (idempotent) and save ``tracking.json``."""
        for channel in self.channels:
            if channel.backend is not None:
                self._guard(channel, "close", lambda c=channel: c.backend.close())
            channel.backend, channel.alive = None, False
        self._save()

    def _guard(self, channel: Channel, what: str, call: Callable[[], Any]) -> None:
        if not channel.alive:
            return
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - a tracker never ends the run
            channel.alive = False
            if channel.name == "mlflow":
                _drop_mlflow_run()
            channel.entry["error"] = f"{what}: {type(exc).__name__}: {exc}"[:500]
            self.warn(f"tracker {channel.name} failed ({what}: {type(exc).__name__}: "
                      f"{str(exc)[:200]}); the run goes on without it and writes its record")
            self._save()

    def _save(self) -> None:
        try:
            write_tracking(self.directory, {c.name: c.entry for c in self.channels})
        except OSError as exc:
            self.warn(f"cannot write {self.directory / 'tracking.json'}: {exc}")


def _drop_mlflow_run() -> None:
    """Forget the process's active MLflow run after its tracker failed, asking the store once,
    without retries: MLflow would otherwise end it when the process exits, retrying a store
    that is gone for minutes."""
    import mlflow

    quick = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}
    with environ_set(quick):
        while mlflow.active_run() is not None:
            try:  # MLflow forgets the run before it tells the store
                mlflow.end_run(status="FAILED")
            except Exception:  # noqa: BLE001 - the store is gone: forgotten all the same
                pass


def _value(value: Any) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


class TrackingHook(Hook):
    """Sends a run's training steps and epochs to its :class:`Tracking`; ``state`` is the run's
    :class:`~bench.engine.hooks.RunStateHook`, whose history holds each epoch's evaluations."""

    priority = "LOW"

    def __init__(self, tracking: Tracking, state: Any) -> None:
        self.tracking = tracking
        self.state = state

    def after_train_iter(self, runner: Any, batch_idx: int, data_batch: Any = None,
                         outputs: dict | None = None) -> None:
        if self.tracking.active and outputs:
            self.tracking.log({f"train/{k}": _value(v) for k, v in outputs.items()},
                              runner.iter + 1)

    def after_train_epoch(self, runner: Any) -> None:
        if not self.tracking.active or not self.state.history:
            return
        entry = self.state.history[-1]
        scalars = {"epoch": float(entry["epoch"])}
        scalars |= {f"epoch/{k}": float(v) for k, v in (entry.get("train") or {}).items()}
        scalars |= {f"val/{k}": float(v) for k, v in (entry.get("metrics") or {}).items()}
        scalars |= {f"test_epoch/{k}": float(v) for k, v in (entry.get("test") or {}).items()}
        self.tracking.log(scalars, int(entry["iter"]))
