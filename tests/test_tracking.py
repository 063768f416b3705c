"""Runs in experiment trackers (``bench run --track``, ``log.track``), against the real libraries:
TensorBoard's event reader, MLflow's client on a ``sqlite:`` store and on a real ``mlflow
server``, W&B in offline mode. Tracking never changes what a run is, a tracker that is not
installed stops the command while planning, and one that fails mid-run never costs the record."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.cli import main
from bench.config.profiles import find_profile, parse_overrides
from bench.config.runspec import RunSpec, config_hash, resolve
from bench.data.nyuv2 import NYUv2
from bench.grid.request import GridRequest, build_grid
from bench.records.store import read_record
from bench.records.tracking import read_tracking, tracker_lines

IDENTITY = ("dataset", "method", "weighting", "row", "regime", "seed", "profile", "config_hash",
            "run_id", "group_id")


def run_args(nyuv2_root: Path, results: Path, track: str) -> list[str]:
    return ["run", "--methods", "xtc", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0", "--profile", "smoke", "--jobs", "1", "--no-table", "--data-root",
            str(nyuv2_root), "--results", str(results), "--track", track]


def only_run(results: Path) -> Path:
    (folder,) = (results / "runs").glob("nyuv2/*/*/*")
    return folder


# -- identity and planning (fast) -----------------------------------------------------------------
def test_tracking_does_not_change_the_run_id(nyuv2_root, tmp_path):
    layout = NYUv2.check_layout(nyuv2_root / "nyuv2")
    found = find_profile("smoke")

    def config(*sets: str) -> dict:
        return resolve(RunSpec("xtc", "nyuv2", "onelabel", 0, found.id,
                               tuple(parse_overrides(sets)), found.source), layout)

    plain, tracked = config(), config("log.track=tensorboard,mlflow")
    assert tracked["execution"]["track"] == ["tensorboard", "mlflow"]
    assert config_hash(tracked) == config_hash(plain)
    assert tracked["overrides"] == plain["overrides"] == []

    # a profile file that also names trackers is the same profile
    data = json.loads(Path(found.source).read_text())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "mine.json").write_text(json.dumps(data))
    (tmp_path / "b" / "mine.json").write_text(json.dumps({**data, "log": {"track": ["mlflow"]}}))
    assert find_profile(str(tmp_path / "a" / "mine.json")).id == \
        find_profile(str(tmp_path / "b" / "mine.json")).id

    # planned through the command's path: the same run folders, the trackers in execution
    def planned(**kw: object) -> list:
        request = GridRequest(dataset="nyuv2", methods="sl,xtc", regimes="onelabel", seeds="0,1",
                              profile="smoke", data_root=nyuv2_root, results=tmp_path / "r",
                              **kw)
        return build_grid(request, train=False).runs

    base = planned()
    for runs in (planned(track="tensorboard,wandb"),
                 planned(sets=("log.track=[\"mlflow\"]",))):
        assert [r.directory for r in runs] == [r.directory for r in base]
        assert all(r.spec == b.spec for r, b in zip(runs, base, strict=True))
        assert all(r.config["execution"]["track"] for r in runs)


@pytest.mark.parametrize("track,message", [
    ("mlflow", 'pip install -e ".[mlflow]"'),
    ("tensorboard", 'pip install -e ".[tensorboard]"'),
    ("wandb", 'pip install -e ".[wandb]"'),
])
def test_a_tracker_not_installed_is_exit_2_while_planning(track, message, nyuv2_root, tmp_path,
                                                         capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == track else real(name, *a))
    assert main(run_args(nyuv2_root, tmp_path / "r", f"tensorboard,{track}")) == 2
    err = capsys.readouterr().err
    assert f"The tracker '{track}' is not installed" in err and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "r" / "runs").exists()


@pytest.mark.parametrize("extra,message", [
    (["--track", "mlfow"], "Did you mean 'mlflow'?"),
    (["--track", ","], "names nothing"),
    (["--set", "log.track=5"], "log.track=5 is not valid"),
    (["--set", "log.trak=mlflow"], "Did you mean 'log.track'?"),
])
def test_bad_tracker_names_are_exit_2(extra, message, nyuv2_root, tmp_path, capsys):
    args = run_args(nyuv2_root, tmp_path / "r", "tensorboard")
    args = args[:-2] + extra
    assert main(args) == 2
    assert message in capsys.readouterr().err


# -- a real run in every tracker (slow) -----------------------------------------------------------
@pytest.fixture(scope="module")
def tracked_run(nyuv2_root, tmp_path_factory):
    """One XTC run sent to TensorBoard, MLflow (a local sqlite store) and W&B (offline)."""
    base = tmp_path_factory.mktemp("tracked")
    uri = f"sqlite:///{base / 'mlflow.db'}"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "WANDB_MODE": "offline",
           "WANDB_SILENT": "true", "PYTHONPATH": os.pathsep.join(sys.path)}
    # as a user runs it: its own process, which has closed every tracker when it exits; in
    # a folder of its own, so nothing any library writes lands in the checkout
    done = subprocess.run([sys.executable, "-m", "bench",
                           *run_args(nyuv2_root, base / "results", "tensorboard,mlflow,wandb")],
                          cwd=base, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    folder = only_run(base / "results")
    record = read_record(folder)
    assert record.status == "ok" and record.artifacts["tracking"] == "tracking.json"
    return folder, record, uri


READ_EVENTS = """
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
events = EventAccumulator(sys.argv[1])
events.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in events.Scalars(tag)]
                  for tag in events.Tags()["scalars"]}))
