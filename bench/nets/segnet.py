"""Multi-task SegNet of MTAN / MTPSL, with a width multiplier for CPU-sized runs.

Encoder-decoder with max-pooling indices (5 stages, 64-128-256-512-512 filters at width 1), a
shared decoder and one head per task (3×3 conv + 1×1 conv). ``stages`` < 5 keeps the first
stages only (``model.stages``: at a CPU-sized input, 3 stages leave the shared feature and the
mapped maps at 1/8 of the input, as large as the paper's 5 stages leave them at its size). At
``width=1`` and 5 stages the parameter names and shapes equal those of ``SegNet`` in
``model/segnet_mtl.py`` of the official MTPSL code (itself the MTAN SegNet), so their NYUv2
checkpoints load with ``strict=True``: heads are named ``pred_task1 … pred_taskK`` in task order
and ``logsigma`` holds the log-variances used by uncertainty weighting (initialised to -0.5 as
there).

``forward`` returns the task predictions (after each task's activation, e.g. unit-length normals)
and the shared feature :math:`f_\\phi(x)`, the last max-pooled encoder map, which the cross-task
regulariser compares with the mapped outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bench.tasks import Task

BASE_FILTERS = (64, 128, 256, 512, 512)


def segnet_filters(width: float, stages: int = 5) -> list[int]:
    """Filters of the first ``stages`` stages at a width multiplier (at least 4 per stage)."""
    if width <= 0:
        raise ValueError(f"width must be positive, got {width}")
    if not 1 <= stages <= len(BASE_FILTERS):
        raise ValueError(f"stages must be 1 … {len(BASE_FILTERS)}, got {stages}")
    return [max(4, int(round(c * width))) for c in BASE_FILTERS[:stages]]


def conv_bn_relu(cin: int, cout: int, norm: type[nn.Module] = nn.BatchNorm2d) -> nn.Sequential:
    """3×3 convolution, batch norm, ReLU: the SegNet unit."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size=3, padding=1),
        norm(cout),
        nn.ReLU(inplace=True),
    )


def init_weights(module: nn.Module) -> None:
    """Initialisation of the official code: Xavier-normal convs/linears, zero biases, BN (1, 0)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):  # includes PerImageBatchNorm2d
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SegNetEncoder(nn.Module):
    """The SegNet encoder stages (``len(filters)``, five in the paper); returns the pooled maps
    and the pooling indices."""

    def __init__(self, in_channels: int, filters: Sequence[int],
                 norm: type[nn.Module] = nn.BatchNorm2d) -> None:
        super().__init__()
        f = list(filters)

        def unit(cin: int, cout: int) -> nn.Sequential:
            return conv_bn_relu(cin, cout, norm)

        self.encoder_block = nn.ModuleList([unit(in_channels, f[0])])
        self.conv_block_enc = nn.ModuleList([unit(f[0], f[0])])
        for i in range(len(f) - 1):
            self.encoder_block.append(unit(f[i], f[i + 1]))
            if i == 0:
                self.conv_block_enc.append(unit(f[i + 1], f[i + 1]))
            else:
                self.conv_block_enc.append(nn.Sequential(unit(f[i + 1], f[i + 1]),
                                                         unit(f[i + 1], f[i + 1])))
        self.down_sampling = nn.MaxPool2d(kernel_size=2, stride=2, return_indices=True)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        indices = []
        for enc, conv in zip(self.encoder_block, self.conv_block_enc, strict=True):
            x, idx = self.down_sampling(conv(enc(x)))
            indices.append(idx)
        return x, indices


class SegNet(SegNetEncoder):
    """SegNet with one head per task; ``width`` scales every stage's filters.

    ``in_channels`` and ``norm`` let the same network serve as a cross-task mapping (input: a
    task's prediction; per-image normalisation, see :mod:`bench.nets.norm`).
    """

    def __init__(self, tasks: Sequence[Task], width: float = 1.0, in_channels: int = 3,
                 norm: type[nn.Module] = nn.BatchNorm2d, stages: int = 5) -> None:
        filters = segnet_filters(width, stages)
        super().__init__(in_channels, filters, norm)
        f = filters
        self.tasks = list(tasks)
        self.filters = f

        def unit(cin: int, cout: int) -> nn.Sequential:
            return conv_bn_relu(cin, cout, norm)

        self.decoder_block = nn.ModuleList([unit(f[0], f[0])])
        self.conv_block_dec = nn.ModuleList([unit(f[0], f[0])])
        for i in range(len(f) - 1):
            self.decoder_block.append(unit(f[i + 1], f[i]))
            if i == 0:
                self.conv_block_dec.append(unit(f[i], f[i]))
            else:
                self.conv_block_dec.append(nn.Sequential(unit(f[i], f[i]), unit(f[i], f[i])))
        for k, task in enumerate(self.tasks, start=1):
            self.add_module(f"pred_task{k}", nn.Sequential(
                nn.Conv2d(f[0], f[0], kernel_size=3, padding=1),
                nn.Conv2d(f[0], task.channels, kernel_size=1, padding=0)))
        self.up_sampling = nn.MaxUnpool2d(kernel_size=2, stride=2)
        self.logsigma = nn.Parameter(torch.full((len(self.tasks),), -0.5))
        init_weights(self)

    def head(self, k: int) -> nn.Module:
        """Head of the k-th task (0-based)."""
        return getattr(self, f"pred_task{k + 1}")

    def shared_parameters(self) -> list[nn.Parameter]:
        """Encoder and shared decoder: what every task's loss reaches (not the heads, logsigma)."""
        own = {id(p) for k in range(len(self.tasks)) for p in self.head(k).parameters()}
        own.add(id(self.logsigma))
        return [p for p in self.parameters() if id(p) not in own]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        """The last shared layer (the decoder's last convolution): GradNorm's :math:`W`."""
        return [self.conv_block_dec[0][0].weight]

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Predictions ``{task: [B, C_t, H, W]}`` and the shared feature ``[B, C, H/2^S, W/2^S]``
        (``S`` stages: ``H/32`` in the paper)."""
        feature, indices = self.encode(x)
        y = feature
        for i in range(len(indices)):
            y = self.up_sampling(y, indices[-i - 1])
            y = self.conv_block_dec[-i - 1](self.decoder_block[-i - 1](y))
        preds = {t.name: t.activate(self.head(k)(y)) for k, t in enumerate(self.tasks)}
        return preds, feature
