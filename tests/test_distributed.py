"""Data parallelism: 2 gloo processes on the CPU take the steps one process takes on the whole
batch (sharded sampler, gradients averaged over both optimiser groups, global batch norm)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from bench.engine.build import EpochSampler, ShardSampler
from bench.engine.distributed import convert_batchnorm, distributed_wrappers
from bench.nets.norm import sync_running_statistics
from bench.registry import METHODS, get_dataset
from bench.studies.perf import random_batch

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


def _batch(rank: int, world: int) -> dict:
    """This process's shard of one fixed global batch of ``GLOBAL_BATCH`` images, in float64.

    Label mask: segmentation is labelled on every image that has a label, and no image has
    every label, so segmentation is never a source of a cross-task row and XTC draws no Gumbel
    sample (a per-process draw; see :mod:`bench.engine.distributed`; an image with *every* label
    takes every ordered pair, segmentation → others included). Image 3 has no label at all, so
    the shards hold different numbers of rows (6 and 8 XTC rows).
    """
    tasks = get_dataset("synthetic-nyuv2").build_tasks()
    data = random_batch(tasks, GLOBAL_BATCH, 64, 64, "full")
    image = torch.arange(GLOBAL_BATCH)
    labelled = image != 3
    data["label_mask"] = torch.stack([labelled, labelled & (image % 2 == 0),
                                      labelled & (image % 2 == 1)], 1)
    data = {k: (v.double() if torch.is_tensor(v) and v.is_floating_point() else v)
            for k, v in data.items()}
    data["view2"]["image"] = data["view2"]["image"].double()
    for group in (data["labels"], data["view2"]["labels"]):
        for k, v in group.items():
            group[k] = v.double() if v.is_floating_point() else v
    local = GLOBAL_BATCH // world
    return _shard(data, slice(rank * local, (rank + 1) * local))


def _train(method: str, rank: int, world: int,
           starts: list[dict[str, torch.Tensor]] | None = None) -> list[dict[str, torch.Tensor]]:
    """``STEPS`` steps of ``method`` on this process's shard; the states before the first and
    after every step. With ``starts``, step k begins from ``starts[k]`` (loaded into the model)."""
    tasks = get_dataset("synthetic-nyuv2").build_tasks()
    data = _batch(rank, world)
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

    def state() -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in model.state_dict().items()}

    states = [state()]
    for k in range(STEPS):
        if starts is not None:
            model.load_state_dict(starts[k])
        model.train_step(data, wrapper)
        states.append(state())
    return states


def _worker(rank: int, world: int, method: str, init: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        starts = torch.load(Path(out) / "one.pt")[:-1]
        states = _train(method, rank, world, starts)
        torch.save(states, Path(out) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
@pytest.mark.parametrize("method", ["sl", "xtc"])
def test_two_gloo_processes_equal_one(method, tmp_path, monkeypatch):
    """Every step of 2 processes equals the step of 1 process from the same state (weights,
    optimiser-free SGD, batch-norm buffers included) to float64 rounding: SL (one optimiser
    group) and XTC (net + FiLM groups, mapping with per-image batch norm, regulariser).

    Each 2-process step starts from the 1-process state before it rather than from its own
    previous step: XTC's training is so ill-conditioned at this size (the first SGD step moves
    the encoder's first weights from |w| ≤ 0.46 to 9.3) that the 1-process run itself turns a
    1e-14 relative change of the initial weights into weight differences of 8e-11, 1.4e-8 and
    3.3e-6 after 1, 2 and 3 steps (measured), so free-running trajectories cannot agree to
    float64 rounding whatever the 2 processes compute. Measured largest differences from 1
    process: SL 4.3e-14; XTC 2.6e-10 in the first step (gradients ~90), ≤ 6.7e-12 in the others.
    """
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    one = _train(method, 0, 1)
    torch.save(one, tmp_path / "one.pt")
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_worker, args=(2, method, init, str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    for step in range(1, STEPS + 1):
        for name, value in one[step].items():
            torch.testing.assert_close(ranks[0][step][name], ranks[1][step][name], rtol=0,
                                       atol=0)
            torch.testing.assert_close(ranks[0][step][name], value, rtol=1e-7, atol=1e-9,
                                       msg=f"step {step}: {name}")
    last = one[STEPS]
    moved = [k for k, v in last.items() if k.endswith("running_mean") and v.abs().sum() > 0]
    assert moved  # the global batch statistics reached the running statistics
    if method == "xtc":  # the mapping's per-image batch norms, with the rows of both shards
        assert any(k.startswith("mapping.") for k in moved)
    os.environ.pop("MASTER_ADDR", None)


def test_deferred_per_image_statistics_equal_immediate_in_one_process():
    """:func:`convert_batchnorm` defers the mapping's per-image running-statistics updates to
    :func:`sync_running_statistics`; in one process that gives the immediate updates: one per
    call, a chunked call included, in call order."""
    from bench.nets.mapping import CPU_ROW_CHUNK, CrossTaskMapping

    torch.manual_seed(0)
    plain = CrossTaskMapping([13, 1, 3], width=0.125).train()
    deferred = convert_batchnorm(copy.deepcopy(plain))
    rows = CPU_ROW_CHUNK + 5  # chunked: one update over all rows
    task = torch.arange(rows) % 3
    inputs = [torch.rand(int((task == k).sum()), c, 32, 32) for k, c in enumerate((13, 1, 3))]
    pair = torch.zeros(rows, dtype=torch.long)
    few = [x[:1] for x in inputs]  # a second, unchunked call of 3 rows in the same step
    for _ in range(2):
        for net in (plain, deferred):
            net(inputs, task, pair)
            net(few, torch.arange(3), pair[:3])
        sync_running_statistics(deferred)  # two updates per layer, in call order
    for (name, a), b in zip(plain.state_dict().items(), deferred.state_dict().values(),
                            strict=True):
        torch.testing.assert_close(b, a, rtol=1e-6, atol=1e-7, msg=name)


def test_shard_sampler_pads_to_equal_shares_and_interleaves_back():
    shares = [list(ShardSampler(7, r, 3)) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]
    back = [i for group in zip(*shares, strict=True) for i in group][:7]
    assert back == list(range(7))


EVAL_IMAGES = 7  # odd: the second process's share is padded with the first image


def _evaluate(rank: int, world: int, data: str) -> dict[str, float]:
    from torch.utils.data import DataLoader, default_collate

    from bench.data.nyuv2 import NYUv2
    from bench.engine.evaluation import evaluate

    tasks = get_dataset("nyuv2").build_tasks()
    torch.manual_seed(0)
    model = METHODS.build({"type": "sl", "tasks": tasks, "width": 0.0625})
    dataset = NYUv2(Path(data) / "nyuv2", "val", indices=range(EVAL_IMAGES))
    shard = ({"sampler": ShardSampler(len(dataset), rank, world)} if world > 1
             else {"shuffle": False})
    loader = DataLoader(dataset, batch_size=3, collate_fn=default_collate, **shard)
    return evaluate(model, loader, tasks)


def _eval_worker(rank: int, world: int, init: str, data: str, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        torch.save(_evaluate(rank, world, data), Path(out) / f"eval{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_sharded_evaluation_equals_one_process(tmp_path, monkeypatch):
    """2 gloo processes evaluating their shares of a split (:class:`ShardSampler`) give every
    process the metrics one process computes on the whole split, in the same order."""
    from layouts import write_nyuv2

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "data"
    write_nyuv2(data / "nyuv2", n_train=2, n_val=EVAL_IMAGES, h=64, w=64)
    one = _evaluate(0, 1, str(data))
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_eval_worker, args=(2, init, str(data), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"eval{r}.pt") for r in range(2)]
    assert ranks[0] == ranks[1]
    assert set(ranks[0]) == set(one)
    for key, value in one.items():
        assert ranks[0][key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    assert not (Path.cwd() / ".dist_test").exists()  # mmengine's gathering is not used
    os.environ.pop("MASTER_ADDR", None)
