"""Shared by the bounds: the `known` dict, rounding pads and the limits on block size."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal, TypeVar

from latent.errors import LatentError

Known = dict[tuple[int, ...], float]
T = TypeVar("T")
Extreme = Literal["min", "max"]

#: Largest block for the LP over atoms and for maximum entropy (2^14 atoms).
MAX_ATOM_M = 14
#: Most subsets whose probabilities world_bounds computes for one Gaussian block.
MAX_SUBSETS = 200_000
#: Closed-form n-way probabilities exist for Gaussian subsets up to this size.
GAUSS_MAX_ORDER = 3
#: Outward padding of every returned bound: relative and absolute parts.
PAD_REL = 1e-12
PAD_ABS = 1e-15
#: A truth counts as outside its bounds only beyond this relative margin (rounding in the
#: inputs and in the truth's own summation) plus, for an estimated truth, 4 of its
#: standard errors.
TRUTH_MARGIN_REL = 1e-9
#: Dual variables are boxed to this size: the primal then tolerates inconsistent inputs
#: (an infeasible equality becomes a penalised slack) and the certificate stays finite.
_DUAL_BOX = 1e6


#: Rounding of a certificate's dot product, relative to sum |y_i b_i|.
_DOT_REL = 1e-13


def _pad_lo(x: float, scale: float = 0.0) -> float:
    """x moved down by the rounding margin; `scale` = sum |y_i b_i| of a dual certificate."""
    return float(min(1.0, max(0.0, x - PAD_REL * abs(x) - _DOT_REL * scale - PAD_ABS)))


def _pad_hi(x: float, scale: float = 0.0) -> float:
    """x moved up by the rounding margin; a known zero with no certificate (P(all) <= P(S)
    for a subset S known to be impossible) is exact and stays 0."""
    if x <= 0.0 and scale == 0.0:
        return 0.0
    return float(max(0.0, min(1.0, x + PAD_REL * abs(x) + _DOT_REL * scale + PAD_ABS)))


def check_known(m: int, known: Mapping[tuple[int, ...], float]) -> Known:
    """A clean copy of `known`: sorted unique positions in [0, m), values clipped to [0, 1].

    The empty tuple (probability 1) is dropped. Raises LatentError on a bad key or value.
    """
    if m < 1:
        raise LatentError(f"a block needs at least one statement, got m={m}")
    out: Known = {}
    for key, p in known.items():
        sub = tuple(sorted({int(i) for i in key}))
        if sub and (sub[0] < 0 or sub[-1] >= m):
            raise LatentError(f"known subset {key} has a position outside 0..{m - 1}; fix it")
        if not math.isfinite(p) or p < -1e-9 or p > 1 + 1e-9:
            raise LatentError(f"known probability of {key} is {p}; use a number in [0, 1]")
        if sub:
            out[sub] = min(1.0, max(0.0, float(p)))
    return out
