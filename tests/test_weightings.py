"""Task weightings on toy problems with known answers, partial labels, state, composition."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.registry import weighting_names
from bench.weightings import TaskLosses, build_weighting
from bench.weightings.dwa import dwa_weights
from bench.weightings.gradnorm import gradnorm_gradient


class TwoTaskLinear(nn.Module):
    """Shared linear layer W (2→2, no bias) and one linear head per task on z = W x."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(2, 2, bias=False)
        self.heads = nn.ModuleList([nn.Linear(2, 1, bias=False) for _ in range(2)])
        with torch.no_grad():
            self.shared.weight.copy_(torch.tensor([[1.0, 0.5], [-0.5, 1.0]]))
            self.heads[0].weight.copy_(torch.tensor([[1.0, 2.0]]))
            self.heads[1].weight.copy_(torch.tensor([[0.5, -1.0]]))
        self.logsigma = nn.Parameter(torch.zeros(2))

    def shared_parameters(self) -> list[nn.Parameter]:
        return [self.shared.weight]

    def last_shared_parameters(self) -> list[nn.Parameter]:
        return [self.shared.weight]

    def losses(self, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> TaskLosses:
        """Per-image squared errors ``[B, 2]`` of targets ``y``, built as ``loss_matrix`` builds
        them: a task with no label in the batch is a constant 0 column (no graph)."""
        z = x @ self.shared.weight.T
        columns = []
        for k, head in enumerate(self.heads):
            if mask[:, k].any():
                columns.append((head(z)[:, 0] - y[:, k]) ** 2 * mask[:, k])
            else:
                columns.append(torch.zeros(x.shape[0]))
        return TaskLosses(torch.stack(columns, dim=1), mask, "official")


X = torch.tensor([[1.0, 2.0]])
Y = torch.tensor([[0.0, 0.0]])
FULL = torch.ones(1, 2, dtype=torch.bool)


# -- MGDA ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("g1,g2,alpha", [
    ((1.0, 0.0), (0.0, 2.0), 0.8),   # interior: α* = (g2 − g1)·g2 / ‖g1 − g2‖²
    ((1.0, 0.0), (3.0, 1.0), 1.0),   # g1 is itself the min-norm point of the segment
    ((2.0, 2.0), (0.5, -0.1), 0.0),  # g2 is
])
def test_mgda_returns_the_min_norm_point_of_two_gradients(g1, g2, alpha):
    mgda = build_weighting("mgda", 2)
    a, b = torch.tensor(g1), torch.tensor(g2)
    closed = ((b - a) @ b / (a - b).pow(2).sum()).clamp(0, 1)
    assert float(closed) == pytest.approx(alpha)
    out = mgda.aggregate(torch.stack([a, b]), (0, 1))
    torch.testing.assert_close(out, alpha * a + (1 - alpha) * b, atol=1e-4, rtol=1e-4)
    # the min-norm point d of the hull satisfies d·g ≥ ‖d‖² for both gradients
    assert float(out @ a) >= float(out @ out) - 1e-4 and float(out @ b) >= float(out @ out) - 1e-4


def test_aggregator_update_goes_to_shared_parameters_and_heads_get_their_own_gradient():
    net = TwoTaskLinear()
    losses = net.losses(X, Y, FULL)
    weighting = build_weighting("mgda", 2)
    params = list(net.parameters())
    rows = losses.per_task()
    jac = torch.stack([torch.autograd.grad(rows[k], net.shared.weight, retain_graph=True)[0]
                       .flatten() for k in range(2)])
    heads = [torch.autograd.grad(rows[k], net.heads[k].weight, retain_graph=True)[0]
             for k in range(2)]
    weighting.backward(losses, weighting.loss(losses, net), None, net, params)
    expected = weighting.aggregate(jac, (0, 1))
    torch.testing.assert_close(net.shared.weight.grad.flatten(), expected)
    for k in range(2):
        torch.testing.assert_close(net.heads[k].weight.grad, heads[k])
    assert net.logsigma.grad is None


def test_method_terms_are_added_unaggregated():
    """The method's extra term (XTC's consistency, say) keeps its gradient: A(J) + ∇extra."""
    net = TwoTaskLinear()
    losses = net.losses(X, Y, FULL)
    extra = 3.0 * net.shared.weight.pow(2).sum() + net.heads[0].weight.sum()
    weighting = build_weighting("upgrad", 2)
    rows = losses.per_task()
    jac = torch.stack([torch.autograd.grad(rows[k], net.shared.weight, retain_graph=True)[0]
                       .flatten() for k in range(2)])
    weighting.backward(losses, weighting.loss(losses, net) + extra, extra, net,
                       list(net.parameters()))
    expected = weighting.aggregate(jac, (0, 1)) + 6.0 * net.shared.weight.detach().flatten()
    torch.testing.assert_close(net.shared.weight.grad.flatten(), expected)
    z = X @ net.shared.weight.detach().T
    head0 = 2 * (z @ net.heads[0].weight.detach().T - Y[:, :1]) * z + 1.0
    torch.testing.assert_close(net.heads[0].weight.grad, head0)


