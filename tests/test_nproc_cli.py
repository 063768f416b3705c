"""``bench run --nproc N``: one run over N processes launched with torchrun (gloo on the CPU).

The record is one process's record in format and identity, with ``world_size`` in its
environment; rank 1 writes nothing into the results folder; a killed run resumes from rank 0's
checkpoint and ends with the numbers of an uninterrupted run; bad combinations exit 2.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from polling import alive, wait_until
from signals import interruptible

from bench.cli import main
from bench.records.record import Record
from bench.records.store import iter_records

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ["run", "--methods", "sl", "--dataset", "synthetic-nyuv2", "--regimes", "onelabel",
         "--seeds", "0", "--profile", "smoke", "--no-table"]


def _files(run: Path) -> set[str]:
    """The files of a run folder, mmengine's time-stamped log names made generic."""
    return {re.sub(r"\d{8}_\d{6}", "TIME", str(p.relative_to(run)))
            for p in run.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_two_processes_write_one_record_equal_to_one_process(synthetic_root, tmp_path,
                                                             monkeypatch):
    """SGD: Adam's first step is ±lr whatever a gradient's size, so for weights whose gradient
    is float noise (mostly conv biases before batch norm) rounding picks the sign: after one
    Adam step 451 of 100,224 weights differed by more than 1e-4 (up to 2·lr) between 1 and 2
    processes, and this 14-step smoke run's metrics depend on rounding (semantic mIoU 3.48 with
    1 process, 2.83 with 2, 2.56 with 1 process on 2 threads instead of 1). With SGD, measured
    on this CPU: largest relative difference 2.7 % (semantic pixAcc; depth absErr 1.4e-6, first
    epoch's loss 5e-4), against up to 10 % between 1 process on 1 and on 2 threads; hence
    ``rel=0.1``. The first epoch's loss differs with the CPU's kernels: 5e-4 on an AVX2 machine,
    2.9e-3 (2.4382 against 2.4452) on an AVX-512 one of the same family; hence ``rel=1e-2``."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the ranks' own temporary folders
    common = [*SMOKE, "--set", "train.optimizer.type=SGD", "--data-root", str(synthetic_root)]
    assert main([*common, "--jobs", "1", "--results", str(tmp_path / "one")]) == 0
    assert main([*common, "--nproc", "2", "--results", str(tmp_path / "two")]) == 0
    (one,), (two,) = list(iter_records(tmp_path / "one")), list(iter_records(tmp_path / "two"))
    assert two.status == "ok"
    assert (two.run_id, two.config_hash) == (one.run_id, one.config_hash)  # same identity
    assert set(two.to_dict()) == set(one.to_dict())
    assert set(two.environment) == set(one.environment)
    assert (one.environment["world_size"], one.environment["dist_backend"]) == (1, None)
    assert (two.environment["world_size"], two.environment["dist_backend"]) == (2, "gloo")
    # rank 0 wrote what one process writes, plus torchrun's output; rank 1 nothing
    assert _files(Path(two.path)) == _files(Path(one.path)) | {"work/torchrun.log"}
    assert not list(scratch.glob("bench-rank*"))
    assert not (ROOT / ".dist_test").exists() and not (Path.cwd() / ".dist_test").exists()
    assert [h["epoch"] for h in two.history] == [h["epoch"] for h in one.history] == [1, 2]
    assert two.history[0]["train"]["loss"] == pytest.approx(one.history[0]["train"]["loss"],
                                                            rel=1e-2)
    assert set(two.metrics) == set(one.metrics)
    for key, value in one.metrics.items():
        assert two.metrics[key] == pytest.approx(value, rel=0.1), key


def _cli(args: list[str], tmp: Path) -> subprocess.Popen:
    """``bench run`` in a subprocess, its temporary folders in ``tmp`` (a SIGKILLed launcher
    leaves its job folder and rank 1 its scratch folder there, not in the machine's /tmp)."""
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=interruptible)


def _descendants(pid: int) -> list[str]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                              text=True).stdout.split()
    return children + [d for c in children for d in _descendants(int(c))]


