"""Registries of the harness: every pluggable kind is registered, discovered and built one way.

Six kinds, each an mmengine ``Registry`` that imports its package lazily (``locations=``) on the
first lookup, every module in it (:class:`PackageRegistry`), so a new one is one new file:

=================  ====================  ===================================================
registry           package               entry
=================  ====================  ===================================================
:data:`METHODS`    ``methods``           a method class and its :class:`MethodInfo`
:data:`WEIGHTINGS` ``bench.weightings``  a task weighting and its :class:`WeightingInfo`
:data:`ARCHITECTURES` ``bench.nets``     a backbone (network, joint and pairwise mappings)
:data:`TASKS`      ``bench.tasks``       a dense prediction task
:data:`DATASETS`   ``bench.data``        a dataset adapter and its :class:`DatasetInfo`
:data:`LAUNCHERS`  ``bench.launch``      where a grid's runs execute (local, GPUs, Slurm, …)
=================  ====================  ===================================================

Each name maps to one :class:`Entry`: the class, its metadata (timm's ``default_cfgs`` beside
``@register_model``) and the options the name fixes (a variant such as ``xtc-nocond`` is the
``xtc`` class with ``cond=False``). A class declares its options as a dataclass ``Options``
(fields with defaults; a subclass adds its own by deriving from its base's), so the options of a
name, with their defaults, are read from the class, never guessed::

    @register_method("my_method", MethodInfo(summary=..., display=..., ...))
    class MyMethod(PartialLabelMethod):
        @dataclass(frozen=True)
        class Options(PartialLabelMethod.Options):
            weight: float = 1.0

and is then built by name from a dict config, as mmengine builds::

    model = METHODS.build(dict(type="xtc-nocond", tasks=tasks, width=0.25))
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from mmengine.registry import Registry

from bench.errors import BenchError, unknown_name
from bench.metadata import EQUAL, DatasetInfo, MethodInfo, WeightingInfo, row_key, split_row


class PackageRegistry(Registry):
    """An mmengine ``Registry`` whose ``locations`` are packages: the first lookup imports every
    module in them (:func:`discover`), then the plugins of ``$BENCH_PLUGINS`` (which may
    register anything: a method, a task, a weighting, a dataset, a launcher).

    The packages' ``__init__`` modules import nothing, so importing one module of a package
    (``bench.launch.orphan`` in a worker) stays cheap; what registers itself is found when a
    name is first looked up.
    """

    def __init__(self, name: str, location: str, *, user_code: bool = False) -> None:
        super().__init__(name, scope="bench", locations=[location])
        #: the package holds modules users write (``methods/``): import errors are user errors
        self.user_code = user_code

    def import_from_location(self) -> None:
        if self._imported:
            return
        self._imported = True  # a module that looks a name up while being imported: no loop
        try:
            for location in self._locations:
                package = importlib.import_module(location)
                discover(location, package.__path__, user_code=self.user_code)
            import_plugins()
        except BaseException:
            self._imported = False
            raise

    def rediscover(self) -> None:
        """Import the packages again, for modules added since the first lookup."""
        self._imported = False
        self.import_from_location()


METHODS = PackageRegistry("method", "methods", user_code=True)
WEIGHTINGS = PackageRegistry("weighting", "bench.weightings")
ARCHITECTURES = PackageRegistry("architecture", "bench.nets")
TASKS = PackageRegistry("task", "bench.tasks")
DATASETS = PackageRegistry("dataset", "bench.data")
LAUNCHERS = PackageRegistry("launcher", "bench.launch")

#: named sets of rows (``method`` or ``method+weighting``) registered as a whole (Table 5)
_ROW_SETS: dict[str, list[str]] = {}
#: names that were methods once and are now a row (method + weighting)
RENAMED = {"xtc-uncertainty": "xtc+uncertainty"}


@dataclass(frozen=True)
class Entry:
    """One registered name: the class it builds, its metadata, and the options it fixes.

    Calling the entry builds the class with the fixed options over the given ones, so
    ``REGISTRY.build(dict(type=name, ...))`` builds a variant as its name says.
    """

    name: str
    cls: type
    info: Any = None
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.cls(*args, **{**kwargs, **self.fixed})

    def options(self) -> dict[str, Any]:
        """Every option of the name with its default (the fixed ones at their values)."""
        return {**declared_options(self.cls), **self.fixed}

    @property
    def summary(self) -> str:
        """One line on what it is: its metadata's ``summary``, else the class docstring's."""
        text = getattr(self.info, "summary", "") if self.info is not None else ""
        return text or first_line(self.cls.__doc__)


def declared_options(cls: type) -> dict[str, Any]:
    """The options class ``cls`` declares (the fields of its ``Options`` dataclass) with their
    defaults."""
    out: dict[str, Any] = {}
    for f in fields(cls.Options):
        out[f.name] = f.default if f.default is not MISSING else f.default_factory()
    return out


def first_line(doc: str | None) -> str:
    """The first line of a docstring, without its reStructuredText markup."""
    doc = (doc or "").strip()
    if not doc:
        return ""
    line = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc.splitlines()[0].rstrip("."))
    return line.replace("``", "")


def register(registry: Registry, name: str, info: Any = None, **fixed: Any
             ) -> Callable[[type], type]:
    """Class decorator: register ``cls`` in ``registry`` as ``name`` (``info``: its metadata;
    ``fixed``: options the name pins)."""

    def wrap(cls: type) -> type:
        register_variant(registry, name, cls, info, **fixed)
        return cls

    return wrap


def register_variant(registry: Registry, name: str, cls: type, info: Any = None,
                     **fixed: Any) -> Entry:
    """Register ``name`` in ``registry`` as ``cls`` with its metadata and fixed options."""
    unknown = sorted(set(fixed) - set(declared_options(cls)))
    if unknown:
        raise TypeError(f"{registry.name} {name!r}: {cls.__name__} has no option(s) {unknown}")
    if info is not None and hasattr(info, "name"):
        summary = getattr(info, "summary", None) or first_line(cls.__doc__)
        info = type(info).from_dict({**info.to_dict(), "name": name, "summary": summary})
    entry = Entry(name, cls, info, dict(fixed))
    registry.register_module(name=name, module=entry)
    return entry


def unregister(registry: Registry, name: str) -> None:
    """Forget ``name`` (a module registered for a test, say)."""
    registry._module_dict.pop(name, None)  # noqa: SLF001 - mmengine has no public removal


def entries(registry: Registry) -> dict[str, Entry]:
    """Every entry of ``registry`` by name (its package imported first)."""
    registry.import_from_location()
    return {k: v for k, v in registry.module_dict.items() if isinstance(v, Entry)}


def entry(registry: Registry, name: str, kind: str | None = None) -> Entry:
    """The entry ``name`` of ``registry``; a clear error naming the valid ones if unknown."""
    known = entries(registry)
    if name not in known:
        raise unknown_name(kind or registry.name, name, known)
    return known[name]


def discover(package: str, path: Iterable[str], skip: Iterable[str] = (), *,
             user_code: bool = False) -> list[str]:
    """Import every module of ``package`` (but ``skip`` and private ones): what registers them.

    ``user_code``: the modules are plugins a user writes (``methods/``), so a module that fails
    to import is a :class:`~bench.errors.BenchError` naming the file and line, not a traceback.
    """
    loaded = []
    skipped = set(skip)
    for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in skipped:
            continue
        import_module(f"{package}.{info.name}", user_code=user_code)
        loaded.append(info.name)
    return loaded


def import_module(name: str, path: Path | None = None, *, user_code: bool = True) -> None:
    """Import module ``name`` (from the file ``path`` if given, once), registering what it
    defines."""
    if path is not None and name in sys.modules:
        return
    try:
        if path is None:
            importlib.import_module(name)
            return
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"not a Python module: {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure of a user's file is reported
        if not user_code:
            raise
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise BenchError(f"Cannot import module '{path or name}': {type(exc).__name__}: {exc}",
                         f"(at {where.filename}:{where.lineno}) Fix the file, or remove it from "
                         f"${PLUGINS_ENV}.") from None


#: modules or ``.py`` files outside the checkout that register more methods (or anything else)
PLUGINS_ENV = "BENCH_PLUGINS"


def import_plugins() -> list[str]:
    """Import every plugin named by ``$BENCH_PLUGINS``: a comma list of module names or ``.py``
    paths (like mmengine's ``custom_imports``)."""
    loaded = []
    for item in filter(None, (p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(","))):
        path = Path(item)
        if item.endswith(".py"):
            if not path.is_file():
                raise BenchError(f"${PLUGINS_ENV} names {item}, which is not a file.")
            import_module(f"bench_plugin_{path.stem}", path)
        else:
            import_module(item)
        loaded.append(item)
    return loaded


# -- methods ------------------------------------------------------------------------------------
def register_method(name: str, info: MethodInfo, **fixed: Any) -> Callable[[type], type]:
    """Class decorator: register ``cls`` as method ``name`` with its metadata ``info``."""
    return register(METHODS, name, info, **fixed)


def register_method_variant(name: str, cls: type, info: MethodInfo, **fixed: Any) -> Entry:
    """Register ``name`` as method ``cls`` with fixed options (``xtc-nocond``: ``cond`` off)."""
    return register_variant(METHODS, name, cls, info, **fixed)


def method_names() -> list[str]:
    """Registered method names in display order (the order of the paper's tables)."""
    known = entries(METHODS)
    return sorted(known, key=lambda n: (known[n].info.order, n))


def method_info(name: str) -> MethodInfo:
    """The metadata of method ``name``; a clear error if it is not registered."""
    return entry(METHODS, name).info


def method_class(name: str) -> type:
    """The class behind method ``name`` (itself, or the class of a variant)."""
    return entry(METHODS, name).cls


def method_options(name: str) -> dict[str, Any]:
    """Options that variant ``name`` fixes (empty for a plain method)."""
    return dict(entry(METHODS, name).fixed)


def method_defaults(name: str) -> dict[str, Any]:
    """Every option of method ``name`` with its default, as its class declares them (the
    variant's fixed options at their declared defaults; :func:`method_options` has their values)."""
    return declared_options(method_class(name))


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
    infos = {n: method_info(n) for n in names}
    sets: dict[str, list[str]] = {"all": [n for n in names if infos[n].in_all]}
    for n in names:
        for s in infos[n].sets:
            sets.setdefault(s, []).append(n)
    sets.update({k: list(v) for k, v in _ROW_SETS.items()})
    return sets


def check_row(row: str, valid: list[str] | None = None) -> str:
    """A row name (``sl`` or ``sl+dwa``) with both parts registered; a clear error otherwise."""
    method, weighting = split_row(row)
    known = entries(METHODS)
    if method not in known:
        raise unknown_name("method", method, valid if valid is not None else known)
    weighting_info(weighting)
    if weighting != EQUAL and not known[method].info.weighted:
        raise BenchError(f"'{row}': {method} takes no task weighting ({known[method].summary}).",
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
            out.append(check_row(RENAMED.get(name, name), [*entries(METHODS), *sets]))
    return list(dict.fromkeys(out))


# -- weightings ---------------------------------------------------------------------------------
def register_weighting(name: str, info: WeightingInfo, **fixed: Any) -> Callable[[type], type]:
    """Class decorator: register ``cls`` as weighting ``name`` (``fixed``: options it pins)."""
    return register(WEIGHTINGS, name, info, **fixed)


def weighting_names() -> list[str]:
    """Registered weightings, equal first, then in display order."""
    known = entries(WEIGHTINGS)
    return sorted(known, key=lambda n: (known[n].info.order, n))


def weighting_info(name: str) -> WeightingInfo:
    return entry(WEIGHTINGS, name).info


def weighting_class(name: str) -> type:
    return entry(WEIGHTINGS, name).cls


def weighting_fixed_options(name: str) -> dict[str, Any]:
    return dict(entry(WEIGHTINGS, name).fixed)


def weighting_defaults(name: str) -> dict[str, Any]:
    """Every option of weighting ``name`` with its default (pinned ones at their values)."""
    return entry(WEIGHTINGS, name).options()


# -- datasets, architectures, tasks, launchers ---------------------------------------------------
def register_dataset(name: str) -> Callable[[type], type]:
    """Class decorator: register a dataset adapter (its metadata is its class attributes)."""

    def wrap(cls: type) -> type:
        if cls.name != name:
            raise TypeError(f"dataset {name!r} is registered with class name {cls.name!r}")
        register_variant(DATASETS, name, cls, DatasetInfo(name, cls.display or name,
                                                          cls.default_profile))
        return cls

    return wrap


def dataset_names() -> list[str]:
    return sorted(entries(DATASETS))


def get_dataset(name: str) -> Any:
    """The registered dataset adapter class ``name``; a clear error if unknown."""
    return entry(DATASETS, name).cls


def dataset_info(name: str) -> DatasetInfo:
    return entry(DATASETS, name).info


def describe_dataset(name: str) -> str:
    return entry(DATASETS, name).summary


def register_architecture(name: str) -> Callable[[type], type]:
    """Class decorator: register a backbone (``model.arch``)."""
    return register(ARCHITECTURES, name)


def architecture_names() -> list[str]:
    return sorted(entries(ARCHITECTURES))


def register_task(name: str) -> Callable[[type], type]:
    """Class decorator: register a dense prediction task class."""
    return register(TASKS, name)


def task_class(name: str) -> type:
    return entry(TASKS, name).cls


def register_launcher(name: str) -> Callable[[type], type]:
    """Class decorator: register a launcher (``bench run --launcher NAME``)."""
    return register(LAUNCHERS, name)


def launcher_names() -> list[str]:
    return sorted(entries(LAUNCHERS))
