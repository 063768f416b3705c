"""End to end through the CLI: run, skip, table, errors, resume after a kill, determinism."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from polling import alive, wait_until
from signals import interruptible

from bench.cli import main
from bench.engine.threads import CPU_THREADS
from bench.records.store import iter_records

ROOT = Path(__file__).resolve().parents[1]


def _records(results: Path) -> list[dict]:
    return list(iter_records(results))


@pytest.mark.slow
def test_run_writes_one_record_per_run_then_skips(nyuv2_root, tmp_path, capsys):
    results = tmp_path / "res"
    argv = ["run", "--methods", "sl,stl", "--dataset", "nyuv2", "--regimes",
            "full,onelabel,randomlabels", "--seeds", "0,1", "--profile", "smoke", "--jobs", "1",
            "--data-root", str(nyuv2_root), "--results", str(results)]
    assert main(argv) == 0
    records = _records(results)
    assert len(records) == 12
    assert {(r.method, r.regime, r.seed) for r in records} == {
        (m, g, s) for m in ("sl", "stl") for g in ("full", "onelabel", "randomlabels")
        for s in (0, 1)}
    for r in records:
        assert r.status == "ok"
        assert set(r.metrics) >= {"semantic/mIoU", "depth/absErr", "normal/mean"}
        assert r.history and r.history[-1]["epoch"] == 2
        assert r.timing["step_time_s"] > 0 and r.memory["peak_bytes"] > 0
        assert r.environment["torch"] and r.mask["shape"] == [14, 3]  # 2 of 16 held out
        assert r.validation["images"] == 2 and r.selection == {"rule": "last", "epoch": 2}
        assert r.config["optim"]["net"]["optimizer"]["type"] == "Adam"
        assert (Path(r.path) / "model_final.pth").is_file()
        assert not list((Path(r.path) / "work").glob("*.pth"))  # training ckpts dropped
    capsys.readouterr()
    assert main(argv) == 0
    out = capsys.readouterr()
    text = out.out + out.err
    assert "12 runs (12 already finished)" in text
    assert text.count("already finished (ok)") == 12
    assert len(_records(results)) == 12

    # table: rows per (regime, method), mean ± std over 2 seeds, Δm against STL
    assert main(["table", "--dataset", "nyuv2", "--profile", "smoke", "--results",
                 str(results)]) == 0
    table = capsys.readouterr().out
    assert "Seg. mIoU ↑" in table and "Depth aErr ↓" in table and "Norm. mErr ↓" in table
    assert "randomlabels" in table and "±" in table
    assert "Δm baseline: stl" in table and "used: stl@full, stl@onelabel, stl@randomlabels" in table
    assert "semantic: mIoU (higher is better)" in table


@pytest.mark.slow
def test_changed_config_is_a_new_run(nyuv2_root, tmp_path):
    results = tmp_path / "res"
    base = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0", "--profile", "smoke", "--jobs", "1", "--data-root", str(nyuv2_root),
            "--results", str(results), "--no-table"]
    assert main(base) == 0
    assert main(base + ["--set", "train.epochs=1"]) == 0
    records = _records(results)
    assert len(records) == 2 and len({r.config_hash for r in records}) == 2


@pytest.mark.parametrize("argv,expected", [
    (["run", "--methods", "sl", "--dataset", "nyuv2"], "No dataset found at"),
    (["run", "--methods", "sll"], "Did you mean 'sl'?"),
    (["run", "--dataset", "nyu"], "Did you mean 'nyuv2'?"),
    (["run", "--regimes", "onelabl", "--dataset", "nyuv2"], "Did you mean 'onelabel'?"),
    (["run", "--profile", "quik"], "Did you mean 'quick'?"),
    (["run", "--seeds", "a,b"], "Bad --seeds"),
    (["run", "--set", "epochs"], "Bad --set"),
    (["table", "--dataset", "nyuv3"], "No run records of nyuv3"),
])
def test_user_errors_exit_2_with_a_message(argv, expected, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ./datasets does not exist here
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err


def test_bad_split_file_and_malformed_data_exit_2(nyuv2_root, tmp_path, capsys):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"junk")
    common = ["--methods", "sl", "--dataset", "nyuv2", "--profile", "smoke", "--jobs", "1", "--data-root",
              str(nyuv2_root), "--results", str(tmp_path / "r")]
    assert main(["run", "--regimes", f"file:{bad}", *common]) == 2
    assert "Cannot read split file" in capsys.readouterr().err
    import shutil

    broken = tmp_path / "data"
    shutil.copytree(nyuv2_root / "nyuv2", broken / "nyuv2")
    import numpy as np

    np.save(broken / "nyuv2" / "train" / "label" / "0.npy", np.full((64, 64), 40.0, np.float32))
    assert main(["run", "--methods", "sl", "--dataset", "nyuv2", "--data-root", str(broken),
                 "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "out of range" in err and "label/0.npy" in err and "Traceback" not in err


def _cli(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            preexec_fn=interruptible, **kw)


def _wait_for(pattern: str, base: Path, timeout: float = 120) -> None:
    wait_until(lambda: list(base.rglob(pattern)), timeout, f"a file {pattern} under {base}")


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_killed_run_resumes_and_matches_uninterrupted(nyuv2_root, tmp_path, sig):
    args = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "randomlabels",
            "--seeds", "3", "--profile", "smoke", "--jobs", "1", "--set", "train.epochs=5", "--no-table",
            "--data-root", str(nyuv2_root)]
    # uninterrupted reference, in this process
    assert main([*args, "--results", str(tmp_path / "ref")]) == 0
    ref = _records(tmp_path / "ref")[0]

    results = tmp_path / "killed"
    proc = _cli([*args, "--results", str(results)])
    _wait_for("epoch_2.pth", results)
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert proc.returncode == 130, out
        assert "run the same command again to resume" in out
    if sig == signal.SIGTERM:  # what Slurm sends before a preemption: as Ctrl-C, exit 143
        assert proc.returncode == 143, out
        said = " ".join(out.split())
        assert "Terminated (SIGTERM)" in said and "run the same command again to resume" in said
    assert not _records(results)  # unfinished: no record, but a checkpoint to resume from
    assert list(results.rglob("last_checkpoint"))

    proc = _cli([*args, "--results", str(results)])
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    rec = _records(results)[0]
    assert rec.timing["resumed"] == 1
    assert rec.metrics == ref.metrics
    assert [h["epoch"] for h in rec.history] == [1, 2, 3, 4, 5]
    assert json.dumps(rec.history[-1]["metrics"]) == json.dumps(ref.history[-1]["metrics"])


@pytest.mark.slow
def test_same_seed_same_metrics_twice(nyuv2_root, tmp_path):
    args = ["run", "--methods", "stl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "7", "--profile", "smoke", "--jobs", "1", "--no-table", "--data-root", str(nyuv2_root)]
    assert main([*args, "--results", str(tmp_path / "a")]) == 0
    assert main([*args, "--results", str(tmp_path / "b")]) == 0
    a, b = _records(tmp_path / "a")[0], _records(tmp_path / "b")[0]
    assert a.metrics == b.metrics and a.config_hash == b.config_hash
    assert a.history == b.history


@pytest.mark.slow
def test_parallel_workers_finish_and_die_with_a_killed_parent(nyuv2_root, tmp_path):
    args = ["run", "--methods", "sl,stl", "--dataset", "nyuv2", "--regimes", "onelabel",
            "--seeds", "0,1", "--profile", "smoke", "--set", "train.epochs=40", "--jobs", "2",
            "--no-table", "--data-root", str(nyuv2_root), "--results", str(tmp_path / "res")]
    proc = _cli(args)
    _wait_for("epoch_2.pth", tmp_path / "res")
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                              text=True).stdout.split()
    assert len(children) >= 2  # the worker processes (and multiprocessing's manager)
    proc.kill()
    proc.wait(timeout=30)

    # workers notice their parent is gone within a second
    wait_until(lambda: not alive(children), 30, "the workers of the killed parent to exit")
    assert not _records(tmp_path / "res")
    proc = _cli(args)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out
    records = _records(tmp_path / "res")
    assert len(records) == 4 and all(r.status == "ok" for r in records)
    assert any(r.timing["resumed"] for r in records)
    assert {r.environment["torch_threads"] for r in records} == {CPU_THREADS}  # whatever --jobs
