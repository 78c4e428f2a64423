"""The core of pzjudge: world models, M_Z, P(Z), n-way probabilities, bounds, plants.

Nothing here imports Textual, the debate engine, or the store.
"""

from latent.errors import LatentError

__all__ = ["LatentError"]