# -- DWA ----------------------------------------------------------------------------------------
def test_dwa_weights_from_given_loss_ratios():
    before = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    previous = torch.tensor([0.5, 2.0, 8.0], dtype=torch.float64)  # ratios 0.5, 1, 2
    w = dwa_weights(previous, before, torch.ones(3, dtype=torch.bool), 2.0)
    e = [math.exp(r / 2) for r in (0.5, 1.0, 2.0)]
    assert w.tolist() == pytest.approx([3 * x / sum(e) for x in e])
    assert float(w.sum()) == pytest.approx(3.0)


def _epoch(dwa, epoch, levels, mask=None):
    """One step of ``epoch`` whose per-task losses are ``levels`` (one image per task row)."""
    dwa.begin_step(epoch)
    mask = torch.ones(1, len(levels), dtype=torch.bool) if mask is None else mask
    matrix = torch.tensor([levels]) * mask
    dwa.loss(TaskLosses(matrix, mask, "official"), nn.Module())
    return dwa.log_values()


def test_dwa_is_equal_for_two_epochs_then_follows_the_loss_ratios():
    dwa = build_weighting("dwa", 3)
    assert [float(v) for v in _epoch(dwa, 0, [1.0, 2.0, 4.0]).values()] == [1.0, 1.0, 1.0]
    assert [float(v) for v in _epoch(dwa, 1, [0.5, 2.0, 8.0]).values()] == [1.0, 1.0, 1.0]
    got = [float(v) for v in _epoch(dwa, 2, [1.0, 1.0, 1.0]).values()]
    e = [math.exp(r / 2) for r in (0.5, 1.0, 2.0)]
    assert got == pytest.approx([3 * x / sum(e) for x in e], rel=1e-6)


def test_dwa_epoch_mean_is_over_labelled_images_and_absent_tasks_get_no_weight():
    dwa = build_weighting("dwa", 3)
    one = torch.tensor([[1, 0, 1], [1, 1, 1]], dtype=torch.bool)
    for epoch, scale in ((0, 1.0), (1, 2.0)):
        dwa.begin_step(epoch)
        matrix = torch.tensor([[1.0, 5.0, 3.0], [3.0, 1.0, 3.0]]) * scale * one
        dwa.loss(TaskLosses(matrix, one, "official"), nn.Module())
    # epoch means over labelled images: task 1 = 1·scale (its one label), others 2·, 3·scale
    torch.testing.assert_close(dwa.history, torch.tensor([[0.0] * 3, [2.0, 1.0, 3.0]],
                                                         dtype=torch.float64))
    dwa.begin_step(2)  # closes epoch 1: every ratio is 2
    absent = torch.tensor([[1, 0, 1]], dtype=torch.bool)
    dwa.loss(TaskLosses(torch.tensor([[1.0, 0.0, 1.0]]), absent, "official"), nn.Module())
    w = [float(v) for v in dwa.log_values().values()]
    assert w == pytest.approx([1.0, 0.0, 1.0])  # equal ratios, mass over the 2 present tasks


def test_dwa_state_is_in_the_state_dict_and_resumes_exactly():
    a = build_weighting("dwa", 3)
    _epoch(a, 0, [1.0, 2.0, 4.0])
    _epoch(a, 1, [0.5, 2.0, 8.0])
    b = build_weighting("dwa", 3)
    b.load_state_dict(a.state_dict())
    assert _epoch(a, 2, [1.0, 1.0, 1.0]) == _epoch(b, 2, [1.0, 1.0, 1.0])


# -- uncertainty --------------------------------------------------------------------------------
def test_uncertainty_loss_gradient():
    """∂/∂s_t = ½ρ(1 − e^{−s_t} L_t)/B·(#labelled), ∂/∂L_t = ½e^{−s_t}ρ/B per labelled image."""
    net = TwoTaskLinear()
    with torch.no_grad():
        net.logsigma.copy_(torch.tensor([0.3, -0.7]))
    matrix = torch.tensor([[2.0, 0.5], [1.0, 4.0]], requires_grad=True)
    mask = torch.tensor([[1, 1], [1, 0]], dtype=torch.bool)
    loss = build_weighting("uncertainty", 2).loss(TaskLosses(matrix, mask, "official"), net)
    loss.backward()
    s = net.logsigma.detach()
    b = 2
    expected_s = torch.stack([
        0.5 * (1 - torch.exp(-s[0]) * 2.0) + 0.5 * (1 - torch.exp(-s[0]) * 1.0),
        0.5 * (1 - torch.exp(-s[1]) * 0.5)]) / b
    torch.testing.assert_close(net.logsigma.grad, expected_s)
    expected_l = 0.5 * torch.exp(-s)[None] * mask / b
    torch.testing.assert_close(matrix.grad, expected_l)


