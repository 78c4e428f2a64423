"""A study database's judgements as export rows (docs/logs.md), so `pzjudge export` and
`pzjudge stats` read a study as they read the game's store, and `pzjudge import` can merge
a study's judgements into a store without losing where each sits in the study.

A study stores less per judgement than the game (no baselines, evidence or rules); those
fields are null. The debaters' specs are not stored either: they are what the round pipeline
deals for the item (`store.study_ops.study_round`, which checks the re-dealt round against
the stored one), null when this pzjudge cannot re-deal it. Ids are stable hashes of the
study title, the participant's code, the position and the judge, so exporting a study twice
gives the same rows, and importing them twice adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from typing import Any

from debate.scoring import safe_log10 as _log10  # the one floor (LOG10_FLOOR)
from debate.study import own_answer
from latent.errors import PzJudgeError
from store.export import EXPORT_VERSION, FIELDS, trust_fields
from store.study import StudyDB
from store.study_ops import item_kind, study_round


def _uid(*parts: object) -> str:
    text = json.dumps([str(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _n_statements(world_json: str) -> int:
    world = json.loads(world_json)
    if "mimic" in world:  # a mimic round has no statements (as the game stores one)
        return 0
    return sum(len(b["statements"]) for b in world["blocks"])


def _fin(x: Any) -> float | None:
    return x if isinstance(x, float | int) and math.isfinite(x) else None


def _debaters(
    specs: dict[str, str] | None, condition: str, item: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The specs shown as debaters A and B under a condition: both in a debate (live or
    recorded), the consultant alone as A in consultancy, none with the oracle alone."""
    if not specs:
        return None, None
    if condition in ("debate", "offline"):
        return specs.get("a"), specs.get("b")
    if condition == "consultancy" and item["honest_side"] in ("a", "b"):
        truthful = item["honest_side"]
        liar = "b" if truthful == "a" else "a"
        return specs.get(truthful if item["consultant_honest"] else liar), None
    return None, None


def _judge_error(row: dict[str, Any], res: dict[str, Any]) -> str:
    """Why a judgement is not the judge's own answer, in a line."""
    if row.get("submitted") == "expiry-default":
        # the estimate is store.study_ops.expiry_default's stand-in
        return "the time ran out before an estimate was typed"
    errors = [str(e) for e in res.get("errors") or []]
    return errors[-1] if errors else "the judge gave no answer"


def study_rows(db: StudyDB) -> Iterator[dict[str, Any]]:
    """One export row (keys: `FIELDS`) per judgement of the study, oldest first.

    `judge` is the name the judgement was made under (a participant's name or code, or
    `sim:NAME`); `session` is one per (participant, judge); `round` is the position in the
    participant's order; attention checks are marked by `attention` (never `practice`)."""
    title = str(db.meta()["title"])
    items = {it["id"]: it for it in db.items()}
    specs: dict[int, dict[str, str] | None] = {}
    for r in db.results():
        item = items[r["item"]]
        res = json.loads(r["result_json"])
        mimic = item_kind(item) == "mimic"
        if mimic:
            specs[r["item"]] = None  # no debaters
        elif r["item"] not in specs:
            try:
                specs[r["item"]] = dict(study_round(db, r["item"])[0].secret.specs)
            except (PzJudgeError, OSError):
                specs[r["item"]] = None  # a world file gone, another pipeline: unknown
        debater_a, debater_b = _debaters(specs[r["item"]], r["condition"], item)
        honest = r["honest_side"]
        # no answer of the judge's own: the time ran out with nothing valid typed, or the
        # protocol marked the judge failed (`debate.study.own_answer`); then no credence
        # is the judge's either (docs/logs.md)
        failed = not own_answer(r)
        ca = None if failed else r["credence_a"]
        shown = res.get("claims") or {}
        row = {
            "schema_version": EXPORT_VERSION,
            "uid": _uid("judgement", title, r["participant"], r["position"], r["judge"]),
            "judge": r["judge"],
            "session": _uid("session", title, r["participant"], r["judge"]),
            "session_kind": "study",
            "session_seed": None,
            "app_version": None,
            "round": r["position"],
            "round_uid": _uid("round", title, r["participant"], r["position"], r["judge"]),
            "practice": False,
            "world_seed": item["seed"],
            "n_statements": _n_statements(item["world_json"]),
            "debater_a": debater_a,
            "debater_b": debater_b,
            "honest_side": honest,
            "estimate": r["estimate"],
            "log10_estimate": _log10(r["estimate"]),
            "interval": None,
            "covered": None,
            "credence_a": ca,
            **trust_fields(ca, honest),
            "trusted_honest": None if failed else r["trusted_honest"],
            "trust_log_score": None if failed else _fin(res.get("trust_log_score")),
            "truth_pz": r["truth"],
            "log10_truth": item["log10_truth"],
            "log10_truth_stderr": None,  # a study's items do not keep it (not recorded)
            "log10_error": _fin(r["log10_error"]),
            "regret_bits": _fin(r["regret_bits"]),
            "seconds": r["seconds"],
            "created_at": r["created_at"],
            "kind": "mimic" if mimic else "pz",
            "study": title,
            "participant": r["participant"],
            "item": item["name"],
            "condition": r["condition"],
            "position": r["position"],
            "protocol": res.get("protocol"),
            "time_limit": r["time_limit"],
            "timed_out": r["timed_out"],
            "attention": r["attention"],
            "judge_failed": failed,
            "judge_error": _judge_error(r, res) if failed else None,
            "baselines": None,
            # the claims the judge was shown (consultancy: the consultant's alone, as "a")
            "claims": {"a": shown.get("a"), "b": shown.get("b")} if shown else None,
            "evidence": None,
            "evidence_sources": None,
            "rules": None,
            "settings": None,
        }
        assert list(row) == FIELDS
        yield row


__all__ = ["study_rows"]
