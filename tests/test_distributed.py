"""Data parallelism: 2 gloo processes on the CPU take the steps one process takes on the whole
batch (sharded sampler, gradients averaged over both optimiser groups, global batch norm)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench.engine.build import EpochSampler
from bench.engine.distributed import convert_batchnorm, distributed_wrappers
from bench.perf import random_batch
from bench.registry import METHODS, get_dataset

GLOBAL_BATCH = 8
STEPS = 3


def test_the_shards_of_a_global_batch_are_the_one_process_batch():
    one = [i for i, _ in EpochSampler(21, seed=3)]
    shards = [list(EpochSampler(21, seed=3, batch=2, rank=r, world=2)) for r in range(2)]
    assert all(len(s) == 10 for s in shards)
    for k in range(21 // 4):
        merged = [i for s in shards for i, _ in s[2 * k:2 * k + 2]]
        assert merged == one[4 * k:4 * k + 4]


def _shard(data: dict, rows: slice) -> dict:
    if isinstance(data, dict):
        return {k: _shard(v, rows) for k, v in data.items()}
    return data[rows]


def _train(method: str, rank: int, world: int) -> dict[str, torch.Tensor]:
    """``STEPS`` steps of ``method`` on this process's shard of one fixed global batch."""
    tasks = get_dataset("synthetic-nyuv2").build_tasks()
    data = random_batch(tasks, GLOBAL_BATCH, 64, 64, "full")
    # segmentation labelled everywhere: it is never a source, so no Gumbel sample is drawn
    image = torch.arange(GLOBAL_BATCH)
    data["label_mask"] = torch.stack([image >= 0, image % 2 == 0, image % 3 == 0], 1)
    data = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v)
            for k, v in data.items()}
    data["view2"]["image"] = data["view2"]["image"].double()
    for group in (data["labels"], data["view2"]["labels"]):
        for k, v in group.items():
            group[k] = v.double() if v.is_floating_point() else v
    local = GLOBAL_BATCH // world
    data = _shard(data, slice(rank * local, (rank + 1) * local))
    torch.manual_seed(0)
    model = convert_batchnorm(METHODS.build({"type": method, "tasks": tasks, "width": 0.125}))
    model = model.double().train()
    from mmengine.optim import OptimWrapper, OptimWrapperDict

    groups = model.optim_groups()
    # SGD: Adam would turn the ~1e-17 gradients of the conv biases that batch norm cancels
    # into ±lr steps of random sign
    wrappers = {k: OptimWrapper(torch.optim.SGD(v, lr=0.1)) for k, v in groups.items()}
    wrapper = wrappers["net"] if len(wrappers) == 1 else OptimWrapperDict(**wrappers)
    distributed_wrappers(wrapper)
    for _ in range(STEPS):
        model.train_step(data, wrapper)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _worker(rank: int, world: int, method: str, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        state = _train(method, rank, world)
        torch.save(state, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


#: XTC's 2-process run does not equal the 1-process run (the shared encoder's weights differ
#: after 3 steps), on main and, rerun on a quiet machine, on the branch that built this too,
#: although its author saw it pass under load. Cause not found; issue 13 stays open for it.
#: Strict: the test fails as soon as the equality holds, so the mark cannot outlive the bug.
XTC_KNOWN_FAILURE = pytest.mark.xfail(strict=True, reason="2-process XTC differs from 1 process "
                                    "(cause not found; issue 13, open)")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sl", pytest.param("xtc", marks=XTC_KNOWN_FAILURE)])
def test_two_gloo_processes_equal_one(method, tmp_path, monkeypatch):
    """SL (one optimiser group) and XTC (net + FiLM groups, mapping, regulariser), in float64
    so that "equal" can mean 1e-9; the mask keeps segmentation labelled, so XTC draws no
    Gumbel sample (a per-process draw; see :mod:`bench.engine.distributed`)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = _train(method, 0, 1)
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_worker, args=(2, method, init, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for name, value in one.items():
        torch.testing.assert_close(ranks[0][name], ranks[1][name], rtol=0, atol=0)
        torch.testing.assert_close(ranks[0][name], value, rtol=1e-7, atol=1e-9, msg=name)
    moved = [k for k, v in one.items() if k.endswith("running_mean") and v.abs().sum() > 0]
    assert moved  # the global batch statistics reached the running statistics
    os.environ.pop("MASTER_ADDR", None)
