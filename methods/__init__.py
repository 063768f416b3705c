"""The methods of the benchmark: one module per method family, each registered by name.

The method registry (:data:`bench.registry.METHODS`) imports every module of this package on its
first lookup, so a new method is one new file with a ``@register_method`` class: no import list
to keep. Methods outside the package are loaded from ``$BENCH_PLUGINS``: a comma-separated list
of module names or ``.py`` paths (like mmengine's ``custom_imports``).
"""
