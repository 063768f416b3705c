"""Dataset adapters (code). The data itself lives under the data root (``datasets/`` by default).

Importing this package imports every module in it, which registers every adapter in
:data:`bench.registry.DATASETS`: a new dataset is one new module.
"""

import importlib
import pkgutil

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
