"""Registries of the harness (mmengine ``Registry``): methods and datasets are built by name.

A method is registered once with its class (or with a function returning a configured instance for
a variant) and is then built from a dict config, like ``timm.create_model`` builds by name::

    model = METHODS.build(dict(type="xtc-nocond", tasks=tasks, width=0.25))
"""

from __future__ import annotations

import importlib
from typing import Any

from mmengine.registry import Registry

from bench.errors import unknown_name

METHODS = Registry("method", scope="bench")
DATASETS = Registry("dataset", scope="bench")

_LOADED = False


def load_plugins() -> None:
    """Import the modules that register methods and datasets (idempotent)."""
    global _LOADED
    if _LOADED:
        return
    importlib.import_module("methods")
    importlib.import_module("bench.data")
    _LOADED = True


def method_names() -> list[str]:
    """Registered method names in display order (the order of the paper's tables)."""
    load_plugins()
    return sorted(METHODS.module_dict, key=lambda n: (display_order(n), n))


def display_order(name: str) -> int:
    obj = METHODS.module_dict[name]
    return int(getattr(obj, "display_order", getattr(method_class(obj), "display_order", 100)))


def in_all(name: str) -> bool:
    """Whether ``--methods all`` includes ``name``."""
    obj = METHODS.module_dict[name]
    return bool(getattr(obj, "in_all", getattr(method_class(obj), "in_all", True)))


def dataset_names() -> list[str]:
    load_plugins()
    return sorted(DATASETS.module_dict)


def get_method(name: str) -> Any:
    """The registered class or factory of method ``name``; a clear error if unknown."""
    load_plugins()
    obj = METHODS.get(name)
    if obj is None or name not in METHODS.module_dict:
        raise unknown_name("method", name, METHODS.module_dict)
    return obj


def get_dataset(name: str) -> Any:
    """The registered dataset description ``name``; a clear error if unknown."""
    load_plugins()
    if name not in DATASETS.module_dict:
        raise unknown_name("dataset", name, DATASETS.module_dict)
    return DATASETS.module_dict[name]


def describe(obj: Any) -> str:
    """First line of an object's docstring: the one-line description shown by ``bench list``."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].rstrip(".") if doc else ""


def register_variant(name: str, cls: type, description: str, *, display_order: int = 100,
                     in_all: bool = True, **options: Any) -> None:
    """Register ``name`` as ``cls`` with fixed ``options`` (e.g. ``xtc-nocond`` = xtc, cond off).

    Variants are configurations of one class, not copies: the registered object is a small
    factory that remembers its class and options, so ``bench list`` and the grid can read the
    class's metadata.
    """

    def build(**kwargs: Any) -> Any:
        return cls(**{**options, **kwargs})

    build.__doc__ = description
    build.__name__ = name.replace("-", "_")
    build.method_class = cls  # type: ignore[attr-defined]
    build.fixed_options = dict(options)  # type: ignore[attr-defined]
    build.display_order = display_order  # type: ignore[attr-defined]
    build.in_all = in_all  # type: ignore[attr-defined]
    METHODS.register_module(name=name, module=build)


def method_class(obj: Any) -> type:
    """The class behind a registered method (itself, or the class of a variant)."""
    return getattr(obj, "method_class", obj)


def method_fixed_options(obj: Any) -> dict[str, Any]:
    return dict(getattr(obj, "fixed_options", {}))
