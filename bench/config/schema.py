"""What a profile may contain: every key, its type and range, checked before any run starts.

A profile (and every ``--set KEY=VALUE``) is validated against :data:`SCHEMA`: an unknown key
names the closest valid one (``train.epoch`` → ``train.epochs``), a value of the wrong type or
range says what was expected. Optimisers are checked against the signature of their
``torch.optim`` class, schedulers against the mmengine parameter scheduler the engine builds
(``mmengine.optim.scheduler``: ``StepLR``, ``PolyLR``, …; an argument set to null is left out, so
a dataset section can switch the type, e.g. PASCAL-Context's PolyLR over the base StepLR);
method options against the constructor of the registered method (:func:`method_option_types`).
Validation raises :class:`~bench.errors.BenchError` (exit 2).
"""

from __future__ import annotations

import difflib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import mmengine.optim.scheduler as mm_schedulers
import torch

from bench.config.trackers import check_track_value
from bench.errors import BenchError

Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Field:
    """A leaf of the schema: a check of its value and a phrase saying what is expected.

    ``partial`` checks a value that is only a part, deep-merged over another one (an override
    section such as ``datasets.cityscapes.train.optimizer: {"lr": 1e-5}``); by default the same.
    """

    check: Check
    expected: str
    partial: Check | None = None


def _fail(key: str, value: Any, expected: str) -> None:
    raise BenchError(f"Profile value {key}={value!r} is not valid: expected {expected}.",
                     f"Fix the profile or the --set {key}=… option.")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def integer(minimum: int | None = None, nullable: bool = False) -> Field:
    expected = "an integer" + (f" ≥ {minimum}" if minimum is not None else "") + (
        " or null" if nullable else "")

    def check(key: str, v: Any) -> None:
        if v is None and nullable:
            return
        if not _is_int(v) or (minimum is not None and v < minimum):
            _fail(key, v, expected)

    return Field(check, expected)


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Field:
    parts = []
    if low is not None:
        parts.append(f"{'>' if open_low else '≥'} {low:g}")
    if high is not None:
        parts.append(f"{'<' if open_high else '≤'} {high:g}")
    expected = "a finite number" + (f" {' and '.join(parts)}" if parts else "")

    def check(key: str, v: Any) -> None:
        if not _is_number(v):
            _fail(key, v, expected)
        x = float(v)
        if low is not None and (x <= low if open_low else x < low):
            _fail(key, v, expected)
        if high is not None and (x >= high if open_high else x > high):
            _fail(key, v, expected)

    return Field(check, expected)


def boolean() -> Field:
    def check(key: str, v: Any) -> None:
        if not isinstance(v, bool):
            _fail(key, v, "true or false")

    return Field(check, "true or false")


def choice(*options: str) -> Field:
    expected = "one of " + ", ".join(options)

    def check(key: str, v: Any) -> None:
        if v not in options:
            close = difflib.get_close_matches(str(v), options, n=1, cutoff=0.5)
            _fail(key, v, expected + (f" (did you mean '{close[0]}'?)" if close else ""))

    return Field(check, expected)


def text(nullable: bool = False) -> Field:
    expected = "a string" + (" or null" if nullable else "")

    def check(key: str, v: Any) -> None:
        if not (isinstance(v, str) or (nullable and v is None)):
            _fail(key, v, expected)

    return Field(check, expected)


def architecture() -> Field:
    """``model.arch``: a registered backbone (:data:`bench.registry.ARCHITECTURES`), or null
    (SegNet)."""
    from bench.registry import architecture_names

    names = tuple(architecture_names())
    field_ = choice(*names)

    def check(key: str, v: Any) -> None:
        if v is not None:
            field_.check(key, v)

    return Field(check, field_.expected + " or null")


def image_size() -> Field:
    expected = ("[H, W], two positive integers divisible by 2**model.stages (32 for SegNet's "
                "five 2× poolings), or null")

    def check(key: str, v: Any) -> None:
        if v is None:
            return
        if (not isinstance(v, list) or len(v) != 2 or not all(_is_int(x) and x > 0 for x in v)
                or v[0] % 2 or v[1] % 2):
            _fail(key, v, expected)

    return Field(check, expected)


