"""Bounds on P(all statements of a block true) from low-order ("n-way") probabilities.

What a person can *know* is a dict `known` mapping sorted tuples of block-local statement
positions to the probability that all of those statements are true. From it this package
computes what that knowledge implies about P(all):

- `independence`: the product of singletons (what a naive judge says);
- `frechet`, `hunter_worsley`: cheap valid bounds for any block size;
- `binomial_moment_bounds`: Prékopa's discrete-moment LP from the binomial moments S_k
  (the sum of all k-way probabilities), any block size;
- `sharp_bounds`: the best bounds the knowledge allows, an LP over all 2^m atoms solved by
  column generation (m <= 14);
- `maxent`: the maximum-entropy completion by iterative proportional fitting (m <= 14);
- `world_bounds` / `bounds_from_known`: the best valid combination per block, multiplied
  over the world's independent blocks, with the true P(Z) alongside. The bounds are
  computed from the evidence alone; the truth is only compared with them afterwards
  (`truth_outside`), never used to widen them or clipped into them.

LP bounds are *certified*: the returned number comes from a dual-feasible point checked
in numpy (not trusted from the solver), so for consistent inputs lower <= truth <= upper
holds whatever the solver's tolerances; it is then padded outward by a tiny margin for
rounding and clipped to [0, 1].

The parts live in private modules (`_common`, `_cheap`, `_moments`, `_atoms`, `_maxent`,
`_blocks`, in that order of dependence); import from `latent.bounds`, which re-exports them.
"""

from __future__ import annotations

from latent.bounds._atoms import AtomLP, atom_lp, sharp_bounds
from latent.bounds._atoms import _masks as _masks
from latent.bounds._blocks import (
    BlockBounds,
    WorldBounds,
    block_bounds,
    bounds_from_known,
    split_block_bounds,
    truth_outside,
    world_bounds,
)
from latent.bounds._blocks import _atom_probs as _atom_probs
from latent.bounds._blocks import _known_from_atoms as _known_from_atoms
from latent.bounds._blocks import _truth_outside as _truth_outside
from latent.bounds._cheap import (
    DisjointSets,
    frechet,
    hunter_worsley,
    independence,
    log10_independence,
)
from latent.bounds._common import (
    GAUSS_MAX_ORDER,
    MAX_ATOM_M,
    MAX_SUBSETS,
    PAD_ABS,
    PAD_REL,
    TRUTH_MARGIN_REL,
    Extreme,
    Known,
    check_known,
)
from latent.bounds._common import _pad_hi as _pad_hi
from latent.bounds._common import _pad_lo as _pad_lo
from latent.bounds._maxent import _ipf as _ipf
from latent.bounds._maxent import maxent, maxent_distribution, tree_maxent
from latent.bounds._moments import (
    binomial_moment_bounds,
    binomial_moment_bounds_unscaled,
    binomial_moments,
    binomial_moments_discrete,
    count_distribution,
)

__all__ = [
    "GAUSS_MAX_ORDER",
    "MAX_ATOM_M",
    "MAX_SUBSETS",
    "PAD_ABS",
    "PAD_REL",
    "TRUTH_MARGIN_REL",
    "AtomLP",
    "BlockBounds",
    "DisjointSets",
    "Extreme",
    "Known",
    "WorldBounds",
    "atom_lp",
    "binomial_moment_bounds",
    "binomial_moment_bounds_unscaled",
    "binomial_moments",
    "binomial_moments_discrete",
    "block_bounds",
    "bounds_from_known",
    "check_known",
    "count_distribution",
    "frechet",
    "hunter_worsley",
    "independence",
    "log10_independence",
    "maxent",
    "maxent_distribution",
    "sharp_bounds",
    "split_block_bounds",
    "tree_maxent",
    "truth_outside",
    "world_bounds",
]
