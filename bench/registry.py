"""Registries of the harness (mmengine ``Registry``): methods and datasets are built by name.

A method is one file in ``methods/`` whose class is registered with its metadata::

    @register_method("my_method", MethodInfo(summary=..., display=..., ...))
    class MyMethod(PartialLabelMethod): ...

and is then built from a dict config, like ``timm.create_model`` builds by name::

    model = METHODS.build(dict(type="xtc-nocond", tasks=tasks, width=0.25))

The registries import their modules lazily (mmengine's ``locations=``): the first lookup imports
``methods`` and ``bench.data``, whose ``__init__`` discovers every module of the package, so a new
file needs no import list. Variants (``xtc-nocond``) are configurations of one class, registered
under their own name with their own metadata.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from mmengine.registry import Registry

from bench.errors import BenchError, unknown_name
from bench.metadata import EQUAL, DatasetInfo, MethodInfo, row_key, split_row

METHODS = Registry("method", scope="bench", locations=["methods"])
DATASETS = Registry("dataset", scope="bench", locations=["bench.data"])

_INFO: dict[str, MethodInfo] = {}
_OPTIONS: dict[str, dict[str, Any]] = {}
_CLASS: dict[str, type] = {}
#: named sets of rows (``method`` or ``method+weighting``) registered as a whole (Table 5)
_ROW_SETS: dict[str, list[str]] = {}
#: names that were methods once and are now a row (method + weighting)
RENAMED = {"xtc-uncertainty": "xtc+uncertainty"}


def _load() -> None:
    METHODS.import_from_location()
    DATASETS.import_from_location()


def register_method(name: str, info: MethodInfo) -> Callable[[type], type]:
    """Class decorator: register ``cls`` as method ``name`` with its metadata ``info``."""

    def wrap(cls: type) -> type:
        METHODS.register_module(name=name, module=cls)
        _record(name, cls, info, {})
        return cls

    return wrap


def register_variant(name: str, cls: type, info: MethodInfo, **options: Any) -> None:
    """Register ``name`` as ``cls`` with fixed constructor ``options`` (``xtc-nocond``: cond off).

    The registered object is a small factory, so ``METHODS.build`` passes the remaining options
    on; the grid reads the class and the fixed options through :func:`method_class` and
    :func:`method_options`.
    """

    def build(**kwargs: Any) -> Any:
        return cls(**{**options, **kwargs})

    build.__doc__ = info.summary
    build.__name__ = name.replace("-", "_")
    METHODS.register_module(name=name, module=build)
    _record(name, cls, info, options)


def _record(name: str, cls: type, info: MethodInfo, options: dict[str, Any]) -> None:
    summary = info.summary or _first_line(cls.__doc__)
    _INFO[name] = MethodInfo(**{**info.to_dict(), "name": name, "summary": summary,
                                "sets": tuple(info.sets),
                                "paper_aliases": tuple(info.paper_aliases)})
    _OPTIONS[name] = dict(options)
    _CLASS[name] = cls


def _first_line(doc: str | None) -> str:
    doc = (doc or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else ""


# -- methods ------------------------------------------------------------------------------------
def method_names() -> list[str]:
    """Registered method names in display order (the order of the paper's tables)."""
    _load()
    return sorted(_INFO, key=lambda n: (_INFO[n].order, n))


def _known(name: str) -> None:
    _load()
    if name not in _INFO:
        raise unknown_name("method", name, _INFO)


def method_info(name: str) -> MethodInfo:
    """The metadata of method ``name``; a clear error if it is not registered."""
    _known(name)
    return _INFO[name]


def method_class(name: str) -> type:
    """The class behind method ``name`` (itself, or the class of a variant)."""
    _known(name)
    return _CLASS[name]


def method_options(name: str) -> dict[str, Any]:
    """Constructor options that variant ``name`` fixes (empty for a plain method)."""
    _known(name)
    return dict(_OPTIONS[name])


def method_defaults(name: str) -> dict[str, Any]:
    """Every constructor option of method ``name`` with its default (its run identity).

    Arguments the engine fills from other config sections (``ENGINE_ARGS``: the tasks, the
    width…) are left out; so are the variant's fixed options' values (see
    :func:`method_options`).
    """
    cls = method_class(name)
    engine = set(getattr(cls, "ENGINE_ARGS", ("tasks",)))
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p.default for p in inspect.signature(cls).parameters.values()
            if p.kind in kinds and p.name not in engine}


def optim_group_names(name: str) -> set[str]:
    """The optimiser groups method ``name`` can have (``net`` and its own)."""
    options = {**method_defaults(name), **method_options(name)}
    return {"net", *method_class(name).optim_group_defaults(options)}


def register_method_set(name: str, rows: list[str]) -> None:
    """A named set of rows, each a method or ``method+weighting`` (``--methods table5``)."""
    _ROW_SETS[name] = list(rows)


def method_sets() -> dict[str, list[str]]:
    """Named method sets (``all``, every name in a ``MethodInfo.sets``, the registered row sets)
    → members in order."""
    names = method_names()
    sets: dict[str, list[str]] = {"all": [n for n in names if _INFO[n].in_all]}
    for n in names:
        for s in _INFO[n].sets:
            sets.setdefault(s, []).append(n)
    sets.update({k: list(v) for k, v in _ROW_SETS.items()})
    return sets


def check_row(row: str, valid: list[str] | None = None) -> str:
    """A row name (``sl`` or ``sl+dwa``) with both parts registered; a clear error otherwise."""
    from bench.weightings import weighting_info

    method, weighting = split_row(row)
    _load()
    if method not in _INFO:
        raise unknown_name("method", method, valid if valid is not None else _INFO)
    weighting_info(weighting)
    if weighting != EQUAL and not _INFO[method].weighted:
        raise BenchError(f"'{row}': {method} takes no task weighting ({_INFO[method].summary}).",
                         f"Run it as plain '{method}'.")
    return row_key(method, weighting)


def expand_methods(text: str) -> list[str]:
    """``all``, a set name or a comma list of both → rows: registered method names, or
    ``method+weighting`` (validated). A renamed method (``xtc-uncertainty``) gives its row."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise BenchError("No method given.", "Use --methods all or e.g. --methods sl,stl.")
    sets = method_sets()
    out: list[str] = []
    for name in names:
        if name in sets:
            out += [check_row(r) for r in sets[name]]
        else:
            out.append(check_row(RENAMED.get(name, name), [*_INFO, *sets]))
    return list(dict.fromkeys(out))


# -- datasets -----------------------------------------------------------------------------------
def dataset_names() -> list[str]:
    _load()
    return sorted(DATASETS.module_dict)


def get_dataset(name: str) -> Any:
    """The registered dataset adapter class ``name``; a clear error if unknown."""
    _load()
    if name not in DATASETS.module_dict:
        raise unknown_name("dataset", name, DATASETS.module_dict)
    return DATASETS.module_dict[name]


def dataset_info(name: str) -> DatasetInfo:
    ds = get_dataset(name)
    return DatasetInfo(ds.name, ds.display, ds.default_profile)


def describe_dataset(name: str) -> str:
    return _first_line(get_dataset(name).__doc__)
