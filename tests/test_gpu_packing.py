"""``--gpus``: runs packed onto the devices of a node by their measured memory, on fake devices.

No GPU is needed: ``BENCH_FAKE_GPUS`` gives the device list, and a fake worker target notes the
``CUDA_VISIBLE_DEVICES`` it was started with.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gpu_workers import note_device

from bench.cli import main
from bench.config.runspec import RunSpec, group_hash
from bench.engine.progress import NullSink
from bench.errors import BenchError
from bench.grid.plan import PlannedRun
from bench.launch.devices import device_memory, fake_devices
from bench.launch.gpus import execute_on_gpus
from bench.launch.outcomes import GridCounts
from bench.launch.packing import CONTEXT_BYTES, MemoryEstimates, Packer, need_bytes
from bench.records.record import Record
from bench.records.store import iter_records

GiB = 2**30


# -- the packer -------------------------------------------------------------------------------
def test_unknown_need_takes_a_device_whole():
    packer = Packer({0: 16 * GiB, 1: 16 * GiB})
    a, b = packer.place(None), packer.place(None)
    assert {a.device, b.device} == {0, 1}
    assert packer.place(None) is None and packer.place(1 * GiB) is None
    packer.release(a)
    assert packer.place(1 * GiB).device == a.device


def test_known_needs_pack_best_fit_and_never_over():
    packer = Packer({0: 10 * GiB, 1: 4 * GiB})
    placed = [packer.place(3 * GiB) for _ in range(4)]
    assert [p.device for p in placed[:3]] == [1, 0, 0]  # fullest device that still fits first
    assert placed[3].device == 0
    assert packer.place(3 * GiB) is None  # 1 GiB left on each: nothing over the memory
    assert all(free >= 0 for free in packer.free.values())
    assert packer.place(1 * GiB) is not None


def test_a_need_beyond_every_device_runs_alone_on_the_largest():
    packer = Packer({0: 8 * GiB, 1: 24 * GiB})
    big = packer.place(40 * GiB)
    assert big.device == 1 and packer.free[1] == 0
    assert packer.place(40 * GiB) is None
    assert packer.place(2 * GiB).device == 0


def test_estimates_come_from_gpu_records_of_the_same_group():
    config = {"method": {"name": "sl"}, "seed": 0, "execution": {"data_root": "/a"}}
    other_seed = {**config, "seed": 3, "execution": {"data_root": "/b"}}

    def record(kind: str, peak: int) -> Record:
        return Record.from_dict({"schema": 3, "run_id": "r", "group_id": "g", "config_hash": "c",
                                 "spec": {"method": "sl", "dataset": "nyuv2"}, "config": config,
                                 "status": "ok", "metrics": {"loss": 1.0},
                                 "memory": {"kind": kind, "peak_bytes": peak}})

    estimates = MemoryEstimates.from_records([record("cpu_peak_rss", 9 * GiB)])
    assert estimates.need(other_seed) is None  # CPU memory says nothing about a GPU
    estimates.learn(record("cuda_max_allocated", 2 * GiB))
    estimates.learn(record("cuda_max_allocated", 1 * GiB))
    assert estimates.need(other_seed) == need_bytes(2 * GiB) == int(2.4 * GiB) + CONTEXT_BYTES
    assert estimates.need({**config, "method": {"name": "xtc"}}) is None


# -- devices ----------------------------------------------------------------------------------
def test_fake_devices_and_bad_ids(monkeypatch):
    assert fake_devices("0=16GiB, 1=512MiB") == {0: 16 * GiB, 1: 512 * 2**20}
    monkeypatch.setenv("BENCH_FAKE_GPUS", "0=16GiB,1=16GiB")
    assert device_memory([1]) == {1: 16 * GiB}
    with pytest.raises(BenchError, match="does not have"):
        device_memory([0, 2])
    monkeypatch.setenv("BENCH_FAKE_GPUS", "0=lots")
    with pytest.raises(BenchError, match="Bad memory size"):
        device_memory([0])


# -- the pool: real worker processes, fake work --------------------------------------------------
@pytest.mark.slow
def test_pool_sets_cuda_visible_devices_and_respects_memory(tmp_path):
    memory = {0: 10 * GiB, 1: 4 * GiB}
    needs = [3 * GiB, 3 * GiB, 3 * GiB, 3 * GiB, 9 * GiB, None]
    runs, estimates, placed = [], MemoryEstimates(), {}
    for i, need in enumerate(needs):
        config = {"group": i, "hold_s": 1.5, "seed": 0}
        if need is not None:  # a measured peak whose need is exactly ``need``
            estimates.peaks[group_hash(config)] = int((need - CONTEXT_BYTES) / 1.2) + 1
        runs.append(PlannedRun(RunSpec("sl", "nyuv2", "onelabel", i, "smoke"), config,
                               tmp_path / f"run{i}", False))
    counts = execute_on_gpus(runs, memory, estimates, GridCounts(NullSink()), target=note_device,
                             on_place=lambda run, p: placed.__setitem__(run.directory, p))
    assert counts == {"skipped": len(runs)}
    seen = {r.directory: json.loads((r.directory / "worker.json").read_text()) for r in runs}
    assert set(placed) == set(seen)  # every run got a device
    for directory, worker in seen.items():
        assert worker["cuda_visible_devices"] == str(placed[directory].device)
        assert worker["order"] == "PCI_BUS_ID"
    assert len({w["pid"] for w in seen.values()}) == len(runs)  # one worker process per run
    # at every instant, what runs on a device fits in its memory
    for device, total in memory.items():
        spans = [(seen[d]["start"], seen[d]["end"], p.reserved) for d, p in placed.items()
                 if p.device == device]
        for start, _, _ in spans:
            assert sum(r for s, e, r in spans if s <= start < e) <= total
    # packing happened: the 10 GiB device held several 3 GiB runs at once
    three = [seen[r.directory] for r, n in zip(runs, needs, strict=True) if n == 3 * GiB
             and placed[r.directory].device == 0]
    assert any(a["start"] < b["end"] and b["start"] < a["end"]
               for i, a in enumerate(three) for b in three[i + 1:])


@pytest.mark.slow
def test_bench_run_on_fake_gpus_then_status(nyuv2_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BENCH_FAKE_GPUS", "0=16GiB,1=16GiB")
    results = tmp_path / "res"
    grid = ["--methods", "sl", "--dataset", "nyuv2", "--regimes", "onelabel", "--seeds", "0,1",
            "--profile", "smoke", "--data-root", str(nyuv2_root), "--results", str(results)]
    assert main(["run", *grid, "--gpus", "0,1", "--no-table"]) == 0
    records = list(iter_records(results))
    assert [r.status for r in records] == ["ok", "ok"]
    # nothing measured on a GPU yet: each run had a device to itself
    assert sorted(r.launch["cuda_visible_devices"] for r in records) == ["0", "1"]
    assert all(r.launch["launcher"] == "local" for r in records)
    capsys.readouterr()
    assert main(["status", *grid]) == 0
    assert "pending 0  running 0  finished 2  failed 0  diverged 0" in capsys.readouterr().out
    assert main(["run", *grid, "--gpus", "7"]) == 2
    assert "does not have" in capsys.readouterr().err
    assert Path(records[0].path).is_dir()
