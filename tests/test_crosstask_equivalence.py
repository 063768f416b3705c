"""Each batched cross-task loss equals a plain per-image, per-pair reference loop.

Rows and losses are checked on random predictions, labels and masks (one-label and random-label)
for 2, 3 and 5 tasks. The Gumbel sample of semantic predictions is made deterministic (hard
argmax) so both sides see the same inputs; everything else is the methods' own code.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from views import views

from bench.labels.regimes import parse_regime
from bench.method.crosstask import mean_cosine_distance
from bench.nets.mapping import pair_index
from bench.tasks.depth import DepthTask
from bench.tasks.normal import NormalTask
from bench.tasks.semantic import SemanticTask
from methods.contrastive import ContrastiveLoss
from methods.direct_map import DirectMap
from methods.discriminator import DiscriminatorLoss, pair_bce
from methods.perceptual_map import PerceptualMap
from methods.ssl import SemiSupervised
from methods.xtc import CrossTaskConsistency, xtc_loss_per_row_loop

H, W, B = 32, 32, 4


def make_tasks(k: int):
    pool = [SemanticTask(5), DepthTask(), NormalTask(), SemanticTask(3, name="parts"),
            DepthTask(name="saliency")]
    return pool[:k]


def random_batch(tasks, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    preds, labels = {}, {}
    for t in tasks:
        if isinstance(t, SemanticTask):
            preds[t.name] = torch.randn(B, t.num_classes, H, W, generator=g)
            labels[t.name] = torch.randint(-1, t.num_classes, (B, H, W), generator=g)
        elif isinstance(t, DepthTask):
            preds[t.name] = torch.rand(B, 1, H, W, generator=g) + 0.1
            labels[t.name] = torch.rand(B, 1, H, W, generator=g)
        else:
            preds[t.name] = F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
            labels[t.name] = F.normalize(torch.randn(B, 3, H, W, generator=g), dim=1)
    return preds, labels


@pytest.fixture(autouse=True)
def deterministic_gumbel(monkeypatch):
    def hard_argmax(self, pred):
        soft = F.softmax(pred, dim=1)
        hard = F.one_hot(soft.argmax(1), pred.shape[1]).permute(0, 3, 1, 2).to(soft.dtype)
        return hard - soft.detach() + soft

    monkeypatch.setattr(SemanticTask, "encode_prediction", hard_argmax)


def masks(k: int):
    names = [f"t{i}" for i in range(k)]
    out = [("onelabel", torch.from_numpy(parse_regime("onelabel").mask(B, names, 1)))]
    if k > 2:
        out.append(("randomlabels", torch.from_numpy(parse_regime("randomlabels").mask(B, names, 2))))
    full = torch.ones(B, k, dtype=torch.bool)
    return out + [("full", full)]


# five tasks with every label (20 pairs per image) are the slowest references: slow runs only
CASES = [pytest.param(k, name, m, marks=[pytest.mark.slow] if k == 5 and name == "full" else [])
         for k in (2, 3, 5) for name, m in masks(k)]


def rows_of(mask: torch.Tensor):
    """Reference rows: s unlabelled (every task if none is), t labelled, s != t."""
    out = []
    k = mask.shape[1]
    for n in range(mask.shape[0]):
        unl = [s for s in range(k) if not mask[n, s]] or list(range(k))
        for s in unl:
            for t in range(k):
                if mask[n, t] and s != t:
                    out.append((n, s, t))
    return out


def map_one(model, tasks, task: int, pair: int, x: torch.Tensor) -> torch.Tensor:
    inputs = [x if i == task else None for i in range(len(tasks))]
    return model.mapping(inputs, torch.tensor([task]), torch.tensor([pair]))


def per_image_weights(mask: torch.Tensor, reduction: str) -> dict[int, float]:
    """Reference of the loss reduction: 1 (official) or 1 / #distinct sources of the image."""
    if reduction == "official":
        return {n: 1.0 for n in range(mask.shape[0])}
    out = {}
    for n in range(mask.shape[0]):
        sources = {s for m, s, _ in rows_of(mask) if m == n}
        out[n] = 1.0 / len(sources) if sources else 0.0
    return out


