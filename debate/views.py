"""What the judge is shown for free: the statements (with their own probabilities when the
rules make them free) and their plain product.

Kept apart from the engine so that dealing a round (`debate.rounds`), the liar's claim
(`debate.lies`) and the engine all read the same view without importing each other.
"""

from __future__ import annotations

import math

from debate.protocol import StatementView
from debate.rules import Rules
from latent.nway import singles
from latent.world import World


def independence_value(world: World) -> float:
    """Product of every statement's own probability: the tempting low-order answer."""
    logp = 0.0
    for p in singles(world).values():
        if p <= 0:
            return 0.0
        logp += math.log(p)
    return math.exp(logp)


def statement_views(world: World, rules: Rules) -> list[StatementView]:
    """The statements in world-file order (ids are opaque and shuffled by the generator)."""
    own = singles(world) if rules.free_singletons else {}
    return [
        StatementView(id=st.id, text=st.text, p=own.get(st.id))
        for block in world.blocks
        for st in block.statements
    ]


def shown_product(views: list[StatementView]) -> float | None:
    """Product of the shown single probabilities (None when any is not shown)."""
    ps = [s.p for s in views if s.p is not None]
    if len(ps) < len(views):
        return None
    if any(p <= 0 for p in ps):
        return 0.0
    return math.exp(math.fsum(math.log(p) for p in ps))
