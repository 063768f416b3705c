"""MTAN: the SegNet with task-specific soft attention (Liu, Johns, Davison, CVPR 2019).

A shared SegNet (:class:`~bench.nets.segnet.SegNet`'s encoder and decoder) and, per task, a chain of
attention modules that select features from every shared stage:

* encoder stage :math:`j`: :math:`a_j = \\mathrm{pool}\\big(c_j\\big(g_j(u_j) \\odot e^{(2)}_j\\big)\\big)`
  with :math:`u_0 = e^{(1)}_0`, :math:`u_j = [e^{(1)}_j, a_{j-1}]`, :math:`e^{(1)}_j, e^{(2)}_j`
  the outputs of the stage's first and last shared convolution, :math:`g_j` the task's attention
  (1×1 conv, BN, ReLU, 1×1 conv, BN, sigmoid) and :math:`c_j` a shared 3×3 conv block;
* decoder stage :math:`j`: :math:`b = c'_j(\\mathrm{up}_2(a))`,
  :math:`a = h_j([\\bar u_j, b]) \\odot d_j` with :math:`\\bar u_j` the shared unpooled map,
  :math:`d_j` the shared decoder stage output and :math:`h_j` the task's attention;
* the task's head reads the last decoder attention output.

At ``width=1`` with the three NYUv2 tasks the parameter names and shapes equal those of ``SegNet``
in ``im2im_pred/model_segnet_mtan.py`` of github.com/lorenmt/mtan (``encoder_att`` /
``decoder_att``: one list of five attention modules per task; ``encoder_block_att`` /
``decoder_block_att``: the shared conv blocks; heads ``pred_task1…K``; ``logsigma``), so its
checkpoints load with ``strict=True``. ``forward`` returns the predictions (after each task's
activation) and the shared feature (the last pooled encoder map), like :class:`SegNet`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from bench.nets.segnet import SegNet, conv_bn_relu, init_weights
from bench.tasks import Task


def attention(cin: int, mid: int, out: int) -> nn.Sequential:
    """Task attention: 1×1 conv, BN, ReLU, 1×1 conv, BN, sigmoid (a mask in [0, 1])."""
    return nn.Sequential(
        nn.Conv2d(cin, mid, kernel_size=1, padding=0), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
        nn.Conv2d(mid, out, kernel_size=1, padding=0), nn.BatchNorm2d(out), nn.Sigmoid())


class MTANSegNet(SegNet):
    """SegNet + one attention network per task (module docstring); ``width`` scales the filters."""

    def __init__(self, tasks: Sequence[Task], width: float = 1.0) -> None:
        super().__init__(tasks, width=width)
        f = self.filters
        k = len(self.tasks)
        self.encoder_att = nn.ModuleList([
            nn.ModuleList([attention(f[0], f[0], f[0])]
                          + [attention(2 * f[i + 1], f[i + 1], f[i + 1]) for i in range(4)])
            for _ in range(k)])
        self.decoder_att = nn.ModuleList([
            nn.ModuleList([attention(2 * f[0], f[0], f[0])]
                          + [attention(f[i + 1] + f[i], f[i], f[i]) for i in range(4)])
            for _ in range(k)])
        # shared convolutions of the attention path: encoder stage j maps f[j] → f[j+1] (the
        # last keeps f[4]); decoder stage j maps back f[j] → f[j-1] (the first keeps f[0])
        self.encoder_block_att = nn.ModuleList(
            [conv_bn_relu(f[i], f[min(i + 1, 4)]) for i in range(5)])
        self.decoder_block_att = nn.ModuleList(
            [conv_bn_relu(f[0], f[0])] + [conv_bn_relu(f[i + 1], f[i if i < 3 else 4])
                                          for i in range(4)])
        init_weights(self)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The shared SegNet and the shared attention-path convolutions (not the per-task
        attention modules, heads or logsigma)."""
        own = {id(p) for m in (self.encoder_att, self.decoder_att) for p in m.parameters()}
        return [p for p in super().shared_parameters() if id(p) not in own]

    def forward(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        first, last, indices = [], [], []
        y = x
        for enc, conv in zip(self.encoder_block, self.conv_block_enc, strict=True):
            first.append(enc(y))
            last.append(conv(first[-1]))
            y, idx = self.down_sampling(last[-1])
            indices.append(idx)
        feature = y
        unpooled, decoded = [], []
        for j in range(5):
            unpooled.append(self.up_sampling(y, indices[-j - 1]))
            y = self.conv_block_dec[-j - 1](self.decoder_block[-j - 1](unpooled[-1]))
            decoded.append(y)
        preds = {}
        for k, task in enumerate(self.tasks):
            a = first[0]
            for j in range(5):
                gate = self.encoder_att[k][j](a if j == 0 else torch.cat([first[j], a], dim=1))
                a = F.max_pool2d(self.encoder_block_att[j](gate * last[j]), kernel_size=2,
                                 stride=2)
            for j in range(5):
                a = F.interpolate(a, scale_factor=2, mode="bilinear", align_corners=True)
                a = self.decoder_block_att[-j - 1](a)
                a = self.decoder_att[k][-j - 1](torch.cat([unpooled[j], a], dim=1)) * decoded[j]
            preds[task.name] = task.activate(self.head(k)(a))
        return preds, feature
