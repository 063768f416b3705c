"""RunSpec → fully resolved run configuration, and its hash.

A :class:`RunSpec` names one run: method × weighting × dataset × regime × seed × profile (+
``--set`` overrides). :func:`resolve` expands it into a plain, JSON-able dict holding every
setting that can change the result: the method and its options, the dataset's identity (tasks,
split sizes, resolution, generator settings for synthetic data; not where it lies on disk), the
regime, the seed and every training hyper-parameter. The SHA-256 of that dict identifies the
run: a changed setting gives a new run in a new folder, never mixed with old records.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import __version__
from bench.config.profiles import (
    check_optim_groups,
    deep_merge,
    find_profile,
    identity_overrides,
    resolve_profile,
)
from bench.config.schema import IDENTITY_NEUTRAL
from bench.config.trackers import parse_trackers
from bench.data.base import DenseDataset, LayoutInfo
from bench.errors import BenchError
from bench.labels.regimes import parse_regime, split_file_identity
from bench.metadata import EQUAL, row_key
from bench.records.store import record_dir
from bench.registry import (
    get_dataset,
    method_class,
    method_defaults,
    method_info,
    method_options,
    weighting_defaults,
    weighting_fixed_options,
)

#: version of the resolved config's layout (hashed with it; bump when the layout changes)
#: 2: the task weighting is its own section (``weighting``), no longer a method option
CONFIG_SCHEMA = 2


@dataclass(frozen=True)
class RunSpec:
    """One run of the grid."""

    method: str
    dataset: str
    regime: str
    seed: int
    profile: str  # the profile's id (a shipped name, or "<file stem>-<content hash>")
    overrides: tuple[tuple[str, Any], ...] = field(default_factory=tuple)
    profile_source: str = ""  # where it is read from (shipped name or file path); not hashed
    weighting: str = EQUAL  # the task weighting (bench.weightings)

    @property
    def row(self) -> str:
        """The table row of the run: ``sl``, or ``sl+dwa`` with another weighting."""
        return row_key(self.method, self.weighting)

    def label(self) -> str:
        return f"{self.row} · {self.regime} · seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overrides"] = [list(o) for o in self.overrides]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        """The spec of :meth:`to_dict`'s output (e.g. sent to the processes of a run)."""
        return cls(**{**d, "seed": int(d["seed"]),
                      "overrides": tuple(tuple(o) for o in d.get("overrides") or ())})


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def config_hash(config: dict[str, Any]) -> str:
    """SHA-256 of the config without its ``execution`` section (paths, worker counts)."""
    hashed = {k: v for k, v in config.items() if k != "execution"}
    return hashlib.sha256(canonical_json(hashed).encode()).hexdigest()


def group_hash(config: dict[str, Any]) -> str:
    """Hash of the config without the seed: runs that differ only by seed share it."""
    hashed = {k: v for k, v in config.items() if k not in ("execution", "seed")}
    return hashlib.sha256(canonical_json(hashed).encode()).hexdigest()


def profile_of(spec: RunSpec, ds: type[DenseDataset]) -> dict[str, Any]:
    """The profile of ``spec`` for its dataset, overrides applied and validated."""
    return resolve_profile(find_profile(spec.profile_source or spec.profile),
                           list(ds.profile_sections()), spec.overrides)


