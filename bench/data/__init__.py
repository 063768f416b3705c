"""Dataset adapters (code). The data itself lives under the data root (``datasets/`` by default).

The dataset registry (:data:`bench.registry.DATASETS`) imports every module of the package on its
first lookup: a new dataset is one new module.
"""
