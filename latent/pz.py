"""P(Z): the probability that every statement of a world is true.

Blocks are independent, so P(Z) is a product and log10 P(Z) a sum; each block's value is
exact (discrete, or Gaussian with independent one-statement parts) or an estimate whose
standard error is small in *relative* terms however small P(Z) is.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel
from scipy.special import log_ndtr

from latent import bvn, mvn
from latent.errors import LatentError
from latent.nway import block_log_prob
from latent.world import DiscreteBlock, GaussianBlock, World

LN10 = math.log(10)

#: Default relative standard error asked of the Gaussian estimator.
REL_TOL = 0.005
#: Blocks up to this size get at least SMALL_REL_TOL (they take milliseconds).
SMALL_BLOCK = 12
SMALL_REL_TOL = 1e-3


class BlockPZ(BaseModel):
    """P(all statements of one block true)."""

    name: str | None
    kind: str
    trap: str | None
    n_statements: int
    #: log10 of the block's probability; None when it is exactly 0.
    log10_pz: float | None
    log10_stderr: float
    exact: bool
    method: str


class WorldPZ(BaseModel):
    """P(Z) of a world with its standard error, and each block's share."""

    pz: float
    log10_pz: float | None
    log10_pz_stderr: float
    exact: bool
    blocks: list[BlockPZ]


def block_pz(
    block: GaussianBlock | DiscreteBlock, *, rel_tol: float = REL_TOL, seed: int = 0
) -> BlockPZ:
    """P(all statements of the block true); exact where possible, else an honest estimate.

    A Gaussian estimate is clipped to the smallest single-statement probability (P(all) can
    never exceed it), which only ever moves it towards the truth.
    """
    _check_options(rel_tol, seed)
    common: dict[str, Any] = {"name": block.name, "kind": block.kind, "trap": block.trap}
    m = len(block.statements)
    if isinstance(block, DiscreteBlock):
        p = float(block.probs[block.membership.all(axis=0)].sum())
        lp = math.log10(p) if p > 0 else None
        return BlockPZ(
            **common, n_statements=m, log10_pz=lp, log10_stderr=0.0, exact=True, method="exact"
        )
    if m <= 3:
        lp = block_log_prob(block, list(range(m)))[0] / LN10
        return BlockPZ(
            **common,
            n_statements=m,
            log10_pz=lp,
            log10_stderr=0.0,
            exact=True,
            method="exact-1d" if m == 1 else "closed-form",
        )
    r, h = block.orthant()
    # Small blocks are cheap: ask for ten times the precision there.
    tol = min(rel_tol, SMALL_REL_TOL) if m <= SMALL_BLOCK else rel_tol
    with np.errstate(all="ignore"):  # near-singular blocks warn inside the solver
        res = mvn.log_mvn_prob(r, h, np.full(m, np.inf), rel_tol=tol, rng=seed)
    cap = min(float(np.min(log_ndtr(-h))), _degenerate_cap(r, h))
    log_p = min(res.log_p, cap)
    if log_p == -math.inf:
        return BlockPZ(
            **common,
            n_statements=m,
            log10_pz=None,
            log10_stderr=0.0,
            exact=True,
            method="exact-degenerate",
        )
    return BlockPZ(
        **common,
        n_statements=m,
        log10_pz=log_p / LN10,
        log10_stderr=res.rel_stderr / LN10,
        exact=res.rel_stderr == 0.0,
        method=res.method,
    )


def _check_options(rel_tol: float, seed: int) -> None:
    if not (math.isfinite(rel_tol) and 0.0 < rel_tol < 1.0):
        raise LatentError(f"relative tolerance is {rel_tol}; use a number between 0 and 1")
    if seed < 0:
        raise LatentError(f"seed is {seed}; use a whole number >= 0")


def _degenerate_cap(r: np.ndarray, h: np.ndarray) -> float:
    """log of the smallest pair probability among perfectly (anti-)correlated pairs.

    A statement and its exact negation (r = ±1) make P(all) exactly 0, which a sampling
    estimator cannot see; those pairs have closed forms, so they cap the estimate.
    """
    i, j = np.nonzero(np.triu(np.abs(r) >= 1.0 - 1e-12, 1))
    if len(i) == 0:
        return 0.0
    return float(np.min(bvn.log_bvn_upper(h[i], h[j], np.clip(r[i, j], -1.0, 1.0))))


def world_pz(world: World, *, rel_tol: float = REL_TOL, seed: int = 0) -> WorldPZ:
    """P(Z) as the product over blocks; standard errors add in quadrature (log scale)."""
    _check_options(rel_tol, seed)
    blocks = [block_pz(b, rel_tol=rel_tol, seed=seed) for b in world.blocks]
    if any(b.log10_pz is None for b in blocks):
        log10: float | None = None
        pz = 0.0
    else:
        log10 = math.fsum(b.log10_pz for b in blocks if b.log10_pz is not None)
        pz = 10.0**log10
    return WorldPZ(
        pz=pz,
        log10_pz=log10,
        log10_pz_stderr=math.sqrt(math.fsum(b.log10_stderr**2 for b in blocks)),
        exact=all(b.exact for b in blocks),
        blocks=blocks,
    )
