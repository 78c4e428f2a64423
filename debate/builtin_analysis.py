"""What a built-in debater reads from its oracle, once per world: every pair's probability
and lift log(P(ab) / P(a)P(b)), the pairs that hold together, rarely hold together or look
independent, and groups of three look-alike statements with P(all three) asked (where a
planted trap shows). Held block by block, so a world of many statements costs memory in its
blocks, not in n².
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from debate.protocol import DebaterView
from debate.verify import Oracle

#: Most triples a debater asks the oracle about while looking for planted groups.
TRIPLE_QUERIES = 1000
#: A pair "holds together" above this lift log(P(ab) / P(a)P(b)), "rarely" below the next.
TOGETHER_LIFT = math.log(1.05)
APART_LIFT = math.log(0.7)
#: A pair is "independent" within this lift; a planted group's pairs within the next.
FLAT_LIFT = 0.01
GROUP_PAIR_LIFT = 0.05
#: A group of three whose P(all three) is this far (log) from the product of its members'
#: probabilities is a trap (below) or holds together more than its pairs suggest (above).
GROUP_SKEW = math.log(1.5)
#: Candidates of one kind a debater chooses among (in a seeded order, strongest first).
WINDOW = 12


def safe_log(p: float) -> float:
    """The natural log, with 0 read as 1e-300 (a probability may underflow)."""
    return math.log(max(p, 1e-300))


@dataclass
class Group:
    """Three statements whose every pair looks independent, with P(all three) asked."""

    ids: list[str]
    pairs: list[tuple[list[str], float]]
    p: float
    #: The product of the three own probabilities: what the pairs suggest.
    expect: float

    @property
    def skew(self) -> float:
        return safe_log(self.p) - safe_log(self.expect)


@dataclass
class Analysis:
    """What a debater learns from the oracle about the statements (computed once)."""

    ids: list[str]
    texts: dict[str, str]
    single: dict[str, float]
    independence: float
    pm: PairEntries  # [i, j]: P(both), the diagonal P(i)
    lift: PairEntries  # [i, j]: log(P(ab) / P(a)P(b)), 0 across blocks
    index: dict[str, int]
    together: list[tuple[int, int]]  # pairs that hold together more than chance, strongest first
    apart: list[tuple[int, int]]  # pairs that rarely hold together (negations), strongest first
    flat: list[tuple[int, int]]  # pairs that look independent, spread over the statements
    traps: list[Group]  # groups whose triple is far below what the pairs suggest
    antis: list[Group]  # groups whose triple is far above it
    plain: list[Group]  # groups whose triple is what the pairs suggest

    @property
    def groups(self) -> list[Group]:
        return self.traps + self.antis + self.plain


PairLifts = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def pair_lifts(oracle: Oracle, ids: list[str]) -> PairLifts:
    """Every pair's probability and its lift log(P(ab) / P(a)P(b)), most related first.

    Returns (pair matrix, single probabilities, lift matrix, upper-triangle rows, columns,
    order of the upper-triangle pairs by decreasing lift). Dense (n, n): for a prompt's few
    hundred statements; `BlockPairs` holds the same for any number.
    """
    pm = oracle.pairs(ids)
    p1 = np.clip(np.diag(pm), 1e-300, 1.0)
    with np.errstate(divide="ignore"):
        lift = np.log(np.clip(pm, 1e-300, None)) - np.log(np.outer(p1, p1))
    iu, ju = np.triu_indices(len(ids), 1)
    return pm, p1, lift, iu, ju, np.argsort(-lift[iu, ju], kind="stable")


#: Up to this many statements, the independent-looking pairs are chosen exactly as ever (a
#: seeded shuffle of all of them: memory and time grow as n²); above it, they are sampled
#: (see `_flat_pairs`). Every world `generate` makes is at most this large.
EXACT_FLAT = 2000


@dataclass
class PairEntries:
    """One pair quantity of n statements, read [i, j] like the (n, n) matrix it stands
    for, kept block by block: `subs[b]` holds the pairs within block b; a pair across
    blocks is `across(i, j)` (the blocks are independent)."""

    block: np.ndarray  # (n,) int: the block of each statement
    pos: np.ndarray  # (n,) int: its position in the block
    subs: list[np.ndarray]
    across: Callable[[int, int], float]

    def __getitem__(self, ij: tuple[int, int]) -> float:
        i, j = ij
        b = self.block[i]
        if b == self.block[j]:
            return float(self.subs[b][self.pos[i], self.pos[j]])
        return self.across(i, j)


class BlockPairs:
    """Every pair's probability and lift log(P(ab) / P(a)P(b)) among n statements, held
    per block: pairs in different blocks are independent (P(ab) = P(a)P(b), lift 0), so
    memory grows with the blocks, not with n². Within a block the values are the very
    numbers `pair_lifts` computes (the same arithmetic on the same oracle answers)."""

    def __init__(self, n: int, parts: list[tuple[list[int], np.ndarray]]) -> None:
        self.n = n
        self.raw = np.empty(n)  # P(a) as the oracle says
        block = np.empty(n, dtype=np.int64)
        pos = np.empty(n, dtype=np.int64)
        for b, (ks, sub) in enumerate(parts):
            self.raw[ks] = np.diag(sub)
            block[ks] = b
            pos[ks] = np.arange(len(ks))
        self.p1 = np.clip(self.raw, 1e-300, 1.0)
        lifts = []
        for ks, sub in parts:
            p1 = self.p1[ks]
            with np.errstate(divide="ignore"):
                lifts.append(np.log(np.clip(sub, 1e-300, None)) - np.log(np.outer(p1, p1)))
        raw = self.raw
        self.pm = PairEntries(block, pos, [sub for _, sub in parts], lambda i, j: raw[i] * raw[j])
        self.lift = PairEntries(block, pos, lifts, lambda i, j: 0.0)
        # the pairs within blocks, i < j, with their place t in the row-major upper
        # triangle of all n statements (the order `pair_lifts` breaks ties in)
        rows, cols, ups = [], [], []
        for (ks, _), lift in zip(parts, lifts, strict=True):
            a, c = np.triu_indices(len(ks), 1)
            k = np.asarray(ks, dtype=np.int64)
            rows.append(k[a])
            cols.append(k[c])
            ups.append(lift[a, c])
        self.iu = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        self.ju = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
        self.ups = np.concatenate(ups) if ups else np.empty(0)
        self.t = self.iu * n - self.iu * (self.iu + 1) // 2 + (self.ju - self.iu - 1)

    def strongest(self, k: int, above: float) -> list[tuple[int, int]]:
        """The k pairs of largest lift above `above`, as `pair_lifts`' order gives them."""
        c = np.flatnonzero(self.ups > above)
        c = c[np.lexsort((self.t[c], -self.ups[c]))][:k]
        return [(int(self.iu[x]), int(self.ju[x])) for x in c]

    def weakest(self, k: int, below: float) -> list[tuple[int, int]]:
        """The k pairs of smallest lift below `below`, as `pair_lifts`' reversed order."""
        c = np.flatnonzero(self.ups < below)
        c = c[np.lexsort((-self.t[c], self.ups[c]))][:k]
        return [(int(self.iu[x]), int(self.ju[x])) for x in c]

    def near(self) -> np.ndarray:
        """Places t (ascending) of every pair with |lift| < FLAT_LIFT, across blocks too:
        (n(n - 1) / 2,) at most, so only for up to EXACT_FLAT statements."""
        mask = np.ones(self.n * (self.n - 1) // 2, dtype=bool)
        mask[self.t] = np.abs(self.ups) < FLAT_LIFT
        return np.flatnonzero(mask)


def _disjoint(
    iu: np.ndarray, ju: np.ndarray, seen: np.ndarray, out: list[tuple[int, int]], k: int
) -> None:
    """Greedy: take each pair in order whose statements are both still free, up to k in
    `out`. Pairs already touching a taken statement are dropped in one vectorised step
    first; only the rest are looked at one by one (the result is the same)."""
    free = ~seen[iu] & ~seen[ju]
    for i, j in zip(iu[free].tolist(), ju[free].tolist(), strict=True):
        if len(out) >= k:
            return
        if not seen[i] and not seen[j]:
            out.append((i, j))
            seen[i] = seen[j] = True


def _flat_pairs(pairs: BlockPairs, k: int) -> list[tuple[int, int]]:
    """Independent-looking pairs that share no statement, in a fixed shuffled order:
    citing them adds small separate facts, not one ever-growing web a judge's bounds must
    solve at once.

    Up to EXACT_FLAT statements: every such pair (a maximal set), from a seeded shuffle of
    all of them. Above: the first `k`, drawn uniformly at random among the pairs with
    |lift| < FLAT_LIFT and taken while they share no statement with one already taken. That
    is the same distribution as the first `k` of the shuffle (each is uniform among the
    pairs still free), without holding n² pairs.
    """
    n = pairs.n
    seen = np.zeros(n, dtype=bool)
    out: list[tuple[int, int]] = []
    rng = np.random.default_rng(0)
    if n <= EXACT_FLAT:
        order = rng.permutation(pairs.near())
        rows, cols = np.triu_indices(n, 1)
        for lo in range(0, len(order), 4096):
            t = order[lo : lo + 4096]
            _disjoint(rows[t], cols[t], seen, out, n)
        return out
    k = min(k, n // 4)
    # a bounded number of draws: a world whose pairs are nearly all related has few to take
    for _ in range(64):
        if len(out) >= k:
            break
        x = rng.integers(0, n, size=(4096, 2))
        x = x[x[:, 0] != x[:, 1]]
        iu, ju = x.min(axis=1), x.max(axis=1)
        lift = pairs.lift
        near = [abs(lift[a, b]) < FLAT_LIFT for a, b in zip(iu.tolist(), ju.tolist(), strict=True)]
        _disjoint(iu[near], ju[near], seen, out, k)
    return out


def analyse(view: DebaterView, oracle: Oracle) -> Analysis:
    """Ask the oracle for every pair, and triples among look-alike statements."""
    ids = [s.id for s in view.statements]
    texts = {s.id: s.text for s in view.statements}
    index = {sid: k for k, sid in enumerate(ids)}
    n = len(ids)
    if n < 2 or oracle.max_order < 2:
        # no pairs to ask: every statement alone, nothing related
        p1 = np.array([oracle.prob([s]) for s in ids])
        alone = BlockPairs(n, [([k], p.reshape(1, 1)) for k, p in enumerate(p1)])
        return Analysis(
            ids, texts, dict(zip(ids, map(float, p1), strict=True)),
            float(np.prod(p1)), alone.pm, alone.lift, index, [], [], [], [], [], [],
        )  # fmt: skip
    pairs = BlockPairs(n, oracle.pair_blocks(ids))
    single = {sid: float(pairs.p1[k]) for k, sid in enumerate(ids)}
    together = pairs.strongest(60, TOGETHER_LIFT)
    apart = pairs.weakest(60, APART_LIFT)
    # enough for every speech a side may make to cite only these, past a few windows
    speeches = 2 + view.rules.max_rounds
    flat = _flat_pairs(pairs, 4 * WINDOW + view.rules.citations_per_turn * speeches)
    traps, antis, plain = _find_groups(ids, pairs, oracle)
    indep = float(np.exp(np.sum(np.log(pairs.p1))))
    return Analysis(
        ids, texts, single, indep, pairs.pm, pairs.lift, index, together, apart, flat, traps,
        antis, plain,
    )  # fmt: skip


def _find_groups(
    ids: list[str], pairs: BlockPairs, oracle: Oracle
) -> tuple[list[Group], list[Group], list[Group]]:
    """Triples whose pairs all look independent among statements with the same own
    probability (what planted blocks of fair-looking outcomes share, whatever their texts
    say), with P(all three) asked of the oracle."""
    if oracle.max_order < 3:
        return [], [], []
    pm, lift, raw = pairs.pm, pairs.lift, pairs.raw
    sets: dict[str, list[int]] = {}
    for k in range(len(ids)):
        sets.setdefault(f"{raw[k]:.9f}", []).append(k)
    seen: set[tuple[int, int, int]] = set()
    out: list[Group] = []
    # smallest sets first: a set of exactly three is most likely one planted block
    for members in sorted(sets.values(), key=len):
        if not 3 <= len(members) <= 24:
            continue
        for a, b, c in combinations(members, 3):
            if len(seen) >= TRIPLE_QUERIES:
                break
            if (a, b, c) in seen:
                continue
            if any(abs(lift[x, y]) >= GROUP_PAIR_LIFT for x, y in ((a, b), (a, c), (b, c))):
                continue
            seen.add((a, b, c))
            tri = [ids[a], ids[b], ids[c]]
            pairs_ = [([ids[x], ids[y]], pm[x, y]) for x, y in ((a, b), (a, c), (b, c))]
            expect = float(raw[a] * raw[b] * raw[c])
            out.append(Group(tri, pairs_, oracle.prob(tri), expect))
    traps = sorted((g for g in out if g.skew < -GROUP_SKEW), key=lambda g: g.skew)
    antis = sorted((g for g in out if g.skew > GROUP_SKEW), key=lambda g: -g.skew)
    plain = [g for g in out if abs(g.skew) <= GROUP_SKEW]
    return traps, antis, plain