@pytest.mark.parametrize("reduction", ["official", "paper"])
@pytest.mark.parametrize("k,regime,mask", CASES)
@pytest.mark.parametrize("reg", [0.5, 0.0])
def test_xtc_equals_per_row_reference(k, regime, mask, reg, reduction):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = CrossTaskConsistency(tasks, width=0.0625, reg_weight=reg, con_weight=2.0,
                                 reduction=reduction)
    preds, labels = random_batch(tasks)
    feature = torch.randn(B, model.net.filters[-1], 1, 1)
    batched = model.extra_losses(views(mask, preds, labels, feature))["loss_xtc"]
    weight = per_image_weights(mask, reduction)
    ref = 0.0
    for n, s, t in rows_of(mask):
        p = pair_index(torch.tensor(s), torch.tensor(t), k)
        ms = map_one(model, tasks, s, p, tasks[s].encode_prediction(preds[tasks[s].name][n:n + 1]))
        mt = map_one(model, tasks, t, p, tasks[t].encode_label(labels[tasks[t].name][n:n + 1]))
        f = feature[n:n + 1]
        ref = ref + weight[n] * (mean_cosine_distance(ms, mt) + reg * (
            mean_cosine_distance(ms, f) + mean_cosine_distance(mt, f)))
    torch.testing.assert_close(batched, (2.0 * ref / B).squeeze(), rtol=1e-5, atol=1e-5)
    if reduction == "official":
        # the official-style loop kept in the library (`xtc-loop`, timed by `bench perf`)
        loop = xtc_loss_per_row_loop(model, mask, preds, labels, feature)
        torch.testing.assert_close(loop, batched, rtol=1e-5, atol=1e-5)


def _mapped_sources(model, tasks, preds, s, p):
    return torch.cat([map_one(model, tasks, s, p, tasks[s].encode_prediction(
        preds[tasks[s].name][j:j + 1])) for j in range(B)])


