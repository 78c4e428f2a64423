"""Planted counterexamples: blocks whose low-order probabilities look innocent but whose
P(all) is far from what they suggest.

- `d4_block`: the fair four-sided die with A={1,2}, B={1,3}, C={2,3}: every single is 1/2,
  every pair 1/4, yet the triple is impossible (innocent twin: C'={1,4}, triple 1/4).
- `parity_block`: m fair-looking bits whose count of trues has the parity that excludes
  the all-true string: every (m-1)-way probability is 2^-(m-1) as if independent, P(all)=0.
- `extremal_block` / `plant_world`: the distribution keeping every <=K-way probability of a
  given block that makes P(all) as small or as large as possible (the sharp LP's optimum).
"""

from __future__ import annotations

import math
from itertools import product
from typing import Literal

import numpy as np
from pydantic import BaseModel
from scipy.optimize import linprog

from latent.bounds import _atom_probs, _known_from_atoms, _masks, atom_lp
from latent.errors import LatentError
from latent.world import DiscreteBlock, DiscreteStatement, GaussianBlock, World

#: Largest block `extremal_block` rebuilds (2^12 outcomes).
MAX_PLANT_M = 12

_D4_TEXTS = {
    "A": "The four-sided die shows 1 or 2.",
    "B": "The four-sided die shows 1 or 3.",
    "C": "The four-sided die shows 2 or 3.",
    "C'": "The four-sided die shows 1 or 4.",
}


def d4_block(
    id_prefix: str,
    *,
    innocent: bool = False,
    texts: list[str] | None = None,
    name: str | None = None,
) -> DiscreteBlock:
    """A fair D4 with statements A={1,2}, B={1,3} and C={2,3} (P(all)=0, trap "d4").

    `innocent` uses C'={1,4} instead (P(all)=1/4, no trap); both have every single 1/2 and
    every pair 1/4. Ids are id_prefix + "A", "B", "C"; `texts` replaces the three texts.
    """
    sets = {"A": ["1", "2"], "B": ["1", "3"], "C": ["1", "4"] if innocent else ["2", "3"]}
    default = [_D4_TEXTS["A"], _D4_TEXTS["B"], _D4_TEXTS["C'" if innocent else "C"]]
    if texts is not None and len(texts) != 3:
        raise LatentError(f"a D4 block has 3 statements; got {len(texts)} texts")
    use = texts if texts is not None else default
    return DiscreteBlock(
        name=name,
        trap=None if innocent else "d4",
        outcomes={str(i): 0.25 for i in range(1, 5)},
        statements=[
            DiscreteStatement(id=f"{id_prefix}{k}", text=t, outcomes=v)
            for (k, v), t in zip(sets.items(), use, strict=True)
        ],
    )


def parity_block(
    m: int, id_prefix: str, *, texts: list[str] | None = None, name: str | None = None
) -> DiscreteBlock:
    """Uniform over the 2^(m-1) bit strings of length m whose number of ones differs in
    parity from m, so the all-true string is excluded: P(all) = 0 while every subset of
    size <= m-1 has probability 2^-size exactly as under independence (trap "parity").

    Statement i (id id_prefix + str(i+1)) is "bit i is 1"; outcomes are the bit strings.
    """
    if not 2 <= m <= MAX_PLANT_M:
        raise LatentError(f"a parity block needs 2..{MAX_PLANT_M} statements, got {m}")
    if texts is not None and len(texts) != m:
        raise LatentError(f"a parity block of {m} statements needs {m} texts, got {len(texts)}")
    strings = ["".join(bits) for bits in product("01", repeat=m) if bits.count("1") % 2 != m % 2]
    p = 1.0 / len(strings)
    use = texts or [f"Lamp {i + 1} of the {m} on the panel is lit." for i in range(m)]
    return DiscreteBlock(
        name=name,
        trap="parity",
        outcomes=dict.fromkeys(strings, p),
        statements=[
            DiscreteStatement(
                id=f"{id_prefix}{i + 1}", text=use[i], outcomes=[s for s in strings if s[i] == "1"]
            )
            for i in range(m)
        ],
    )


def _block_known(block: GaussianBlock | DiscreteBlock, order: int) -> dict[tuple[int, ...], float]:
    m = len(block.statements)
    if isinstance(block, DiscreteBlock):
        return _known_from_atoms(_atom_probs(block), m, order)
    if order > 3:
        raise LatentError(
            f"extremal plants of Gaussian blocks need order <= 3 (closed forms), got {order}"
        )
    from latent.nway import block_known

    return block_known(block, order)


