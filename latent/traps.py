"""What was planted in a world, as the reveal names it: trap blocks (`d4`, `parity`,
`extremal`), planted blocks that turned out innocent (`planted-high`,
`planted-independent`) and flips (`flip`), each with the statements involved.

In the core so that the game's reveal and a study's report (log10 error by trap kind) read
the same list; never shown to a judge before they answer.
"""

from __future__ import annotations

from pydantic import BaseModel

from latent.shadow import planted_variant
from latent.world import GaussianBlock, World

#: The kind of an item whose world has nothing planted (a study report's own row).
NO_TRAP = "none"


class Trap(BaseModel):
    """A planted block (or a block's flips): its kind, the block's name, its statements."""

    kind: str
    block: str
    ids: list[str]


def traps_of(world: World) -> list[Trap]:
    """Planted counterexamples (traps, and planted blocks that turned out innocent) and
    flips, with the statements involved, in the order of the world's blocks."""
    out = []
    for i, b in enumerate(world.blocks):
        name = b.name or f"block {i + 1}"
        if isinstance(b, GaussianBlock):
            flips = [s.id for s in b.statements if s.flip]
            if flips:
                out.append(Trap(kind="flip", block=name, ids=sorted(flips)))
            continue
        ids = sorted(s.id for s in b.statements)
        if b.trap:
            out.append(Trap(kind=b.trap, block=name, ids=ids))
        elif (variant := planted_variant(b)) in ("high", "independent"):
            # planted like a trap but innocent: worth knowing too, since the shadow world
            # (the lie) may have been a trap here
            out.append(Trap(kind=f"planted-{variant}", block=name, ids=ids))
    return out


def trap_kinds(world: World) -> list[str]:
    """The distinct kinds planted in `world`, sorted; `[NO_TRAP]` when there are none."""
    return sorted({t.kind for t in traps_of(world)}) or [NO_TRAP]