@pytest.mark.parametrize("k,regime,mask", CASES)
def test_contrastive_equals_per_row_reference(k, regime, mask):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = ContrastiveLoss(tasks, width=0.0625, margin=0.5, con_weight=2.0)
    preds, labels = random_batch(tasks, seed=1)
    batched = model.extra_losses(views(mask, preds, labels, None))
    ref = 0.0
    for n, s, t in rows_of(mask):
        p = pair_index(torch.tensor(s), torch.tensor(t), k)
        anchor = map_one(model, tasks, t, p, tasks[t].encode_label(labels[tasks[t].name][n:n + 1]))
        sources = _mapped_sources(model, tasks, preds, s, p)
        d = mean_cosine_distance(anchor.expand_as(sources), sources)
        hinge = [(0.5 + d[n] - d[j]).clamp_min(0) for j in range(B) if j != n]
        ref = ref + sum(hinge) / (B - 1)
    torch.testing.assert_close(batched["loss_contrastive"], torch.as_tensor(2.0 * ref / B),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,regime,mask", CASES)
def test_discriminator_generator_loss_equals_per_row_reference(k, regime, mask):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = DiscriminatorLoss(tasks, width=0.0625, con_weight=2.0)
    preds, labels = random_batch(tasks, seed=2)
    batched = model.extra_losses(views(mask, preds, labels, None))
    ref = 0.0
    for n, s, t in rows_of(mask):
        p = pair_index(torch.tensor(s), torch.tensor(t), k)
        anchor = map_one(model, tasks, t, p, tasks[t].encode_label(labels[tasks[t].name][n:n + 1]))
        sources = _mapped_sources(model, tasks, preds, s, p)
        logits = model.discriminator(sources, anchor.expand_as(sources))
        ref = ref + pair_bce(logits[None], torch.tensor([n]))[0]
    torch.testing.assert_close(batched["loss_disc_gen"], torch.as_tensor(2.0 * ref / B),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,regime,mask", CASES)
def test_direct_map_equals_per_image_reference(k, regime, mask):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = DirectMap(tasks, width=0.0625, con_weight=2.0)
    preds, labels = random_batch(tasks, seed=3)
    out = model.extra_losses(views(mask, preds, labels, None))
    ref = 0.0
    for n in range(B):
        for i, s in enumerate(tasks):
            for j, t in enumerate(tasks):
                if i != j and not mask[n, i] and mask[n, j]:
                    x = s.encode_prediction(preds[s.name][n:n + 1])
                    ref = ref + t.per_image_loss(model.maps.forward_pair(s, t, x),
                                                 labels[t.name][n:n + 1]).sum()
    if regime == "full":
        assert out == {}
    else:
        torch.testing.assert_close(out["loss_direct"], torch.as_tensor(2.0 * ref / B),
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k,regime,mask", CASES)
def test_perceptual_map_equals_per_image_reference(k, regime, mask):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = PerceptualMap(tasks, width=0.0625, con_weight=2.0)
    preds, labels = random_batch(tasks, seed=4)
    out = model.extra_losses(views(mask, preds, labels, None))
    fit, perc = 0.0, 0.0
    for n in range(B):
        for i, s in enumerate(tasks):
            for j, t in enumerate(tasks):
                if i == j:
                    continue
                if mask[n, j]:
                    x = s.encode_prediction(preds[s.name][n:n + 1])
                    fit = fit + t.per_image_loss(model.maps.forward_pair(s, t, x),
                                                 labels[t.name][n:n + 1]).sum()
                if mask[n, i]:
                    a = model.maps.forward_pair(s, t, s.encode_prediction(preds[s.name][n:n + 1]))
                    b = model.maps.forward_pair(s, t, s.encode_label(labels[s.name][n:n + 1]))
                    perc = perc + t.prediction_distance(a, b).mean()
    torch.testing.assert_close(out["loss_map_fit"], torch.as_tensor(fit / B), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out["loss_perceptual"], torch.as_tensor(2.0 * perc / B),
                               rtol=1e-5, atol=1e-5)


def view(t, pred):
    """Reference of what SSL compares: class probabilities for segmentation, else the value."""
    return F.softmax(pred, dim=1) if isinstance(t, SemanticTask) else pred


@pytest.mark.parametrize("reduction", ["official", "paper"])
@pytest.mark.parametrize("k,regime,mask", CASES)
def test_ssl_equals_per_image_reference(k, regime, mask, reduction, monkeypatch):
    torch.manual_seed(0)
    tasks = make_tasks(k)
    model = SemiSupervised(tasks, width=0.0625, reduction=reduction).eval()  # BN: running stats
    image = torch.rand(B, 3, 64, 64)
    preds = model.net(image)[0]
    boxes = torch.tensor([[8.0, 0.0, 61.0, 42.0], [0.0, 10.0, 42.0, 63.0], [5.0, 5.0, 58.0, 58.0],
                          [20.0, 21.0, 62.0, 63.0]])
    scales = torch.tensor([1.2, 1.5, 1.2, 1.5])
    rows = (~mask).any(1).nonzero().squeeze(1)
    monkeypatch.setattr("methods.ssl.random_boxes",
                        lambda n, h, w, sc, dev: (boxes[rows], scales[rows]))
    out = model.extra_losses(views(mask, preds, image=image))
    if regime == "full":
        assert out == {}
        return
    ref = 0.0
    for n in range(B):
        unl = [i for i in range(k) if not mask[n, i]]
        if not unl:
            continue
        x1, y1, x2, y2 = (int(v) for v in boxes[n])

        def crop(z, x1=x1, y1=y1, x2=x2, y2=y2):
            return F.interpolate(z[..., y1:y2, x1:x2], size=(64, 64), mode="bilinear",
                                 align_corners=False)

        crop_pred = model.net(crop(image[n:n + 1]))[0]
        s = 0.0
        for i in unl:
            t = tasks[i]
            full = crop(view(t, preds[t.name][n:n + 1]))
            if isinstance(t, DepthTask):
                full = full / scales[n]
            s = s + (full - view(t, crop_pred[t.name])).pow(2).mean()
        ref = ref + (s / len(unl) if reduction == "paper" else s)
    torch.testing.assert_close(out["loss_ssl"], torch.as_tensor(ref / B), rtol=1e-4, atol=1e-5)
