"""Profiles: the protocol's hyper-parameters as data (JSON files in ``bench/config/shipped``).

A profile holds defaults (``model``, ``data``, ``train``, ``eval``), per-method settings under
``methods`` (keyed by method family, e.g. ``xtc`` applies to ``xtc``, ``xtc-nocond``, …, or by
exact method name), options of the task weightings under ``weightings`` (``weightings.dwa.
temperature``; the weighting itself is the run's ``--weighting`` axis) and per-dataset overrides
under ``datasets`` (deep-merged over the defaults; a synthetic set also takes the overrides of
the real set it imitates). ``"extends": NAME`` starts from another profile (a shipped name, or a
path relative to the file). Every key is checked against :mod:`bench.config.schema` before any
run starts.

``--profile`` takes a shipped name or a path to a JSON file. A file is identified by its name
and the hash of its content (:attr:`Profile.id`, e.g. ``tuned-3fa2b1c0``), never by how its
path was written: the same file gives the same runs wherever it lies.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config.schema import (
    DEFAULTS,
    NOT_IDENTITY,
    OPTIM_GROUP,
    SCHEMA,
    TOP_LEVEL_METADATA,
    TOP_LEVEL_TEXT,
    Field,
    check_section,
    leaf_keys,
    method_option_types,
    unknown_key,
)
from bench.errors import BenchError, unknown_name

PROFILE_DIR = Path(__file__).parent / "shipped"


@dataclass(frozen=True)
class Profile:
    """A loaded profile: its identity, where it came from, its content (``extends`` resolved)."""

    id: str
    source: str
    data: dict[str, Any]

    @property
    def description(self) -> str:
        return str(self.data.get("description", ""))


def profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.json"))


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise BenchError(f"Cannot read profile {path}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise BenchError(f"Profile {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BenchError(f"Profile {path} must hold a JSON object, not {type(data).__name__}.")
    return data


def _with_parent(data: dict[str, Any], path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    parent = data.get("extends")
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise BenchError(f"Profile {path}: 'extends' must name a profile.")
    candidate = (path.parent / parent) if parent.endswith(".json") else PROFILE_DIR / f"{parent}.json"
    if not candidate.is_file():
        raise BenchError(f"Profile {path} extends '{parent}', which is not a profile.",
                         f"Shipped profiles: {', '.join(profile_names())}.")
    if candidate.resolve() in seen:
        raise BenchError(f"Profile {path}: 'extends' forms a cycle.")
    base = _with_parent(_read(candidate), candidate, (*seen, candidate.resolve()))
    child = {k: v for k, v in data.items() if k != "extends"}
    merged = deep_merge({k: v for k, v in base.items() if k != "description"}, child)
    return merged


def find_profile(name: str) -> Profile:
    """The shipped profile ``name``, or the JSON file at path ``name``."""
    path = Path(name).expanduser()
    shipped = PROFILE_DIR / f"{name}.json"
    if name in profile_names():
        path, pid = shipped, name
    elif name.endswith(".json"):
        if path.is_dir():
            raise BenchError(f"Profile {path} is a folder, not a profile file.",
                             f"Give a path to a JSON profile or a shipped name: "
                             f"{', '.join(profile_names())}.")
        if not path.is_file():
            raise BenchError(f"Profile file {path} does not exist.",
                             f"Give a path to a JSON profile or a shipped name: "
                             f"{', '.join(profile_names())}.")
        pid = None
    else:
        raise unknown_name("profile", name, profile_names())
    data = _with_parent(_read(path), path, (path.resolve(),))
    for key in ("model", "train", "eval"):
        if key not in data:
            raise BenchError(f"Profile {path} has no '{key}' section.",
                             f"See {PROFILE_DIR / 'paper.json'} for the expected shape.")
    if pid is None:  # how the runs are watched (``log``) does not name them
        named = {k: v for k, v in data.items() if k not in NOT_IDENTITY}
        digest = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:8]
        pid = f"{path.stem}-{digest}"
    return Profile(pid, str(path.resolve()), data)


def load_profile(name: str) -> dict[str, Any]:
    """The content of profile ``name`` (``extends`` resolved)."""
    return find_profile(name).data


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated recursively with ``over`` (new dict; inputs untouched)."""
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def parse_overrides(items: Sequence[str]) -> list[tuple[str, Any]]:
    """``['train.epochs=3', 'methods.xtc.con_weight=1']`` → ``[('train.epochs', 3), …]``."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"Bad --set '{item}'.", "Write --set section.key=value, "
                             "e.g. --set train.epochs=3.")
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        out.append((key.strip(), parsed))
    return out


def identity_overrides(overrides: Sequence[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """``overrides`` without those of the sections that name no run (``log.*``,
    :data:`~bench.config.schema.NOT_IDENTITY`): the ones a run's spec and config keep."""
    return tuple((k, v) for k, v in overrides if k.split(".")[0] not in NOT_IDENTITY)


