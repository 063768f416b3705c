"""The methods of the benchmark: one module per method family, each registered by name.

Importing this package imports every module in it, so a new method is one new file with a
``@register_method`` class: no import list to keep. Methods outside the package are loaded from
``$BENCH_PLUGINS``: a comma-separated list of module names or ``.py`` paths (like mmengine's
``custom_imports``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
import traceback
from pathlib import Path

from bench.errors import BenchError

PLUGINS_ENV = "BENCH_PLUGINS"


def _import(name: str, path: Path | None = None) -> None:
    try:
        if path is None:
            importlib.import_module(name)
            return
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"not a Python module: {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any import failure of a method file is reported
        where = traceback.extract_tb(exc.__traceback__)[-1]
        raise BenchError(f"Cannot import method module '{path or name}': "
                         f"{type(exc).__name__}: {exc}",
                         f"(at {where.filename}:{where.lineno}) Fix the file, or remove it from "
                         f"${PLUGINS_ENV}.") from None


def discover() -> list[str]:
    """Import every module of this package, then every plugin of ``$BENCH_PLUGINS``."""
    loaded = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            _import(f"{__name__}.{info.name}")
            loaded.append(info.name)
    for item in filter(None, (p.strip() for p in os.environ.get(PLUGINS_ENV, "").split(","))):
        path = Path(item)
        if item.endswith(".py"):
            if not path.is_file():
                raise BenchError(f"${PLUGINS_ENV} names {item}, which is not a file.")
            _import(f"bench_plugin_{path.stem}", path)
        else:
            _import(item)
        loaded.append(item)
    return loaded


discover()
