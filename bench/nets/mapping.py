"""The task-agnostic, task-pair-conditioned joint mapping network of the paper (Sec. 3.2).

:class:`CrossTaskMapping` is the SegNet encoder (five stages) preceded by one input layer per task
(3×3 conv, BN, ReLU; task ``k``'s prediction or label has its own channel count). Each encoder
convolution is followed by batch norm and a FiLM transform conditioned on the task pair::

    h ← γ(A) ⊙ h + β(A),   γ(A) = Γ a,  β(A) = Β a

with ``a`` the flattened off-diagonal entries of the K×K pair matrix A (``A[s, t] = 1``), i.e.
γ and β are linear in A without bias, ``Γ, Β ∈ R^{C×K(K−1)}`` per layer (official code: ``gamma``
initialised to ones, ``beta`` to zeros). With ``cond=False`` there is no FiLM: one mapping serves
every pair (Table 6, "w/o cond").

Unlike the official code, which calls the network once per (image, pair) and input, :meth:`forward`
maps all rows of a batch in one pass: every row carries its input task and its pair index; rows are
grouped by input task for the input layers (a loop over the K tasks), then the shared encoder runs
once with per-row FiLM vectors. Batch norm uses per-row statistics
(:class:`~bench.nets.norm.PerImageBatchNorm2d`), which is what one-image calls compute, so the
batched result equals the per-row loop. Parameter names follow the official ``Mapfns``
(``mapfns.pred_encoder_source``, ``mapfns.encoder_block.*.{conv,bn,gamma,beta}``, …).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.nets.norm import PerImageBatchNorm2d, one_statistics_update
from bench.nets.segnet import init_weights, segnet_filters

#: rows the shared encoder maps at a time on the CPU: every row is mapped independently of the
#: others (per-row batch norm, per-row FiLM), and a convolution's cost per row grows with the
#: rows of one call once its activations outgrow the caches (fwd+bwd of a 64→64 3×3 conv at
#: 64×96 per row: ~55 ms at 4–8 rows, ~75 ms at 32 on the 2-core machine), so large row sets
#: are mapped in chunks. On a GPU all rows go in one call.
CPU_ROW_CHUNK = 8


def num_pairs(k: int) -> int:
    return k * (k - 1)


def pair_index(source: torch.Tensor, target: torch.Tensor, k: int) -> torch.Tensor:
    """Index of ordered pair (s, t), s ≠ t, in the row-major off-diagonal flattening of A."""
    return source * (k - 1) + target - (target > source).long()


class FiLMConv(nn.Module):
    """3×3 conv → per-row BN → FiLM(γ(A), β(A)) → ReLU (official ``conv_task``)."""

    def __init__(self, cin: int, cout: int, pairs: int, cond: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1)
        self.bn = PerImageBatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.cond = cond
        if cond:
            self.gamma = nn.Parameter(torch.ones(cout, pairs))
            self.beta = nn.Parameter(torch.zeros(cout, pairs))

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        x = self.bn(self.conv(x))
        if self.cond:
            if a is None:
                raise ValueError("a conditional FiLM layer needs the task-pair vectors")
            gamma = (a @ self.gamma.t())[:, :, None, None]
            beta = (a @ self.beta.t())[:, :, None, None]
            x = x * gamma + beta
        return self.relu(x)


class _Stage(nn.Module):
    """Two FiLM convs in sequence (stages 3–5 of the SegNet encoder)."""

    def __init__(self, c: int, pairs: int, cond: bool) -> None:
        super().__init__()
        self.add_module("0", FiLMConv(c, c, pairs, cond))
        self.add_module("1", FiLMConv(c, c, pairs, cond))

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        return self[1](self[0](x, a), a)

    def __getitem__(self, i: int) -> FiLMConv:
        return getattr(self, str(i))


class MappingEncoder(nn.Module):
    """Task input layers + FiLM-conditioned SegNet encoder (official ``SegNet_enc``)."""

    def __init__(self, input_channels: Sequence[int], width: float, cond: bool,
                 stages: int = 5) -> None:
        super().__init__()
        f = segnet_filters(width, stages)
        self.filters = f
        self.out_channels = f[-1]
        self.k = len(input_channels)
        pairs = num_pairs(self.k)
        self.pred_encoder_source = nn.ModuleList([
            nn.Sequential(nn.Conv2d(c, f[0], kernel_size=3, padding=1), PerImageBatchNorm2d(f[0]),
                          nn.ReLU(inplace=True)) for c in input_channels])
        self.encoder_block = nn.ModuleList([FiLMConv(f[0], f[0], pairs, cond)])
        self.conv_block_enc = nn.ModuleList([FiLMConv(f[0], f[0], pairs, cond)])
        for i in range(len(f) - 1):
            self.encoder_block.append(FiLMConv(f[i], f[i + 1], pairs, cond))
            self.conv_block_enc.append(FiLMConv(f[i + 1], f[i + 1], pairs, cond) if i == 0
                                       else _Stage(f[i + 1], pairs, cond))
        self.down_sampling = nn.MaxPool2d(kernel_size=2, stride=2)

    def stages(self) -> list[nn.Module]:
        """The modules whose outputs :meth:`CrossTaskMapping.stage_outputs` returns."""
        return list(self.conv_block_enc)

    def forward(self, x: torch.Tensor, a: torch.Tensor | None) -> torch.Tensor:
        for enc, conv in zip(self.encoder_block, self.conv_block_enc, strict=True):
            x = self.down_sampling(conv(enc(x, a), a))
        return x


class CrossTaskMapping(nn.Module):
    """Maps (input task, task pair, dense input) rows to the joint pairwise space, batched.

    ``encoder`` replaces the SegNet mapping encoder by another backbone's (same interface:
    ``pred_encoder_source`` input layers per task, ``forward(x, a)``, ``stages()``,
    ``out_channels``; e.g. :class:`~bench.nets.resnet_mapping.ResNetMappingEncoder`).
    """

    def __init__(self, input_channels: Sequence[int], width: float = 1.0, cond: bool = True,
                 encoder: nn.Module | None = None, stages: int = 5) -> None:
        super().__init__()
        self.k = len(input_channels)
        self.cond = cond
        self.mapfns = encoder if encoder is not None else MappingEncoder(input_channels, width,
                                                                         cond, stages)
        self.out_channels = int(self.mapfns.out_channels)
        init_weights(self)
        if cond:  # FiLM starts as the identity (γ = 1, β = 0), as in the official code
            for name, p in self.named_parameters():
                if name.endswith(".gamma"):
                    nn.init.ones_(p)
                elif name.endswith(".beta"):
                    nn.init.zeros_(p)

    def film_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if n.endswith((".gamma", ".beta"))]

    def other_parameters(self) -> list[nn.Parameter]:
        return [p for n, p in self.named_parameters() if not n.endswith((".gamma", ".beta"))]

    def forward(self, inputs: Sequence[torch.Tensor], input_task: torch.Tensor,
                pair: torch.Tensor) -> torch.Tensor:
        """Map rows to the joint space.

        ``inputs[k]`` holds the rows whose input task is ``k`` (``[R_k, C_k, H, W]``, in the
        order the rows of task ``k`` appear in ``input_task``); ``input_task`` and ``pair`` are
        ``[R]`` (pair index of :func:`pair_index`). Returns ``[R, C, H/32, W/32]`` in row order.
        """
        r = input_task.numel()
        # the rows are mapped grouped by input task (the order of ``inputs``), each row
        # independently of the others, and put back in row order at the end, where the output
        # is 32× smaller: scattering the full-resolution first layer into row order instead
        # costs a copy of all its rows' gradients (100 MB for 64 rows at 64×96, full width)
        order = _grouped_order(input_task)
        parts = []
        for k in range(self.k):
            if not bool((input_task == k).any()):
                continue
            layer = self.mapfns.pred_encoder_source[k]
            # encoded labels are float32; a float64 mapping (the equality tests) takes them in
            # its own precision (a no-op in float32 and under autocast, whose weights are float32)
            parts.append(layer(inputs[k].to(next(layer.parameters()).dtype)))
        if not parts:
            raise ValueError("no rows to map: every input task has zero rows")
        first = torch.cat(parts) if len(parts) > 1 else parts[0]
        a = None
        if self.cond:
            a = torch.zeros(r, num_pairs(self.k), device=first.device, dtype=first.dtype)
            a[torch.arange(r, device=first.device), pair[order]] = 1.0
        chunk = CPU_ROW_CHUNK if first.device.type == "cpu" else r
        if r <= chunk:
            grouped = self.mapfns(first, a)
        else:
            # split, not slices: the backward of one slice allocates a zero gradient of all
            # rows, the backward of a split concatenates the chunks' gradients once
            conds = a.split(chunk) if a is not None else [None] * -(-r // chunk)
            with one_statistics_update(self.mapfns):
                grouped = torch.cat([self.mapfns(x, c) for x, c in
                                     zip(first.split(chunk), conds, strict=True)])
        return grouped[torch.argsort(order)]

    @torch.no_grad()
    def stage_outputs(self, inputs: Sequence[torch.Tensor | None], input_task: torch.Tensor,
                      pair: torch.Tensor) -> list[torch.Tensor]:
        """Output of every encoder stage (before its pooling) for the given rows (figures)."""
        captured: list[torch.Tensor] = []
        hooks = [block.register_forward_hook(lambda _m, _i, out: captured.append(out.detach()))
                 for block in self.mapfns.stages()]
        try:
            self(inputs, input_task, pair)
        finally:
            for h in hooks:
                h.remove()
        if len(captured) != len(hooks):
            raise ValueError(f"stage outputs are for at most {CPU_ROW_CHUNK} rows at a time on "
                             f"the CPU, not {input_task.numel()}")
        back = torch.argsort(_grouped_order(input_task))  # into row order
        return [out[back] for out in captured]


def _grouped_order(input_task: torch.Tensor) -> torch.Tensor:
    """The rows grouped by input task, in row order within a task (the order in which
    :meth:`CrossTaskMapping.forward` maps them)."""
    return torch.sort(input_task, stable=True).indices