def apply_overrides(config: Mapping[str, Any], overrides: Sequence[tuple[str, Any]]
                    ) -> dict[str, Any]:
    out = copy.deepcopy(dict(config))
    for key, value in overrides:
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise BenchError(f"--set {key}: '{part}' is not a section.")
        node[parts[-1]] = value
    return out


def resolve_profile(profile: Profile, dataset_keys: Sequence[str],
                    overrides: Sequence[tuple[str, Any]] = ()) -> dict[str, Any]:
    """Profile defaults merged with the ``datasets`` overrides of each key in ``dataset_keys``,
    then the ``--set`` overrides (which win over both); the whole profile is validated first."""
    raw = apply_overrides(profile.data, overrides)
    validate(raw)
    merged = deep_merge(DEFAULTS, {k: v for k, v in raw.items()
                                   if k not in ("datasets", *TOP_LEVEL_TEXT,
                                                *TOP_LEVEL_METADATA)})
    for key in dataset_keys:
        merged = deep_merge(merged, raw.get("datasets", {}).get(key, {}))
    # a --set outside ``datasets`` is the user's last word: it also wins over the profile's
    # section for this dataset (e.g. --set train.epochs=3 on a set whose section sets epochs)
    merged = apply_overrides(merged, [(k, v) for k, v in overrides
                                      if k.split(".")[0] not in ("datasets", *TOP_LEVEL_TEXT,
                                                                 *TOP_LEVEL_METADATA)])
    _check_body(merged, "", _valid_keys())
    if merged["eval"]["average_last"] > 1 and merged["train"]["selection"] != "last":
        raise BenchError("eval.average_last > 1 averages the last evaluations; it selects no "
                         f"epoch, so it needs train.selection=last, not "
                         f"{merged['train']['selection']}.")
    if merged["train"]["selection"] == "best-val" and not merged["data"]["val_fraction"]:
        raise BenchError("train.selection=best-val needs a validation split, but "
                         "data.val_fraction is 0.",
                         "Set data.val_fraction (e.g. 0.1), or select the last epoch.")
    return merged


# -- validation ---------------------------------------------------------------------------------
def validate(data: Mapping[str, Any]) -> None:
    """Check a whole profile (:class:`BenchError` naming the first bad key or value)."""
    from bench.registry import dataset_names

    valid = _valid_keys()
    for key, value in data.items():
        if key in TOP_LEVEL_TEXT:
            if not isinstance(value, str):
                raise BenchError(f"Profile key '{key}' must be a string.")
        elif key in TOP_LEVEL_METADATA:
            if not isinstance(value, Mapping):
                raise BenchError(f"Profile key '{key}' must be an object.")
        elif key == "methods":
            _check_methods(value, "methods.")
        elif key == "weightings":
            _check_weightings(value, "weightings.")
        elif key == "datasets":
            if not isinstance(value, Mapping):
                raise BenchError("Profile section 'datasets' must be an object.")
            for name, section in value.items():
                if name not in dataset_names():
                    raise unknown_name("dataset (profile section datasets.*)", name,
                                       dataset_names())
                _check_body(section, f"datasets.{name}.", valid, partial=True)
        else:
            _check_body({key: value}, "", valid, partial=True)


