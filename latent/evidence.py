"""A judge's evidence: a chosen list of n-way probabilities, not "everything up to order K".

An evidence file is a JSON list; each item is either a list of statement ids (the oracle
fills in the probability, as it does for a judge's query) or an object
`{"ids": [...], "p": 0.25}` with a probability someone claims to know. The result feeds
`latent.bounds.bounds_from_known`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latent.errors import LatentError
from latent.nway import nway
from latent.world import World, read_json

Evidence = dict[tuple[str, ...], float]


def evidence_from_ids(world: World, subsets: Sequence[Sequence[str]]) -> Evidence:
    """The oracle's value for every listed subset of statement ids (duplicates merged)."""
    out: Evidence = {}
    for ids in subsets:
        key = tuple(str(s) for s in ids)
        if not key:
            raise LatentError("an evidence subset names no statement; list at least one id")
        try:
            out[key] = nway(world, list(key)).p
        except LatentError as exc:
            raise LatentError(f"evidence {','.join(key)}: {exc}") from None
    return out


def parse_evidence(world: World, data: Any, source: str = "evidence") -> Evidence:
    """Evidence from already-parsed JSON (see the module docstring for the format)."""
    if not isinstance(data, list) or not data:
        raise LatentError(
            f'{source}: evidence must be a non-empty JSON list such as [["s1", "s2"], '
            '{"ids": ["s3"], "p": 0.4}]; fix the file'
        )
    out: Evidence = {}
    oracle: list[tuple[int, list[str]]] = []
    for k, item in enumerate(data):
        if isinstance(item, list) and all(isinstance(s, str) for s in item):
            oracle.append((k, item))
            continue
        if not (
            isinstance(item, dict)
            and set(item) == {"ids", "p"}
            and isinstance(item["ids"], list)
            and item["ids"]
            and all(isinstance(s, str) for s in item["ids"])
        ):
            raise LatentError(
                f'{source}: item {k}: use a list of ids or {{"ids": [...], "p": number}}; '
                "fix that item"
            )
        p = item["p"]
        if isinstance(p, bool) or not isinstance(p, int | float) or not math.isfinite(p):
            raise LatentError(f"{source}: item {k}.p: {p!r} is not a number; use one in [0, 1]")
        if not 0.0 <= p <= 1.0:
            raise LatentError(f"{source}: item {k}.p: {p} is outside [0, 1]; fix it")
        for sid in item["ids"]:
            try:
                world.locate(sid)
            except LatentError as exc:
                raise LatentError(f"{source}: item {k}.ids: {exc}") from None
        out[tuple(item["ids"])] = float(p)
    for k, ids in oracle:
        if not ids:
            raise LatentError(f"{source}: item {k}: names no statement; list at least one id")
        try:
            out[tuple(ids)] = nway(world, ids).p
        except LatentError as exc:
            raise LatentError(f"{source}: item {k}: {exc}") from None
    return out


def load_evidence(world: World, path: str | Path) -> Evidence:
    """Read an evidence file; a LatentError (one line) if it cannot be used."""
    return parse_evidence(world, read_json(path), str(path))