def _polish(m: int, known: dict[tuple[int, ...], float], w: np.ndarray) -> np.ndarray:
    """Project a near-feasible atom distribution onto the constraints, keeping it >= 0.

    Least-squares correction on the support (dropping atoms that go negative, a few
    rounds), so the <=K-way probabilities hold to ~1e-12.
    """
    keys = [(), *known]
    masks = _masks(keys)
    b = np.array([1.0, *known.values()])
    w = np.where(w > 1e-14, w, np.where(w > 0, 1e-300, 0.0))
    for _ in range(20):
        sup = np.nonzero(w > 0)[0]
        a = ((masks[:, None] & sup[None, :]) == masks[:, None]).astype(float)
        resid = b - a @ w[sup]
        if np.max(np.abs(resid)) < 1e-13:
            break
        corr = np.linalg.lstsq(a, resid, rcond=None)[0]
        new = w[sup] + corr
        if np.all(new >= 0):
            w[sup] = new
            continue
        w[sup] = np.maximum(new, 0.0)
    return w / w.sum()


def _vertex(
    m: int,
    known: dict[tuple[int, ...], float],
    w: np.ndarray,
    extreme: Literal["min", "max"],
    converged: bool,
) -> np.ndarray:
    """A basic optimal solution: HiGHS on the atoms the interior-point solution uses.

    The interior point sits in the middle of the optimal face; a vertex has at most one
    atom per constraint, which makes the least-squares polish an exact square solve.
    """
    keys = [(), *known]
    masks = _masks(keys)
    b = np.array([1.0, *known.values()])
    sup = np.nonzero(w > 1e-12 * max(1.0, float(w.max())))[0] if converged else np.nonzero(w)[0]
    full = (1 << m) - 1
    if full not in sup:
        sup = np.append(sup, full)
    a = ((masks[:, None] & sup[None, :]) == masks[:, None]).astype(float)
    c = np.where(sup == full, 1.0 if extreme == "min" else -1.0, 0.0)
    res = linprog(
        c,
        A_eq=a,
        b_eq=b,
        bounds=(0, None),
        method="highs",
        options={"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10},
    )
    if res.status != 0:
        return w
    out = np.zeros(1 << m)
    out[sup] = res.x
    # keep the interior solution's atoms available to the polish (a vertex found within
    # HiGHS's tolerance may have dropped an atom the exact constraints need)
    out[(out <= 0) & (w > 0)] = 1e-300
    return out


def extremal_block(
    block: GaussianBlock | DiscreteBlock, order: int, extreme: Literal["min", "max"]
) -> DiscreteBlock:
    """The distribution over the block's 2^m truth patterns (m <= 12) that keeps every
    <=order-way probability and makes P(all) smallest ("min") or largest ("max").

    Outcomes are bit strings (character i = statement i true) with positive probability;
    ids and texts are kept and trap="extremal". The <=order-way probabilities match the
    input within ~1e-12 after polishing the LP optimum.
    """
    m = len(block.statements)
    if m > MAX_PLANT_M:
        raise LatentError(f"extremal plants handle at most {MAX_PLANT_M} statements, got {m}")
    if order < 1:
        raise LatentError(f"order must be at least 1, got {order}")
    known = _block_known(block, min(order, m))
    sol = atom_lp(m, known, extreme)
    w = _polish(m, known, _vertex(m, known, sol.weights, extreme, sol.converged))
    atoms = np.nonzero(w > 0)[0]
    names = ["".join("1" if (a >> i) & 1 else "0" for i in range(m)) for a in atoms]
    probs = w[atoms] / math.fsum(w[atoms])
    return DiscreteBlock(
        name=block.name,
        trap="extremal",
        outcomes={n: float(p) for n, p in zip(names, probs, strict=True)},
        statements=[
            DiscreteStatement(id=st.id, text=st.text, outcomes=[n for n in names if n[i] == "1"])
            for i, st in enumerate(block.statements)
        ],
    )


class PlantReport(BaseModel):
    """What `plant_world` changed."""

    order: int
    extreme: Literal["min", "max"]
    #: Indices of the blocks replaced by their extremal versions.
    replaced: list[int]
    #: Indices of blocks kept as they were (more than MAX_PLANT_M statements).
    kept: list[int]
    pz_before: float
    pz_after: float
    log10_pz_before: float | None
    log10_pz_after: float | None


def plant_world(
    world: World, order: int, extreme: Literal["min", "max"]
) -> tuple[World, PlantReport]:
    """Replace every block of <= 12 statements by its extremal version (same <=order-way
    probabilities, P(all) pushed to the extreme); larger blocks are kept and reported."""
    from latent.pz import world_pz

    blocks: list[GaussianBlock | DiscreteBlock] = []
    replaced, kept = [], []
    for i, blk in enumerate(world.blocks):
        if len(blk.statements) <= MAX_PLANT_M:
            blocks.append(extremal_block(blk, order, extreme))
            replaced.append(i)
        else:
            blocks.append(blk)
            kept.append(i)
    new = World(blocks=blocks, meta=world.meta)
    before, after = world_pz(world), world_pz(new)
    return new, PlantReport(
        order=order,
        extreme=extreme,
        replaced=replaced,
        kept=kept,
        pz_before=before.pz,
        pz_after=after.pz,
        log10_pz_before=before.log10_pz,
        log10_pz_after=after.log10_pz,
    )