def _check_body(data: Mapping[str, Any], prefix: str, valid: list[str],
                partial: bool = False) -> None:
    if not isinstance(data, Mapping):
        raise BenchError(f"Profile section '{prefix.rstrip('.')}' must be an object.")
    rest = {k: v for k, v in data.items() if k not in ("methods", "weightings")}
    check_section(rest, SCHEMA, prefix, [prefix + k for k in valid], partial)
    if "methods" in data:
        # always merged over other settings later (families, the main optimiser): partial
        _check_methods(data["methods"], prefix + "methods.")
    if "weightings" in data:
        # merged over the weighting's defaults when a run resolves it: partial
        _check_weightings(data["weightings"], prefix + "weightings.")


def _valid_keys() -> list[str]:
    return leaf_keys()


def check_optim_groups(optim: Mapping[str, Any], method: str) -> None:
    """Check a method's resolved optimiser groups (each a complete optimiser and scheduler)."""
    for group, settings in optim.items():
        for part in ("optimizer", "scheduler"):
            OPTIM_GROUP[part].check(f"methods.{method}.optim.{group}.{part}", settings.get(part))


def _check_methods(section: Any, prefix: str, partial: bool = True) -> None:
    from bench.registry import method_defaults, method_info, method_names, optim_group_names

    if not isinstance(section, Mapping):
        raise BenchError(f"Profile section '{prefix.rstrip('.')}' must be an object.")
    names = method_names()
    families: dict[str, list[str]] = {}
    for n in names:
        families.setdefault(method_info(n).family, []).append(n)
    for key, options in section.items():
        members = families.get(key) or ([key] if key in names else None)
        if members is None:
            raise unknown_name(f"method or method family (profile section {prefix}*)", key,
                               sorted({*names, *families}))
        defaults: dict[str, Any] = {}
        groups: set[str] = set()
        for m in members:
            defaults.update(method_defaults(m))
            groups |= optim_group_names(m)
        if isinstance(options, Mapping) and "weighting" in options:
            raise BenchError(f"Profile key '{prefix}{key}.weighting': the task weighting is no "
                             "longer a method option.",
                             "It is the run's own axis: bench run --weighting NAME[,NAME…] "
                             "(options under weightings.<name>.*).")
        fields: dict[str, Any] = dict(method_option_types(defaults))
        fields["optim"] = {g: OPTIM_GROUP for g in sorted(groups)}
        valid = [f"{prefix}{key}.{k}" for k in leaf_keys(fields)]
        check_section(options, fields, f"{prefix}{key}.", valid, partial)


def _check_weightings(section: Any, prefix: str, partial: bool = True) -> None:
    """``weightings.<name>.<option>``: a registered weighting and options of its constructor."""
    from bench.registry import weighting_defaults, weighting_fixed_options, weighting_names

    if not isinstance(section, Mapping):
        raise BenchError(f"Profile section '{prefix.rstrip('.')}' must be an object.")
    for name, options in section.items():
        if name not in weighting_names():
            err = unknown_name("weighting", name, weighting_names())
            raise BenchError(f"Profile section '{prefix}{name}': {err.message}", err.hint)
        free = {k: v for k, v in weighting_defaults(name).items()
                if k not in weighting_fixed_options(name)}
        fields = dict(method_option_types(free))
        valid = [f"{prefix}{name}.{k}" for k in leaf_keys(fields)]
        check_section(options, fields, f"{prefix}{name}.", valid, partial)


def check_override_keys(overrides: Sequence[tuple[str, Any]]) -> None:
    """Reject ``--set`` keys that name nothing a profile can hold, naming the closest one."""
    from bench.registry import dataset_names

    for key, _ in overrides:
        parts = key.split(".")
        if parts[0] == "datasets":
            if len(parts) < 3 or parts[1] not in dataset_names():
                raise unknown_key(key, [f"datasets.{d}.…" for d in dataset_names()])
            parts = parts[2:]
        if parts[0] in ("methods", "weightings"):
            continue  # checked with the constructor when the profile is resolved
        node: Any = SCHEMA
        for i, part in enumerate(parts):
            if isinstance(node, Field):
                break  # an argument of an optimiser / scheduler: checked with its class
            if not isinstance(node, Mapping) or part not in node:
                raise unknown_key(key, leaf_keys())
            node = node[part]
            if i == len(parts) - 1 and isinstance(node, Mapping):
                raise BenchError(f"--set {key}: '{key}' is a section, not a value.",
                                 f"Set one of its keys, e.g. "
                                 f"{key}.{next(iter(node))}=….")