def tuning_of(spec: RunSpec) -> dict[str, Any] | None:
    """The tuning budget behind ``spec``'s method when its profile was written by ``bench tune``
    and tuned that method (``None`` otherwise)."""
    tuning = find_profile(spec.profile_source or spec.profile).data.get("tuning")
    if not tuning or spec.method not in (tuning.get("methods") or {}):
        return None
    keys = ("dataset", "regime", "seed", "trials", "epochs", "objective", "sampler", "pruner")
    return {k: tuning.get(k) for k in keys}


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples as lists), so the config equals its stored form."""
    return json.loads(json.dumps(value))


def resolve(spec: RunSpec, layout: LayoutInfo) -> dict[str, Any]:
    """The full configuration of ``spec`` on a dataset whose layout was checked as ``layout``.

    Every constructor option of the method is resolved, with its default where the profile
    sets none, so a changed default gives a new hash.
    """
    cls = method_class(spec.method)
    family = method_info(spec.method).family
    ds: type[DenseDataset] = get_dataset(spec.dataset)
    regime = parse_regime(spec.regime)
    profile = profile_of(spec, ds)

    methods_cfg = profile.get("methods", {})
    options = deep_merge(methods_cfg.get(family, {}), methods_cfg.get(spec.method, {}))
    optim_over = options.pop("optim", {})
    options = _plain({**method_defaults(spec.method), **options, **method_options(spec.method)})
    train = profile["train"]
    optim = {"net": deep_merge({"optimizer": train["optimizer"], "scheduler": train["scheduler"]},
                               optim_over.get("net", {}))}
    for group, defaults in cls.optim_group_defaults(options).items():
        optim[group] = deep_merge(defaults, optim_over.get(group, {}))
    check_optim_groups(optim, spec.method)
    weighting = resolve_weighting(spec, profile)

    size = tuple(profile.get("data", {}).get("size") or (layout.height, layout.width))
    check_network_size(size, profile)
    fingerprint: dict[str, Any] = {"sizes": layout.sizes, "stored_size": [layout.height,
                                                                           layout.width]}
    data = profile["data"]
    limits = data.get("limit") or {}
    used = {split: min(n, int(limits[split])) if limits.get(split) else n
            for split, n in layout.sizes.items()}
    manifest = ds.manifest_expected((layout.height, layout.width))
    if manifest is not None:
        fingerprint["synthetic"] = manifest
    config = {
        "schema": CONFIG_SCHEMA,
        "harness_version": __version__,
        "method": {"name": spec.method, "family": family, "options": options},
        "weighting": weighting,
        "dataset": {"name": ds.name, "tasks": list(ds.task_names()), "size": list(size),
                    "images": {"train": used["train"], "test": used["val"]},
                    "fingerprint": fingerprint},
        "validation": {"fraction": float(data["val_fraction"]), "seed": int(data["val_seed"])},
        "regime": regime.name,
        "seed": int(spec.seed),
        "profile": spec.profile,
        "overrides": [list(o) for o in identity_overrides(spec.overrides)],
        "model": _without_neutral(profile["model"], "model"),
        "train": _without_neutral({k: v for k, v in train.items()
                                   if k not in ("optimizer", "scheduler", "num_workers")},
                                  "train"),
        "eval": profile["eval"],
        "optim": optim,
        # how and where it runs, not what it computes: excluded from the hashes
        "execution": {"data_root": str(layout.root), "num_workers": train.get("num_workers", 0),
                      "track": list(parse_trackers(profile["log"]["track"]))},
    }
    if regime.kind == "file":  # the split file's content names the runs; its path runs them
        config["regime_file"] = split_file_identity(regime)
        config["execution"]["regime_path"] = str(regime.path.resolve())
    tuning = tuning_of(spec)
    if tuning is not None:
        config["tuning"] = tuning
    return config


def check_network_size(size: tuple[int, int] | list[int], profile: dict[str, Any]) -> None:
    """The input size divides by ``2**model.stages`` (every SegNet stage halves it)."""
    stages = int(profile["model"].get("stages", 5))
    if size[0] % 2 ** stages or size[1] % 2 ** stages:
        raise BenchError(f"Input size {size[0]}×{size[1]} is not divisible by {2 ** stages}, "
                         f"which the network needs ({stages} 2× poolings, model.stages).",
                         "Set data.size in the profile (e.g. --set data.size=[64,96]), or "
                         "model.stages.")


def resolve_weighting(spec: RunSpec, profile: dict[str, Any]) -> dict[str, Any]:
    """The run's weighting section: its name and every option (defaults, the profile's
    ``weightings.<name>`` section, the options the registered name pins)."""
    if spec.weighting != EQUAL and not method_info(spec.method).weighted:
        raise BenchError(f"{spec.method} takes no task weighting; '{spec.row}' is not a run.",
                         f"Run {spec.method} with the equal weighting.")
    given = profile.get("weightings", {}).get(spec.weighting, {})
    options = {**weighting_defaults(spec.weighting), **given,
               **weighting_fixed_options(spec.weighting)}
    return {"name": spec.weighting, "options": _plain(options)}


def _without_neutral(section: dict[str, Any], name: str) -> dict[str, Any]:
    """``section`` without the keys that hold their identity-neutral value
    (:data:`~bench.config.schema.IDENTITY_NEUTRAL`), so older runs keep their identity."""
    neutral = IDENTITY_NEUTRAL.get(name, {})
    return {k: v for k, v in section.items() if not (k in neutral and v == neutral[k])}


def run_dir(results_root: Path, spec: RunSpec, chash: str) -> Path:
    """The folder of ``spec``'s record (see :mod:`bench.records.store`); its method folder is the row."""
    return record_dir(results_root, spec.dataset, parse_regime(spec.regime).slug, spec.row,
                      spec.profile, spec.seed, chash)
