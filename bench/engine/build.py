"""Builders: dataloaders, method, optimiser wrappers and schedulers from a resolved config."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.device import get_device
from torch.utils.data import DataLoader, Sampler, default_collate

from bench.data.base import DenseDataset
from bench.engine.precision import amp_mode, channels_last, make_optim_wrapper
from bench.errors import BenchError
from bench.labels.regimes import Regime, parse_regime, training_mask
from bench.labels.validation import TrainingSplit, carve_validation
from bench.registry import METHODS, method_class


class EpochSampler(Sampler):
    """Seeded shuffling that yields ``(index, epoch)``: order and augmentation are functions of
    (seed, epoch, index) only, so a resumed run sees exactly the batches it would have seen.

    With ``world`` > 1 processes of ``batch`` images each, process ``rank`` gets the
    ``rank``-th contiguous shard of every full global batch of ``batch × world`` images
    (:mod:`bench.engine.distributed`)."""

    def __init__(self, n: int, seed: int, shuffle: bool = True, *, batch: int = 1,
                 rank: int = 0, world: int = 1) -> None:
        self.n = n
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0
        self.batch, self.rank, self.world = batch, rank, world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        order = (np.random.default_rng([self.seed, self.epoch, 0x5A3]).permutation(self.n)
                 if self.shuffle else np.arange(self.n))
        if self.world > 1:  # this process's shard of every full global batch, in order
            size = self.batch * self.world
            order = np.concatenate([order[k * size + self.rank * self.batch:][:self.batch]
                                    for k in range(self.n // size)] or [order[:0]])
        return iter([(int(i), self.epoch) for i in order])

    def __len__(self) -> int:
        return self.n if self.world == 1 else self.n // (self.batch * self.world) * self.batch


class ShardSampler(Sampler):
    """Process ``rank``'s share of an evaluation split: indices ``rank, rank + world, …`` of
    ``0 … n-1`` padded with its first indices to a multiple of ``world``, so every process
    evaluates as many images; gathering the processes' per-image results in rank order, one
    image at a time, and cutting the padding gives the split in order
    (:func:`bench.engine.evaluation.evaluate`)."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.n, self.rank, self.world = n, rank, world

    def __iter__(self) -> Iterator[int]:
        total = -(-self.n // self.world) * self.world
        padded = (list(range(self.n)) * (total // max(self.n, 1) + 1))[:total]
        return iter(padded[self.rank::self.world])

    def __len__(self) -> int:
        return -(-self.n // self.world)


def global_batch(config: dict[str, Any], train_images: int) -> int:
    """The images of one training step over all processes: ``train.batch_size``, or the
    training split when it is smaller."""
    return min(int(config["train"]["batch_size"]), int(train_images))


def check_shards(config: dict[str, Any], train_images: int, processes: int) -> None:
    """A :class:`BenchError` unless the global batch splits into ``processes`` equal shards."""
    batch = global_batch(config, train_images)
    if processes > 1 and batch % processes:
        raise BenchError(
            f"The global batch of {batch} images does not split into {processes} equal "
            "shards (one per process).",
            f"Use --nproc dividing {batch}, or set train.batch_size to a multiple of "
            f"{processes} (e.g. --set train.batch_size={batch - batch % processes or processes}).")


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed)
    return g


@dataclass
class Loaders:
    """The loaders of one run: training (masked labels, augmentation, optional second view),
    the validation subset carved from the training images (``None`` without one) and the test
    split (the dataset's ``val`` folder)."""

    train: DataLoader
    validation: DataLoader | None
    test: DataLoader


def training_split(config: dict[str, Any]) -> TrainingSplit:
    """The run's training images and validation subset (see :mod:`bench.labels.validation`)."""
    v = config["validation"]
    return carve_validation(int(config["dataset"]["images"]["train"]), float(v["fraction"]),
                            int(v["seed"]))


def run_mask(config: dict[str, Any], ds_cls: type[DenseDataset], split: TrainingSplit,
             seed: int) -> np.ndarray:
    """The label mask ``[len(split.train), K]`` of a run (:func:`bench.labels.regimes.training_mask`);
    a split file that names images (PASCAL-Context's ``.npy``) is read with the dataset's
    training ids (``ImageSets/Context/train.txt``) and task keys."""
    regime = regime_of(config)
    ids = (ds_cls.image_ids(Path(config["execution"]["data_root"]), "train")
           if regime.kind == "file" else None)
    return training_mask(regime, split.train,
                         int(config["dataset"]["fingerprint"]["sizes"]["train"]),
                         list(ds_cls.task_names()), seed, ids=ids,
                         file_keys=ds_cls.split_file_keys)


def regime_of(config: dict[str, Any]) -> Regime:
    """The regime of a resolved config; a split file is read from where it was planned."""
    regime = parse_regime(config["regime"])
    path = config["execution"].get("regime_path")
    return Regime("file", path=Path(path)) if regime.kind == "file" and path else regime


def build_dataloaders(ds_cls: type[DenseDataset], config: dict[str, Any], split: TrainingSplit,
                      mask: np.ndarray, needs_second_view: bool) -> Loaders:
    """The loaders of a run (:class:`Loaders`); ``mask`` covers ``split.train``.

    Each loader has its own torch generator, so building iterators never consumes the global
    RNG (which the methods use) and evaluation does not shift training randomness. In a
    data-parallel run (:mod:`bench.engine.distributed`) each process loads its shard of every
    global batch of ``train.batch_size`` images, and its share of the evaluation splits
    (:class:`ShardSampler`).
    """
    from bench.engine.distributed import rank, world_size

    world, me = world_size(), rank()
    root = Path(config["execution"]["data_root"])
    size = tuple(config["dataset"]["size"])
    seed = config["seed"]
    train_cfg, eval_cfg = config["train"], config["eval"]
    workers = int(config["execution"].get("num_workers", 0))
    train_set = ds_cls(root, "train", indices=split.train, mask=mask,
                       augment=bool(train_cfg.get("augment", True)),
                       two_views=needs_second_view, size=size, seed=seed)
    batch = global_batch(config, len(train_set))
    if batch < 1:
        raise BenchError(f"Training split of '{ds_cls.name}' is empty.")
    check_shards(config, len(train_set), world)
    local = batch // world
    common = {"collate_fn": default_collate, "num_workers": workers,
              "persistent_workers": False, "pin_memory": torch.cuda.is_available()}
    train = DataLoader(train_set, batch_size=local,
                       sampler=EpochSampler(len(train_set), seed, batch=local, rank=me,
                                            world=world),
                       drop_last=True, generator=_generator(seed), **common)

    def evaluation(split_name: str, indices: Any, offset: int) -> DataLoader:
        dataset = ds_cls(root, split_name, indices=indices, size=size, seed=seed)
        shard = ({"sampler": ShardSampler(len(dataset), me, world)} if world > 1
                 else {"shuffle": False})
        return DataLoader(dataset, batch_size=int(eval_cfg["batch_size"]),
                          generator=_generator(seed + offset), **shard, **common)

    validation = evaluation("train", split.validation, 2) if len(split.validation) else None
    test = evaluation("val", range(int(config["dataset"]["images"]["test"])), 1)
    return Loaders(train, validation, test)


def build_method(config: dict[str, Any], tasks: tuple) -> torch.nn.Module:
    """The method of a resolved config: its options, plus what the engine fills in (the
    network's options, the dataset's camera at the run's size; channels-last parameters under
    ``model.channels_last``)."""
    from bench.registry import get_dataset

    m = config["method"]
    data = config["dataset"]
    camera = get_dataset(data["name"]).intrinsics(tuple(data["size"]))
    method = METHODS.build({"type": m["name"], "tasks": tasks, "width": config["model"]["width"],
                            "reduction": config["train"]["loss_reduction"],
                            "weighting": config.get("weighting", "equal"), "camera": camera,
                            **network_options(config["model"]), **m["options"]})
    return method.use_channels_last() if channels_last(config) else method


def network_options(model: dict[str, Any]) -> dict[str, Any]:
    """``arch``, ``pretrained`` and ``stages`` of the config's ``model`` section, where set
    (a 5-stage SegNet without pretrained weights otherwise, so configs without them build
    exactly as before)."""
    return {k: model[k] for k in ("arch", "pretrained", "stages") if model.get(k) is not None}


def build_optimizer(params: list[torch.nn.Parameter], cfg: dict[str, Any]) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimiser of ``cfg`` (``{"type": name, **arguments}``) over ``params``."""
    cfg = dict(cfg)
    name = cfg.pop("type")
    cls = getattr(torch.optim, name, None)
    if cls is None:
        raise BenchError(f"Unknown optimizer '{name}' in the profile.",
                         "Use a class name of torch.optim, e.g. Adam or SGD.")
    return cls(params, **cfg)


def scheduler_configs(cfg: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The param-scheduler config; keys a profile sets to null are left out, so a dataset
    section can switch the scheduler type (PASCAL-Context: PolyLR instead of StepLR)."""
    if not cfg:
        return []
    return [{"by_epoch": True, **{k: v for k, v in cfg.items() if v is not None}}]


def build_optimisation(method: torch.nn.Module, config: dict[str, Any],
                       device: torch.device | str | None = None) -> tuple[Any, Any]:
    """OptimWrapper (or a dict of them, one per group) and matching param-scheduler configs.

    Under ``train.amp`` each group's wrapper autocasts on ``device`` (default: mmengine's
    device), see :mod:`bench.engine.precision`.
    """
    device = device if device is not None else get_device()
    mode = amp_mode(config)
    groups = method.optim_groups()
    optim_cfg = config["optim"]
    missing = set(groups) - set(optim_cfg)
    if missing:
        raise BenchError(f"No optimiser settings for groups {sorted(missing)} of method "
                         f"'{config['method']['name']}'.")
    wrappers = {name: make_optim_wrapper(build_optimizer(params, optim_cfg[name]["optimizer"]), mode,
                                         device)
                for name, params in groups.items()}
    schedulers = {name: scheduler_configs(optim_cfg[name].get("scheduler")) for name in groups}
    if list(wrappers) == ["net"]:
        return wrappers["net"], schedulers["net"] or None
    return wrappers, schedulers


def needs_second_view(method_name: str) -> bool:
    return bool(method_class(method_name).needs_second_view)