def _long_run(data: Path) -> list[str]:
    # 12 epochs: killed after its second checkpoint, the run must still have work left when the
    # signal arrives (with 5, a quiet machine finished it within the ranks' ~1 s to notice)
    return [*SMOKE, "--nproc", "2", "--set", "train.epochs=12", "--data-root", str(data)]


@pytest.fixture(scope="module")
def uninterrupted(synthetic_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Record:
    """The 12-epoch 2-process run, uninterrupted."""
    results = tmp_path_factory.mktemp("uninterrupted")
    assert main([*_long_run(synthetic_root), "--results", str(results)]) == 0
    (ref,) = list(iter_records(results))
    return ref


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_killed_two_process_run_resumes_and_matches_uninterrupted(synthetic_root, tmp_path,
                                                                   sig, uninterrupted):
    """Interrupted (exit 130) or killed (its processes exit within a second) after its second
    checkpoint, the run resumes in both processes from rank 0's checkpoint and ends with the
    metrics and history of an uninterrupted 2-process run, exactly."""
    args = _long_run(synthetic_root)
    ref = uninterrupted

    results = tmp_path / "killed"
    proc = _cli([*args, "--results", str(results)], tmp_path / "tmp")
    wait_until(lambda: list(results.rglob("epoch_2.pth")), 180, "the second checkpoint")
    processes = _descendants(proc.pid)  # torchrun and the two ranks
    assert len(processes) >= 3
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, out
        assert "run the same command again to resume" in out
    wait_until(lambda: not alive(processes), 30, "the processes of the stopped run to exit")
    assert not list(iter_records(results))
    assert list(results.rglob("last_checkpoint"))

    proc = _cli([*args, "--results", str(results)], tmp_path / "tmp")
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    (rec,) = list(iter_records(results))
    assert rec.timing["resumed"] == 1
    assert rec.metrics == ref.metrics
    assert [h["epoch"] for h in rec.history] == list(range(1, 13))
    assert json.dumps(rec.history) == json.dumps(ref.history)


FAIL_ON_RANK = """
import os
if os.environ.get("RANK") == "1":  # torchrun's second process: its run fails while building
    import bench.engine.execute as execute

    def fail(*args, **kwargs):
        raise RuntimeError("injected failure")

    execute.build_optimisation = fail
"""


@pytest.mark.slow
def test_a_failing_rank_gives_a_failed_record_naming_its_error(synthetic_root, tmp_path,
                                                              monkeypatch):
    """Rank 1 fails (rank 0 then waits in a collective, or fails on the broken connection):
    the processes end, and the run's record is ``failed`` with rank 1's error, whoever wrote
    it; the next ``bench run`` would retry it."""
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(FAIL_ON_RANK)  # imported by every new interpreter
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(inject), *filter(None, [os.environ.get("PYTHONPATH")])]))
    results = tmp_path / "res"
    assert main([*SMOKE, "--nproc", "2", "--data-root", str(synthetic_root), "--results",
                 str(results)]) == 1
    (record,) = list(iter_records(results))
    assert record.status == "failed" and not record.finished
    assert record.error["message"] == "rank 1 of 2: injected failure"
    assert record.environment["world_size"] == 2
    assert not list(results.rglob("model_final.pth"))


@pytest.mark.parametrize("extra,expected", [
    (["--nproc", "2", "--jobs", "2"], "does not combine with --jobs 2"),
    (["--nproc", "2", "--launcher", "submitit-local"], "does not combine with --launcher"),
    (["--nproc", "2", "--launcher", "slurm"], "does not combine with --launcher slurm"),
    (["--nproc", "2", "--gpus", "0"], "--nproc and --gpus do not combine"),
    (["--nproc", "0"], "--nproc must be at least 1"),
    (["--nproc", "3"], "does not split into 3 equal shards"),
    (["--nproc", "2", "--set", "train.batch_size=3"], "does not split into 2 equal shards"),
])
def test_bad_nproc_input_exits_2_before_any_run(extra, expected, nyuv2_root, tmp_path, capsys,
                                                monkeypatch):
    monkeypatch.setenv("BENCH_FAKE_GPUS", "0=16GiB")  # --gpus 0 exists, on any machine
    argv = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0", "--profile", "smoke", "--no-table", "--data-root", str(nyuv2_root),
            "--results", str(tmp_path / "res"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not list(iter_records(tmp_path / "res"))
