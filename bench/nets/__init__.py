"""Networks: the SegNet backbone and the building blocks shared by the methods."""

from bench.nets.segnet import SegNet, segnet_filters

__all__ = ["SegNet", "segnet_filters"]
