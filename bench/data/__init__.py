"""Dataset adapters (code). The data itself lives under the data root (``datasets/`` by default).

Importing this package registers every adapter in :data:`bench.registry.DATASETS`.
"""

from bench.data.base import DenseDataset, LayoutInfo
from bench.data.cityscapes import Cityscapes
from bench.data.nyuv2 import NYUv2
from bench.data.synthetic_sets import SyntheticCityscapes, SyntheticNYUv2

__all__ = ["Cityscapes", "DenseDataset", "LayoutInfo", "NYUv2", "SyntheticCityscapes",
           "SyntheticNYUv2"]
