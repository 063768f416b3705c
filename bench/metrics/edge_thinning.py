"""Morphological thinning of many binary maps at once, equal to pyEdgeEval's ``binary_thin``.

The BSDS benchmark thins the thresholded edge map at every one of its 99 thresholds before
matching. pyEdgeEval's ``binary_thin`` (the Guo–Hall two-subiteration parallel thinning of
MATLAB's ``bwmorph(…, 'thin')``) does it one map at a time, with a dozen numpy calls per
subiteration; at 128×128 that is ~1.4 s of the ~1.5 s an image costs, almost all of it call
overhead (measured, README, PASCAL-Context).

:func:`thin_stack` runs the same algorithm on a stack ``[T, H, W]`` of maps together. Each map
follows exactly ``binary_thin``'s iteration, including its stopping rule: a map stops at the
first subiteration that deletes none of its pixels (before the second subiteration of that
iteration, when it is the first). Its 3×3 neighbourhood code is
:math:`c = \\sum_{dy,dx} 2^{3(dy+1) + (dx+1)} x_{y+dy, x+dx}` (pyEdgeEval's bit order: north-west
= 1, centre = 16, south-east = 256), and subiteration :math:`s` sets every pixel to
:math:`\\mathrm{LUT}_s[c]`, both lookup tables being pyEdgeEval's own. Maps that have stopped
leave the stack, so the work is that of thinning them one by one, without the per-map calls.
``tests/test_edge_thinning.py`` checks equality with ``binary_thin`` map by map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """pyEdgeEval's two subiteration lookup tables (512 entries) and where each changes a pixel."""
    from pyEdgeEval.preprocess.thin.thin import (
        _lut_mutate_mask,
        _thin_iter_1_lut,
        _thin_iter_2_lut,
    )

    first, second = _thin_iter_1_lut(), _thin_iter_2_lut()
    return first, _lut_mutate_mask(first), second, _lut_mutate_mask(second)


def neighbourhood_codes(padded: np.ndarray) -> np.ndarray:
    """``[T, H, W]`` 9-bit neighbourhood codes of the maps ``padded`` (``[T, H+2, W+2]``, 0/1,
    zero border): three 3-bit row codes, then three rows."""
    rows = (padded[:, :, :-2] + 2 * padded[:, :, 1:-1] + 4 * padded[:, :, 2:]).astype(np.uint16)
    return rows[:, :-2] + 8 * rows[:, 1:-1] + 64 * rows[:, 2:]


def thin_stack(maps: np.ndarray) -> np.ndarray:
    """Each of the binary maps ``[T, H, W]`` thinned as ``pyEdgeEval.preprocess.binary_thin``."""
    maps = np.asarray(maps, dtype=bool)
    if maps.ndim != 3:
        raise ValueError(f"thin_stack takes a [T, H, W] stack of maps, not shape {maps.shape}")
    first, first_changes, second, second_changes = _tables()
    out = maps.copy()
    work = np.zeros((maps.shape[0], maps.shape[1] + 2, maps.shape[2] + 2), dtype=np.uint8)
    work[:, 1:-1, 1:-1] = maps
    ids = np.arange(maps.shape[0])
    while ids.size:
        # first subiteration: a map that it would not change stops as it is
        codes = neighbourhood_codes(work)
        going = first_changes[codes].any(axis=(1, 2))
        if not going.all():
            out[ids[~going]] = work[~going, 1:-1, 1:-1]
            work, ids, codes = work[going], ids[going], codes[going]
            if not ids.size:
                break
        work[:, 1:-1, 1:-1] = first[codes]
        # second subiteration: a map that it does not change stops after it
        codes = neighbourhood_codes(work)
        going = second_changes[codes].any(axis=(1, 2))
        work[:, 1:-1, 1:-1] = second[codes]
        if not going.all():
            out[ids[~going]] = work[~going, 1:-1, 1:-1]
            work, ids = work[going], ids[going]
    return out
