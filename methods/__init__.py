"""The methods of the benchmark, one module per method family, registered by name.

Importing this package registers every method in :data:`bench.registry.METHODS`.
"""

from methods import (  # noqa: F401  (registration side effects)
    contrastive,
    direct_map,
    discriminator,
    perceptual_map,
    sl,
    ssl,
    stl,
    xtc,
)
from methods.base import PartialLabelMethod

__all__ = ["PartialLabelMethod"]