def torch_class(module: Any, what: str, nullable: bool) -> Field:
    """``{"type": ClassName, **kwargs}`` of a class of ``module`` whose signature takes kwargs."""
    expected = (f"an object {{\"type\": <a {what} of {module.__name__}>, …its arguments}}"
                + (" or null" if nullable else ""))

    def check_partial(key: str, v: Any) -> None:
        if isinstance(v, dict) and "type" not in v:
            for arg, value in v.items():
                if value is not None and not (_is_number(value)
                                              or isinstance(value, (bool, str, list))):
                    _fail(f"{key}.{arg}", value, "a number, string, boolean or list")
            return
        check(key, v)

    def check(key: str, v: Any) -> None:
        if v is None and nullable:
            return
        if not isinstance(v, dict) or not isinstance(v.get("type"), str):
            _fail(key, v, expected)
        cls = getattr(module, v["type"], None)
        if not inspect.isclass(cls):
            names = [n for n, c in vars(module).items() if inspect.isclass(c) and n[0].isupper()]
            close = difflib.get_close_matches(v["type"], names, n=1, cutoff=0.5)
            raise BenchError(f"Profile value {key}.type={v['type']!r}: no {what} of that name "
                             f"in {module.__name__}.",
                             (f"Did you mean '{close[0]}'? " if close else "")
                             + f"Use a class name of {module.__name__}.")
        params = _init_parameters(cls)
        hidden = ("params", "optimizer", "self", "param_name")
        for arg, value in v.items():
            if arg == "type" or value is None:  # null: left out of the built object
                continue
            if arg not in params or arg in hidden:
                valid = [p for p in params if p not in hidden]
                close = difflib.get_close_matches(arg, valid, n=1, cutoff=0.5)
                raise BenchError(f"Unknown argument {key}.{arg} of {v['type']}.",
                                 (f"Did you mean '{key}.{close[0]}'? " if close else "")
                                 + f"{v['type']} takes: {', '.join(valid)}.")
            default = params[arg].default
            if _is_number(default) and not isinstance(default, bool) and not _is_number(value):
                _fail(f"{key}.{arg}", value, "a number")

    return Field(check, expected, check_partial)


def _init_parameters(cls: type) -> Mapping[str, inspect.Parameter]:
    """The named constructor parameters of ``cls``: its signature's, or, behind a wrapper that
    takes only ``*args, **kwargs`` (mmengine's schedulers), those of the first ``__init__`` up
    its MRO that names its parameters."""
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    for owner in (cls, *(c.__init__ for c in cls.__mro__ if "__init__" in vars(c))):
        try:
            params = inspect.signature(owner).parameters
        except (TypeError, ValueError):
            continue
        if any(p.kind not in variadic and p.name not in ("self", "optimizer")
               for p in params.values()):
            return params
    return {}


