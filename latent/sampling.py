"""Draw joint truth assignments ("worlds") from a world model.

Used for Monte Carlo checks of the exact engines and, later, for training data of mimics.
"""

from __future__ import annotations

import numpy as np

from latent.world import DiscreteBlock, GaussianBlock, World


def gaussian_factor(cov: np.ndarray) -> np.ndarray:
    """A matrix F with F @ F.T == cov, valid for semi-definite matrices too.

    Cholesky when it succeeds (fast, the common case); otherwise a symmetric square root
    from the eigen-decomposition with negative round-off eigenvalues set to zero.
    """
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        w, v = np.linalg.eigh((cov + cov.T) / 2)
        return v * np.sqrt(np.clip(w, 0.0, None))


def sample_block(
    block: GaussianBlock | DiscreteBlock, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Boolean array (n, statements of the block): one row per joint draw."""
    if isinstance(block, DiscreteBlock):
        draws = rng.choice(len(block.probs), size=n, p=block.probs / block.probs.sum())
        return block.membership[:, draws].T.copy()
    corr, h = block.orthant()
    f = gaussian_factor(corr)
    y = rng.standard_normal((n, len(h))) @ f.T
    return y > h


def sample_truth(
    world: World, n: int, rng: np.random.Generator | int | None = None
) -> tuple[list[str], np.ndarray]:
    """Draw n joint truth assignments of every statement.

    Returns the statement ids (world order) and a boolean array (n, statements); blocks
    are drawn independently, as the world model says they are.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    cols = [sample_block(block, n, gen) for block in world.blocks]
    ids = [st.id for block in world.blocks for st in block.statements]
    return ids, np.concatenate(cols, axis=1)