# -- GradNorm -----------------------------------------------------------------------------------
def test_gradnorm_gradient_of_weights():
    # G = w·‖∇W ℓ‖ = (2, 1), Ḡ = 1.5, r = (1, .5)/.75, target = Ḡ r^1.5 = (2.309, 0.816)
    grad = gradnorm_gradient(torch.ones(2), torch.tensor([2.0, 1.0]), torch.tensor([1.0, 0.5]),
                             1.5)
    assert grad.tolist() == [-2.0, 1.0]


def test_gradnorm_weight_update_on_a_two_task_linear_model():
    net = TwoTaskLinear()
    gradnorm = build_weighting("gradnorm", 2)
    losses = net.losses(X, Y, FULL)
    z = (X @ net.shared.weight.T).detach()
    errors = [float(h(z).detach()) for h in net.heads]
    # ∇_W ℓ_t = 2 e_t a_t xᵀ, so ‖∇_W ℓ_t‖ = 2 |e_t| ‖a_t‖ ‖x‖
    norms = [2 * abs(e) * float(h.weight.detach().norm()) * float(X.norm())
             for e, h in zip(errors, net.heads, strict=True)]
    assert norms[0] > norms[1]
    rows = losses.per_task()
    shared = [torch.autograd.grad(rows[k], net.shared.weight, retain_graph=True)[0]
              for k in range(2)]
    gradnorm.backward(losses, gradnorm.loss(losses, net), None, net, list(net.parameters()))
    # the network's update used the weights before the step (1, 1)
    torch.testing.assert_close(net.shared.weight.grad, shared[0] + shared[1])
    # first step: ratios 1, targets Ḡ; G_1 > Ḡ > G_2, so ∂L/∂w = (+n_1, −n_2); Adam's first step
    # moves each weight by lr against the sign; the sum stays 2
    lr = gradnorm.lr
    torch.testing.assert_close(gradnorm.weights, torch.tensor([1 - lr, 1 + lr]))
    # a second step uses the loss ratios to the first step's losses
    assert gradnorm.initial.tolist() == pytest.approx([e ** 2 for e in errors])


def test_gradnorm_leaves_a_task_without_labels_alone():
    net = TwoTaskLinear()
    gradnorm = build_weighting("gradnorm", 2)
    for mask in (FULL, torch.tensor([[1, 0]], dtype=torch.bool)):
        before = gradnorm.weights.clone()
        losses = net.losses(X, Y, mask)
        net.zero_grad()
        gradnorm.backward(losses, gradnorm.loss(losses, net), None, net, list(net.parameters()))
    assert net.heads[1].weight.grad is None
    w = gradnorm.log_values()
    assert float(w["w_task1"]) == 0.0
    # only task 0 was present: its weight moved alone, then both were renormalised to sum 2
    assert float(gradnorm.weights.sum()) == pytest.approx(2.0)
    assert gradnorm.steps.tolist() == [2.0, 1.0]
    assert not torch.equal(before, gradnorm.weights)


# -- partial labels for every weighting ---------------------------------------------------------
@pytest.mark.parametrize("name", weighting_names())
def test_a_task_without_labels_in_the_batch_gets_no_weight(name):
    torch.manual_seed(0)
    net = TwoTaskLinear()
    weighting = build_weighting(name, 2)
    mask = torch.tensor([[1, 0], [1, 0]], dtype=torch.bool)
    losses = net.losses(torch.randn(2, 2), torch.randn(2, 2), mask)
    loss = weighting.loss(losses, net)
    weighting.backward(losses, loss, None, net, list(net.parameters()))
    assert float(weighting.log_values()["w_task1"]) == 0.0
    assert net.heads[1].weight.grad is None  # its head gets no gradient
    if net.logsigma.grad is not None:  # uncertainty: only the present task's s_t moves
        assert float(net.logsigma.grad[1]) == 0.0
    assert net.shared.weight.grad is not None


def test_nash_mtl_warm_start_is_saved_and_resumes_exactly():
    g = torch.Generator().manual_seed(0)
    jacobians = [torch.randn(3, 6, generator=g) for _ in range(4)]
    a = build_weighting("nash-mtl", 3)
    for j in jacobians[:3]:
        a.aggregate(j, (0, 1, 2))
    b = build_weighting("nash-mtl", 3)
    b.load_state_dict(a.state_dict())
    torch.testing.assert_close(a.aggregate(jacobians[3], (0, 1, 2)),
                               b.aggregate(jacobians[3], (0, 1, 2)))
    fresh = build_weighting("nash-mtl", 3)
    assert bool(a.nash_seen[0b111]) and not bool(fresh.nash_seen[0b111])
