"""Inputs cannot fool the harness: no code runs from a data file, runs are keyed by the content
of the files that define them, a record counts only if it is a result, and a record names only
files inside its own run folder."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from layouts import write_pascal
from records import metrics_of
from records import write_record as fake_record

from bench.cli import main
from bench.config.profiles import find_profile
from bench.config.runspec import RunSpec
from bench.data.nyuv2 import NYUv2
from bench.engine.execute import new_record
from bench.grid.plan import plan
from bench.labels.split_files import read_id_split
from bench.records.record import RecordError
from bench.records.store import RECORD, load_record_file, write_record


class Payload:
    """What a hostile split file pickles: a call that leaves a marker file when it runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {self.marker}",))


def hostile_npy(path: Path, marker: Path) -> Path:
    np.save(path, np.array({"semseg": [Payload(marker)], "edge": ["x"]}, dtype=object),
            allow_pickle=True)
    return path


def hostile_pth(path: Path, marker: Path) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"labels_weights": Payload(marker)}, f)
    return path


@pytest.fixture(scope="module")
def pascal_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pascal_data")
    write_pascal(root / "pascal_context", n_train=6, n_val=4, h=32, w=32)
    return root


# -- no code from data files ---------------------------------------------------------------------
def test_a_split_file_that_pickles_code_is_refused_and_its_code_never_runs(tmp_path):
    marker = tmp_path / "ran"
    with pytest.raises(Exception, match="refused: it asks to load posix.system") as info:
        read_id_split(hostile_npy(tmp_path / "evil.npy", marker))
    assert "Nothing in it was run" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize("command", [
    ["run", "--dry-run"], ["power"], ["tune", "--trials", "1", "--methods", "sl"], ["status"]])
def test_no_command_runs_the_code_of_a_split_file(command, pascal_data, tmp_path, capsys):
    """Every command that reads a split file: planning, the preflight, the power study, tuning,
    run states. The hostile file is refused (or, for bench status, only hashed) and its payload
    never runs."""
    marker = tmp_path / "ran"
    evil = hostile_npy(tmp_path / "evil.npy", marker)
    argv = [*command, "--dataset", "pascal_context", "--profile", "smoke",
            "--regimes", f"file:{evil}", "--data-root", str(pascal_data),
            "--results", str(tmp_path / "res")]
    if command[0] in ("run", "power"):
        argv += ["--methods", "sl"]
    if command[0] == "power":
        argv += ["--seeds", "0,1"]
    code = main(argv)
    err = capsys.readouterr().err
    if command[0] == "status":
        assert code == 0  # states come from records and locks: the file is hashed, not read
    else:
        assert code == 2 and "is refused" in err and "Traceback" not in err, err
    assert not marker.exists()
    assert not list((tmp_path / "res").rglob(RECORD))


