"""Building, playing and simulating a study on its database (`store.study.StudyDB`).

`build_study` deals every item once through the round pipeline (`debate.study.deal_item`)
and stores it, with the offline transcript when a condition needs one; `study_round`
re-deals an item for play and checks it against what was stored (a changed pipeline must
not silently change a study); `judge_round` scores and stores one judgement.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from debate.errors import DebateError
from debate.judges import sim_judge
from debate.protocol import Judge, Turn
from debate.protocols import ProtocolResult, consultant_honest, record_debate, run_protocol
from debate.rounds import DealtRound, debaters_of
from debate.study import ItemSpec, StudySpec, assignments, deal_item, load_study
from latent.world import parse_world
from store.errors import StoreError
from store.study import StudyDB


def build_study(spec_path: str | Path, out: str | Path) -> tuple[StudySpec, list[str]]:
    """Deal every item of the study file into a new database at `out`; the codes issued.

    The database is written to a temporary name and renamed at the end, so a failed build
    leaves nothing half-made."""
    spec = load_study(spec_path)
    out = Path(out)
    tmp = out.with_name(out.name + ".building")
    if out.exists():
        raise StoreError(f"{out}: already exists; choose another -o or remove it")
    tmp.unlink(missing_ok=True)
    db = StudyDB(tmp, create=True)
    try:
        names = spec.item_names()
        offline = "offline" in spec.conditions
        all_items = spec.items + spec.attention.items
        db.set_meta(spec=spec.model_dump(mode="json"), title=spec.title, items=len(all_items))
        for i, item in enumerate(all_items):
            dealt = deal_item(item)
            debaters_of(dealt)  # a bad liar spec fails here, before any participant
            transcript = None
            if offline and i < len(spec.items):
                turns = asyncio.run(record_debate(dealt))
                transcript = json.dumps([t.model_dump(mode="json") for t in turns])
            assert dealt.claims is not None  # dealt with debate on
            db.add_item(
                {
                    "id": i,
                    "name": names[i],
                    "attention": int(i >= len(spec.items)),
                    "spec": item.model_dump_json(),
                    "seed": dealt.seed,
                    "world_json": dealt.world.to_json(),
                    "truth": dealt.secret.truth,
                    "log10_truth": dealt.secret.log10_truth,
                    "honest_side": dealt.secret.honest_side,
                    "claims": json.dumps(dealt.claims),
                    "consultant_honest": int(consultant_honest(dealt)),
                    "transcript": transcript,
                }
            )
        codes = [
            db.add_participant(p, [a.model_dump() for a in assignments(spec, p)])
            for p in range(spec.participants)
        ]
    except BaseException:
        db.close()
        tmp.unlink(missing_ok=True)
        raise
    db.close()
    tmp.rename(out)
    return spec, codes


def study_spec(db: StudyDB) -> StudySpec:
    return StudySpec.model_validate(db.meta()["spec"])


def study_round(db: StudyDB, item_id: int) -> tuple[DealtRound, list[Turn] | None]:
    """An item's round for play, re-dealt from its stored world and checked against the
    stored truth and claims; and its recorded transcript (offline), if any."""
    row = db.item(item_id)
    item = ItemSpec.model_validate_json(row["spec"])
    world = parse_world(json.loads(row["world_json"]), f"item {row['name']}")
    if item.world is None:
        # a generated item's world and lie are a pair dealt from the seed: re-deal it whole
        dealt = deal_item(item)
        if dealt.world.to_json() != row["world_json"]:
            raise StoreError(
                f"item {row['name']}: this pzjudge deals a different world than the study "
                "was built with; play it with the version that built it"
            )
    else:
        dealt = deal_item(item, world)
    claims = json.loads(row["claims"])
    if dealt.secret.truth != row["truth"] or dealt.claims != claims:
        raise StoreError(f"item {row['name']}: re-dealt claims differ from the stored ones")
    turns = None
    if row["transcript"]:
        turns = [Turn.model_validate(t) for t in json.loads(row["transcript"])]
    return dealt, turns


def result_row(
    code: str,
    rnd: dict[str, Any],
    res: ProtocolResult,
    *,
    time_limit: float | None,
    timed_out: bool = False,
) -> dict[str, Any]:
    """The stored row of one judgement."""
    return {
        "participant": code,
        "position": rnd["position"],
        "judge": res.judge,
        "item": rnd["item"],
        "condition": rnd["condition"],
        "attention": int(rnd["attention"]),
        "estimate": res.estimate,
        "truth": res.truth,
        "log10_error": res.log10_error,
        "regret_bits": res.regret_bits,
        "honest_side": res.honest_side,
        "credence_a": res.credence_a,
        "trusted_honest": None if res.trusted_honest is None else int(res.trusted_honest),
        "seconds": res.seconds,
        "time_limit": time_limit,
        "timed_out": int(timed_out),
        "result_json": res.model_dump_json(),
    }


def simulate_study(db: StudyDB, judges: list[str]) -> int:
    """Every participant's rounds judged by each simulated judge (a judgement already
    stored is kept, so a simulation can be resumed); the number of new judgements."""
    made: list[Judge] = [sim_judge(j) for j in judges]  # type: ignore[misc]
    spec = study_spec(db)
    cache: dict[int, tuple[DealtRound, list[Turn] | None]] = {}
    n = 0
    for p in db.participants():
        code = p["code"]
        for judge in made:
            done = db.done_positions(code, judge.name)
            for rnd in db.rounds_of(code):
                if rnd["position"] in done:
                    continue
                if rnd["item"] not in cache:
                    cache[rnd["item"]] = study_round(db, rnd["item"])
                dealt, turns = cache[rnd["item"]]
                res = asyncio.run(run_protocol(dealt, rnd["condition"], judge, transcript=turns))
                db.add_result(result_row(code, rnd, res, time_limit=spec.time_limit))
                n += 1
    return n


def status(db: StudyDB) -> list[dict[str, Any]]:
    """Per participant: rounds, rounds judged (by anyone other than a simulated judge, and
    by simulated judges), consent and finish times."""
    out = []
    for p in db.participants():
        rounds = db.rounds_of(p["code"])
        q = "SELECT judge, COUNT(*) FROM results WHERE participant = ? GROUP BY judge"
        by_judge = {j: c for j, c in db.conn.execute(q, (p["code"],))}
        human = sum(c for j, c in by_judge.items() if not j.startswith("sim:"))
        out.append(
            {
                "number": p["number"] + 1,
                "code": p["code"],
                "rounds": len(rounds),
                "judged": human,
                "simulated": {j: c for j, c in by_judge.items() if j.startswith("sim:")},
                "consented": p["consented_at"] is not None,
                "finished": p["finished_at"] is not None,
            }
        )
    return out


def check_judges(names: list[str]) -> list[str]:
    """Simulated judge names, checked (a one-line error for an unknown one)."""
    if not names:
        raise DebateError("name at least one simulated judge (--judges maxent,bounds,…)")
    for n in names:
        sim_judge(n)
    return names
