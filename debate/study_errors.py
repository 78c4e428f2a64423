"""A study's log10 error broken down: by item and by the trap kinds of an item's world.

Pure numbers from stored rows, as `debate.study.summarize` is: only the judge's own answers
(`own_answer`) whose P(Z) is above 0 (the log10 error is undefined at 0), each group's mean
with a seeded percentile bootstrap 95% interval. The trap kinds are what the reveal names
(`latent.traps`): an item counts once under each kind planted in its world, and under
`none` when nothing is planted; mimic items have no world, so no kind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from debate.study import ItemSpec, bootstrap_ci, own_answer
from latent.traps import trap_kinds
from latent.world import parse_world


def item_trap_kinds(item: dict[str, Any]) -> list[str]:
    """The trap kinds of a stored study item's world (`items` row: `spec`, `world_json`);
    none for a mimic item."""
    if ItemSpec.model_validate_json(item["spec"]).kind != "pz":
        return []
    return trap_kinds(parse_world(json.loads(item["world_json"]), f"item {item['name']}"))


def log10_error_groups(
    rows: Iterable[dict[str, Any]],
    key: str,
    keys_of: Callable[[dict[str, Any]], Iterable[str]],
    *,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Per (judge, `key`, condition), sorted: rounds, mean log10 error and its bootstrap
    95% interval. `keys_of(row)` gives the values of `key` a row counts under (none: the
    row is left out). Groups with no own answer above P(Z) = 0 are not listed."""
    groups: dict[tuple[str, str, str], list[float]] = {}
    for r in rows:
        if not own_answer(r) or r["truth"] <= 0:
            continue
        for k in keys_of(r):
            groups.setdefault((r["judge"], k, r["condition"]), []).append(float(r["log10_error"]))
    out = []
    for (judge, k, cond), errs in sorted(groups.items()):
        ci = bootstrap_ci(errs, seed=seed)
        out.append(
            {
                "judge": judge,
                key: k,
                "condition": cond,
                "rounds": len(errs),
                "mean_log10_error": sum(errs) / len(errs),
                "log10_error_lo": None if ci is None else ci[0],
                "log10_error_hi": None if ci is None else ci[1],
            }
        )
    return out