def test_a_pth_split_file_that_pickles_code_is_refused(nyuv2_root, tmp_path, capsys):
    marker = tmp_path / "ran"
    evil = hostile_pth(tmp_path / "evil.pth", marker)
    code = main(["run", "--dry-run", "--methods", "sl", "--dataset", "nyuv2", "--profile",
                 "smoke", "--regimes", f"file:{evil}", "--data-root", str(nyuv2_root),
                 "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2 and "Cannot read split file" in err and "Traceback" not in err
    assert not marker.exists()


# -- runs keyed by content -----------------------------------------------------------------------
def _split(path: Path, first_task: int) -> Path:
    weights = torch.zeros(16, 3)
    weights[:, first_task] = 1
    weights[0] = 1
    torch.save({"labels_weights": weights}, path)
    return path


def test_a_run_is_keyed_by_the_content_of_its_split_file_not_its_path(nyuv2_root, tmp_path):
    layout = NYUv2.check_layout(nyuv2_root / "nyuv2")
    found = find_profile("smoke")

    def folder(path: Path) -> Path:
        spec = RunSpec("sl", "nyuv2", f"file:{path}", 0, found.id, (), found.source)
        return plan([spec], layout, tmp_path / "res")[0].directory

    (tmp_path / "a").mkdir()
    split = _split(tmp_path / "a" / "split.pth", 0)
    before = folder(split)
    moved = tmp_path / "b" / "split.pth"
    moved.parent.mkdir()
    moved.write_bytes(split.read_bytes())
    assert folder(moved) == before  # the same file elsewhere: the same runs
    _split(split, 1)  # rewritten with other labels under the same path
    assert folder(split) != before


def test_status_says_why_a_run_of_a_rewritten_split_file_is_pending(nyuv2_root, tmp_path,
                                                                    capsys):
    split = _split(tmp_path / "split.pth", 0)
    argv = ["--methods", "sl", "--dataset", "nyuv2", "--profile", "smoke", "--regimes",
            f"file:{split}", "--data-root", str(nyuv2_root), "--results", str(tmp_path / "res")]
    layout = NYUv2.check_layout(nyuv2_root / "nyuv2")
    found = find_profile("smoke")
    spec = RunSpec("sl", "nyuv2", f"file:{split}", 0, found.id, (), found.source)
    run = plan([spec], layout, tmp_path / "res")[0]
    record = new_record(spec, run.config, "2026-12-01T00:00:00+00:00")
    record.status, record.metrics = "ok", metrics_of(30.0, 0.5, 30.0)
    write_record(run.directory, record)
    assert main(["status", *argv]) == 0
    assert "finished" in capsys.readouterr().out
    _split(split, 2)
    assert main(["status", *argv]) == 0
    out = capsys.readouterr().out.replace("\n", " ")
    assert "pending" in out and "regime_file.sha256" in out


# -- a record is a result only if it is one ------------------------------------------------------
@pytest.mark.parametrize("edit,why", [
    (lambda r: r.pop("metrics"), "no semantic/mIoU"),
    (lambda r: r["metrics"].update({"depth/absErr": "0.5"}), "is '0.5', not a number"),
    (lambda r: r["metrics"].update({"semantic/mIoU": float("nan")}), "not a finite number"),
    (lambda r: r["metrics"].update({"normal/mean": True}), "not a number"),
    (lambda r: r.update({"status": "diverged", "error": None}), "without saying why"),
    (lambda r: r.update({"artifacts": {"visuals": "/etc/passwd"}}), "not a file name inside"),
    (lambda r: r.update({"artifacts": {"visuals": "../../x.npz"}}), "not a file name inside"),
    (lambda r: r.update({"weights": "../../model.pth"}), "not a file name inside"),
])
def test_a_record_that_is_not_a_result_is_named_set_aside_and_redone(edit, why, nyuv2_root,
                                                                     tmp_path, capsys):
    results = tmp_path / "r"
    folder = fake_record(results, "nyuv2", "sl", "onelabel", 0, metrics_of(40, 0.5, 25),
                         profile="smoke")
    fake_record(results, "nyuv2", "sl", "onelabel", 1, metrics_of(41, 0.5, 25), profile="smoke")
    path = folder / RECORD
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="not a result"):
        load_record_file(path)
    assert why in str(pytest.raises(RecordError, load_record_file, path).value)
    # bench table names it and shows the other run; it does not drop a column silently
    assert main(["table", "--dataset", "nyuv2", "--results", str(results), "--profile",
                 "smoke"]) == 0
    captured = capsys.readouterr()
    assert str(path) in captured.err and "not a result" in captured.err
    # bench report names it too, and does not crash
    assert main(["report", "--dataset", "nyuv2", "--results", str(results), "--profile",
                 "smoke", "--no-pdf", "--no-qualitative"]) == 0
    assert "not a result" in capsys.readouterr().err


def test_bench_run_redoes_a_run_whose_record_is_not_a_result(nyuv2_root, tmp_path, capsys):
    argv = ["run", "--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds",
            "0", "--profile", "smoke", "--data-root", str(nyuv2_root), "--results",
            str(tmp_path / "res")]
    layout = NYUv2.check_layout(nyuv2_root / "nyuv2")
    found = find_profile("smoke")
    run = plan([RunSpec("sl", "nyuv2", "onelabel", 0, found.id, (), found.source)], layout,
               tmp_path / "res")[0]
    record = new_record(run.spec, run.config, "2026-12-01T00:00:00+00:00")
    record.status = "ok"  # ok, but with no metrics: not a result
    run.directory.mkdir(parents=True)
    (run.directory / RECORD).write_text(json.dumps(record.to_dict()))
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().err.replace("\n", " ")
    assert "todo" in out and "not a result" in out
    assert main(["status", *argv[1:]]) == 0
    assert "pending" in capsys.readouterr().out
