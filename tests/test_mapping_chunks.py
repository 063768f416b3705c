"""The joint mapping maps large row sets in chunks on the CPU: the same outputs, gradients and
running statistics as one call over every row (:data:`bench.nets.mapping.CPU_ROW_CHUNK`)."""

from __future__ import annotations

import torch

from bench.nets import mapping as mapping_mod
from bench.nets.mapping import CrossTaskMapping, pair_index
from bench.nets.norm import PerImageBatchNorm2d


def _run(chunk: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    net = CrossTaskMapping([13, 1, 3], width=0.125).double().train()  # exact sums
    g = torch.Generator().manual_seed(1)
    task = torch.tensor([0, 1, 2, 0, 2, 1, 0, 0, 1, 2, 2, 1, 0, 1, 2, 0, 0, 2, 1, 1, 0])
    other = (task + 1 + torch.randint(0, 2, task.shape, generator=g)) % 3
    inputs = [torch.randn(int((task == k).sum()), c, 32, 32, generator=g, dtype=torch.float64)
              for k, c in enumerate((13, 1, 3))]
    old = mapping_mod.CPU_ROW_CHUNK
    mapping_mod.CPU_ROW_CHUNK = chunk
    try:
        out = net(inputs, task, pair_index(task, other, 3))
    finally:
        mapping_mod.CPU_ROW_CHUNK = old
    (out.square().sum() + out.sum()).backward()
    grads = {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}
    return out.detach(), grads, {n: b.clone() for n, b in net.named_buffers()}


def test_chunked_rows_equal_one_call():
    whole, grads, buffers = _run(10_000)
    for chunk in (8, 5):
        out, g, b = _run(chunk)
        torch.testing.assert_close(out, whole, rtol=1e-10, atol=1e-12)
        assert g.keys() == grads.keys()
        for name in grads:
            torch.testing.assert_close(g[name], grads[name], rtol=1e-9, atol=1e-10)
        for name in buffers:  # running statistics updated once, with every row's statistics
            torch.testing.assert_close(b[name], buffers[name], rtol=1e-10, atol=1e-12)
    assert any(int(v) == 1 for k, v in buffers.items() if k.endswith("num_batches_tracked"))


def test_running_statistics_move_from_their_initial_values():
    _, _, buffers = _run(8)
    norm = PerImageBatchNorm2d(1)
    assert not torch.equal(buffers["mapfns.encoder_block.1.bn.running_mean"],
                           norm.running_mean.expand_as(
                               buffers["mapfns.encoder_block.1.bn.running_mean"]))