#: every key a profile section may hold (a nested dict of :class:`Field` s)
SCHEMA: dict[str, Any] = {
    "model": {"width": number(0, open_low=True), "arch": architecture(),
              "pretrained": text(nullable=True), "channels_last": boolean(),
              "stages": integer(1)},
    "data": {
        "size": image_size(),
        "limit": {"train": integer(1, nullable=True), "val": integer(1, nullable=True)},
        "val_fraction": number(0, 1, open_high=True),
        "val_seed": integer(0),
    },
    "train": {
        "epochs": integer(1),
        "batch_size": integer(1),
        "val_interval": integer(1),
        "checkpoint_interval": integer(1),
        "augment": boolean(),
        "num_workers": integer(0),
        "optimizer": torch_class(torch.optim, "optimizer", nullable=False),
        "scheduler": torch_class(mm_schedulers, "scheduler", nullable=True),
        "loss_reduction": choice("official", "paper"),
        "selection": choice("last", "best-val", "best-test"),
        "diverge_above": number(0, open_low=True),
        "amp": choice("off", "bf16", "fp16"),
        "collapse_check": boolean(),
    },
    "eval": {"batch_size": integer(1), "average_last": integer(1)},
    # where the run is watched, not what it computes: never in a run's identity
    "log": {"track": Field(check_track_value, "a list of tracker names")},
}
#: default of ``train.diverge_above``: a training loss of larger magnitude ends the run as
#: ``diverged`` (like a non-finite one); far above any loss of a healthy run
DIVERGE_ABOVE = 1e6
#: values of keys a profile may leave out
DEFAULTS: dict[str, Any] = {
    "model": {"channels_last": False, "stages": 5},
    "data": {"val_fraction": 0.1, "val_seed": 0},
    "train": {"val_interval": 1, "checkpoint_interval": 1, "augment": True, "num_workers": 0,
              "loss_reduction": "official", "selection": "last", "scheduler": None,
              "diverge_above": DIVERGE_ABOVE, "amp": "off", "collapse_check": True},
    "eval": {"average_last": 1},
    "log": {"track": []},
}
#: keys left out of a run's config (and so of its identity) while they hold these values: they
#: were added after records existed, and at these values the runs compute what they computed
#: before (``model.channels_last``, ``train.amp``: the memory layout and autocast precision;
#: ``model.stages``: the paper's five-stage SegNet; ``train.collapse_check``: a cross-task run
#: whose collapse probe stays within noise is recorded as ``collapsed``,
#: :mod:`bench.records.collapse`)
IDENTITY_NEUTRAL: dict[str, dict[str, Any]] = {"model": {"channels_last": False, "stages": 5},
                                              "train": {"amp": "off", "collapse_check": True}}
#: profile sections that say how a run is watched, not what it computes: left out of the config's
#: hashed sections, of a profile file's id and of the overrides a run is named by
#: (:mod:`bench.config.trackers`)
NOT_IDENTITY = ("log",)
OPTIM_GROUP = {"optimizer": SCHEMA["train"]["optimizer"], "scheduler": SCHEMA["train"]["scheduler"]}
TOP_LEVEL_TEXT = ("description", "extends")
#: free-form metadata a profile may carry (``bench tune`` writes its budget and results there)
TOP_LEVEL_METADATA = ("tuning",)


def leaf_keys(schema: Mapping[str, Any] = SCHEMA, prefix: str = "") -> list[str]:
    """Every leaf key of a schema, dotted (``train.epochs``)."""
    out = []
    for k, v in schema.items():
        if isinstance(v, Field):
            out.append(prefix + k)
        else:
            out += leaf_keys(v, f"{prefix}{k}.")
    return out


def unknown_key(key: str, valid: list[str], where: str = "") -> BenchError:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return BenchError(f"Unknown profile key '{key}'{where}.",
                      (f"Did you mean '{close[0]}'? " if close else "")
                      + f"Valid keys: {', '.join(sorted(valid))}.")


def check_section(data: Mapping[str, Any], schema: Mapping[str, Any], prefix: str,
                  valid: list[str], partial: bool = False) -> None:
    """Check ``data`` against ``schema``; every key of ``data`` must be in it.

    ``partial``: ``data`` is an override merged over a complete section later.
    """
    if not isinstance(data, Mapping):
        raise BenchError(f"Profile section '{prefix.rstrip('.')}' must be an object, "
                         f"got {data!r}.")
    for key, value in data.items():
        full = prefix + key
        if key not in schema:
            raise unknown_key(full, valid)
        spec = schema[key]
        if isinstance(spec, Field):
            (spec.partial if partial and spec.partial else spec.check)(full, value)
        else:
            check_section(value, spec, full + ".", valid, partial)


def method_option_types(defaults: Mapping[str, Any]) -> dict[str, Field]:
    """A field per constructor option, typed by its default value."""
    out: dict[str, Field] = {}
    for name, default in defaults.items():
        if isinstance(default, bool):
            out[name] = boolean()
        elif _is_int(default) or isinstance(default, float):
            out[name] = number()
        elif isinstance(default, str):
            out[name] = text()
        elif isinstance(default, (list, tuple)):
            out[name] = Field(_number_list, "a list of numbers")
        else:
            out[name] = Field(lambda k, v: None, "any value")
    return out


def _number_list(key: str, v: Any) -> None:
    if not isinstance(v, (list, tuple)) or not v or not all(_is_number(x) for x in v):
        _fail(key, v, "a non-empty list of numbers")