"""


def tensorboard_scalars(logdir: Path) -> dict[str, list[list[float]]]:
    """Every scalar of ``logdir`` as TensorBoard reads it: its event reader, in a process of its
    own as ``tensorboard --logdir`` is (``{tag: [[step, value], …]}``)."""
    done = subprocess.run([sys.executable, "-c", READ_EVENTS, str(logdir)], check=True,
                          capture_output=True, text=True, timeout=120)
    return json.loads(done.stdout)


@pytest.mark.slow
def test_tensorboard_events_hold_every_epoch_and_the_final_metrics(tracked_run):
    folder, record, _ = tracked_run
    scalars = tensorboard_scalars(folder / "tensorboard")

    def steps(tag: str) -> list[int]:
        return [int(s) for s, _ in scalars[tag]]

    def values(tag: str) -> list[float]:
        return [v for _, v in scalars[tag]]

    epochs = [h["epoch"] for h in record.history]
    assert epochs == [1, 2]
    ends = [h["iter"] for h in record.history]  # every value's step: the global iteration
    assert values("epoch") == epochs and steps("epoch") == ends
    assert steps("train/loss") == list(range(1, ends[-1] + 1))  # every step's loss
    # each task's term (on the steps whose batch has its labels) and XTC's own terms
    # (consistency, the collapse probe), per step and as the epoch's mean
    keys = set().union(*(h["train"] for h in record.history))
    assert {"sup_semantic", "sup_depth", "sup_normal", "xtc_consistency",
            "probe_advantage"} <= keys
    for key in keys:
        assert set(steps(f"train/{key}")) <= set(range(1, ends[-1] + 1))
        having = [h for h in record.history if key in h["train"]]
        assert steps(f"epoch/{key}") == [h["iter"] for h in having]
        assert values(f"epoch/{key}") == pytest.approx([h["train"][key] for h in having],
                                                       rel=1e-6)
    for key, value in record.history[-1]["metrics"].items():
        assert steps(f"val/{key}") == ends
        assert values(f"val/{key}")[-1] == pytest.approx(value, rel=1e-6)
    for key, value in record.metrics.items():  # float32 in the event file
        assert scalars[f"test/{key}"] == [[ends[-1], pytest.approx(value, rel=1e-6)]]


@pytest.mark.slow
def test_mlflow_sqlite_run_holds_the_records_metrics_and_identity(tracked_run):
    from mlflow import MlflowClient

    folder, record, uri = tracked_run
    entry = read_tracking(folder)["mlflow"]
    assert entry["tracking_uri"] == uri and entry["experiment"] == "nyuv2"
    run = MlflowClient(uri).get_run(entry["run_id"])
    check_mlflow_run(MlflowClient(uri), run, record)


def check_mlflow_run(client, run, record) -> None:
    assert run.info.status == "FINISHED"
    assert {k: v for k, v in run.data.metrics.items() if k.startswith("test/")} == {
        f"test/{k}": v for k, v in record.metrics.items()}  # exactly: MLflow keeps doubles
    expected = {"dataset": record.dataset, "method": record.method,
                "weighting": record.weighting, "row": record.row, "regime": record.regime,
                "seed": str(record.seed), "profile": record.profile,
                "config_hash": record.config_hash, "run_id": record.run_id,
                "group_id": record.group_id}
    assert {k: run.data.tags.get(k) for k in IDENTITY} == expected
    assert {k: run.data.params.get(k) for k in IDENTITY} == expected
    assert run.data.tags["status"] == record.status
    assert record.run_id in run.info.run_name
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")]
    assert sorted(set(steps)) == list(range(1, record.history[-1]["iter"] + 1))


@pytest.mark.slow
def test_wandb_offline_run_folder_names_the_run(tracked_run):
    folder, record, _ = tracked_run
    entry = read_tracking(folder)["wandb"]
    assert entry["mode"] == "offline" and entry["project"] == "nyuv2"
    assert entry["id"].startswith(record.run_id)
    (run_dir,) = (folder / "wandb").glob(f"offline-run-*-{entry['id']}")
    data = (run_dir / f"run-{entry['id']}.wandb").read_bytes()
    assert f"xtc · onelabel · seed 0 · {record.run_id}".encode() in data
    assert record.config_hash.encode() in data  # the identity, as the run's config


@pytest.mark.slow
def test_report_index_says_where_the_tracker_data_is(tracked_run, tmp_path):
    folder, record, uri = tracked_run
    results = folder.parents[3]
    out = tmp_path / "report"
    assert main(["report", "--dataset", "nyuv2", "--results", str(results), "--out", str(out),
                 "--no-qualitative", "--no-pdf"]) == 0
    index = (out / "index.md").read_text()
    assert "## Experiment trackers" in index
    line = next(line for line in index.splitlines() if record.run_id in line and "MLflow" in line)
    assert str(folder / "tensorboard") in line and uri in line
    assert read_tracking(folder)["mlflow"]["run_id"] in line and "W&B" in line
    assert tracker_lines(folder)


# -- a real MLflow server (slow) ------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
         f"sqlite:///{tmp_path / 'server.db'}", "--default-artifact-root",
         str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()}")
        time.sleep(0.5)
    yield url, proc
    if proc.poll() is None:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)
    log.close()


@pytest.mark.slow
def test_mlflow_server_run_resumes_and_survives_the_server(mlflow_server, nyuv2_root, tmp_path,
                                                          monkeypatch, capsys):
    from mlflow import MlflowClient

    url, proc = mlflow_server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "bench-grid")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    assert main(run_args(nyuv2_root, results, "mlflow")) == 0
    folder = only_run(results)
    record = read_record(folder)
    client = MlflowClient(url)
    entry = read_tracking(folder)["mlflow"]
    assert entry["tracking_uri"] == url and entry["experiment"] == "bench-grid"
    check_mlflow_run(client, client.get_run(entry["run_id"]), record)

    # the same run again (its record gone): the same MLflow run continues
    (folder / "record.json").unlink()
    assert main(run_args(nyuv2_root, results, "mlflow")) == 0
    assert read_tracking(folder)["mlflow"]["run_id"] == entry["run_id"]
    experiment = client.get_experiment_by_name("bench-grid")
    runs = client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.run_id = '{record.run_id}'")
    assert [r.info.run_id for r in runs] == [entry["run_id"]]
    check_mlflow_run(client, runs[0], read_record(folder))

    # the server gone mid-run: one warning, the run goes on and writes its record
    capsys.readouterr()
    (folder / "record.json").unlink()
    from bench.engine import tracking as tracking_module

    opened = tracking_module.Tracking.__init__

    def open_then_kill(self, *args, **kwargs):
        opened(self, *args, **kwargs)
        os.killpg(proc.pid, 9)
        proc.wait(timeout=30)

    monkeypatch.setattr(tracking_module.Tracking, "__init__", open_then_kill)
    assert main(run_args(nyuv2_root, results, "mlflow")) == 0
    out = capsys.readouterr()
    warnings = (out.out + out.err).count("tracker mlflow failed")
    assert warnings == 1
    assert read_record(folder).status == "ok"
    assert "error" in read_tracking(folder)["mlflow"]


def test_an_mlflow_store_that_cannot_be_used_is_exit_2_while_planning(nyuv2_root, tmp_path,
                                                                      capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")  # no server
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.chdir(tmp_path)
    assert main(run_args(nyuv2_root, tmp_path / "r", "mlflow")) == 2
    err = capsys.readouterr().err
    assert "The MLflow tracking store" in err and "cannot be used" in err
    assert not list((tmp_path / "r").glob("runs/*/*/*/*/record.json"))
