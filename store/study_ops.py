"""Building, playing and simulating a study on its database (`store.study.StudyDB`).

`build_study` deals every item once through the round pipeline (`debate.study.deal_item`)
and stores it, with the offline transcript when a condition needs one; `study_round`
re-deals an item for play and checks it against what was stored (a changed pipeline must
not silently change a study); `result_row` is the stored row of one judgement.

A participant plays through `participant_info`, `give_consent`, `next_item` (the next
round not yet judged, its clock started), `record_query`, `record_answer` and
`finish_participant`. Each opens the database for its own call, so the game may call them
from any worker thread, and two browsers of one study write through SQLite's own locks.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from debate.errors import DebateError, unknown
from debate.judges import sim_judge
from debate.mimic_round import MimicRound, build_mimic_round, reveal_mimic_round, table_forecast
from debate.models import Side
from debate.protocol import Decision, Judge, Turn
from debate.protocols import (
    ProtocolName,
    ProtocolResult,
    consultant_honest,
    protocol_name,
    record_debate,
    run_protocol,
    score_decision,
    shown_claims,
)
from debate.rounds import DealtRound, debaters_of, preset
from debate.study import (
    MIMIC,
    ItemSpec,
    StudySpec,
    assignments,
    deal_item,
    deal_mimic_item,
    dealt_from,
    load_study,
    round_seed,
    transcript_item,
)
from latent.world import parse_world
from store.errors import StoreError
from store.study import StudyDB

#: The judge name of every participant's judgements (who it was is the `participant`
#: column): one name, so the report pools participants per condition.
HUMAN = "human"


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
            seed = round_seed(spec.seed, item.seed)
            if item.kind == "mimic":
                db.add_item(_mimic_item_row(i, names[i], item, seed))
                continue
            transcript = None
            if item.transcript is not None:
                # recorded elsewhere: judged offline from it by everyone
                dealt, turns = transcript_item(item)
                transcript = json.dumps([t.model_dump(mode="json") for t in turns])
            else:
                dealt = deal_item(item, seed=seed)
                debaters_of(dealt)  # a bad liar spec fails here, before any participant
            if transcript is None and offline and i < len(spec.items):
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


def _mimic_item_row(i: int, name: str, item: ItemSpec, seed: int) -> dict[str, Any]:
    """A mimic item as stored: the round dealt from round seed `seed` (spec, public part
    and reveal numbers) in `world_json` as the game stores a mimic round (`{"mimic": …}`),
    no sides or claims."""
    rnd = deal_mimic_item(item, seed=seed)
    return {
        "id": i,
        "name": name,
        "attention": 0,
        "spec": item.model_dump_json(),
        "seed": seed,
        "world_json": json.dumps({"mimic": rnd.model_dump(mode="json")}),
        "truth": rnd.truth,
        "log10_truth": math.log10(rnd.truth) if rnd.truth > 0 else None,
        "honest_side": None,
        "claims": None,
        "consultant_honest": None,
        "transcript": None,
    }


def item_kind(row: dict[str, Any]) -> str:
    """ "pz" or "mimic": what a stored item asks."""
    return ItemSpec.model_validate_json(row["spec"]).kind


def study_mimic(db: StudyDB, item_id: int) -> MimicRound:
    """A mimic item's round for play, rebuilt from its stored spec and checked against the
    stored truth (a changed pipeline must not silently change a study)."""
    row = db.item(item_id)
    stored = MimicRound.model_validate(json.loads(row["world_json"])["mimic"])
    rnd = build_mimic_round(stored.public.spec)
    if rnd.truth != row["truth"] or rnd.public != stored.public:
        raise StoreError(
            f"item {row['name']}: this pzjudge deals a different mimic round than the study "
            "was built with; play it with the version that built it"
        )
    return rnd


def mimic_result(
    rnd: MimicRound, judge: str, estimate: float, seconds: float, errors: list[str] | None = None
) -> dict[str, Any]:
    """A mimic judgement as `result_row` stores it (the fields of a `ProtocolResult` that
    apply, and the reveal: what simulated operators would have said)."""
    rev = reveal_mimic_round(rnd, estimate)
    return {
        "kind": "mimic",
        "protocol": None,
        "seed": rnd.public.spec.seed,
        "judge": judge,
        "estimate": estimate,
        "truth": rnd.truth,
        "log10_truth": math.log10(rnd.truth) if rnd.truth > 0 else None,
        "log10_error": rev.scores.log10_error,
        "regret_bits": rev.scores.regret_bits,
        "claims": {},
        "honest_side": None,
        "credence_a": None,
        "trusted_honest": None,
        "trust_log_score": None,
        "judge_failed": False,
        "seconds": seconds,
        "errors": errors or [],
        "reveal": rev.model_dump(mode="json"),
    }


def study_spec(db: StudyDB) -> StudySpec:
    return StudySpec.model_validate(db.meta()["spec"])


def study_round(db: StudyDB, item_id: int) -> tuple[DealtRound, list[Turn] | None]:
    """An item's round for play, re-dealt from its stored world and round seed and checked
    against the stored truth and claims; and its recorded transcript (offline), if any."""
    row = db.item(item_id)
    item = ItemSpec.model_validate_json(row["spec"])
    world = parse_world(json.loads(row["world_json"]), f"item {row['name']}")
    if item.transcript is not None:
        # sides and claims were dealt where the debate was recorded: the stored ones
        recorded = [Turn.model_validate(t) for t in json.loads(row["transcript"])]
        dealt = dealt_from(
            world,
            preset(item.preset, debate=True).rules(),
            row["seed"],
            json.loads(row["claims"]),
            row["honest_side"],
            {},
        )
        if dealt.secret.truth != row["truth"]:
            raise StoreError(f"item {row['name']}: this pzjudge computes another P(Z) for it")
        return dealt, recorded
    if item.world is None:
        # a generated item's world and lie are a pair dealt from the seed: re-deal it whole
        dealt = deal_item(item, seed=row["seed"])
        if dealt.world.to_json() != row["world_json"]:
            raise StoreError(
                f"item {row['name']}: this pzjudge deals a different world than the study "
                "was built with; play it with the version that built it"
            )
    else:
        dealt = deal_item(item, world, seed=row["seed"])
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
    res: ProtocolResult | dict[str, Any],
    *,
    time_limit: float | None,
    timed_out: bool = False,
    submitted: str | None = None,
    seconds: float | None = None,
) -> dict[str, Any]:
    """The stored row of one judgement. `submitted` says who submitted it (default:
    "expiry" when `timed_out`, else "answer"); `seconds` replaces the protocol's own
    timing (a participant's round is timed from when it was first shown)."""
    if submitted is None:
        submitted = "expiry" if timed_out else "answer"
    # a mimic judgement (`mimic_result`) is a dict, read as a `ProtocolResult` is
    got: ProtocolResult | _MimicRow = (
        _MimicRow.model_validate(res) if isinstance(res, dict) else res
    )
    return {
        "participant": code,
        "position": rnd["position"],
        "judge": got.judge,
        "item": rnd["item"],
        "condition": rnd["condition"],
        "attention": int(rnd["attention"]),
        "estimate": got.estimate,
        "truth": got.truth,
        "log10_error": got.log10_error,
        "regret_bits": got.regret_bits,
        "honest_side": got.honest_side,
        "credence_a": got.credence_a,
        "trusted_honest": None if got.trusted_honest is None else int(got.trusted_honest),
        "seconds": got.seconds if seconds is None else seconds,
        "time_limit": time_limit,
        "timed_out": int(timed_out or submitted != "answer"),
        "submitted": submitted,
        "result_json": got.model_dump_json(),
    }


class _MimicRow(BaseModel):
    """A mimic judgement (`mimic_result`) read the way `result_row` reads a
    `ProtocolResult`; extra fields (the reveal) are kept in `result_json`."""

    model_config = ConfigDict(extra="allow")

    judge: str
    estimate: float
    truth: float
    log10_error: float
    regret_bits: float
    honest_side: Side | None = None
    credence_a: float | None = None
    trusted_honest: bool | None = None
    seconds: float = 0.0


#: Simulated operators of mimic items (`study simulate --operators`): what each forecasts
#: (the reveal's baselines, `debate.mimic_round`), under the judge name `sim:NAME`.
OPERATORS: dict[str, Callable[[MimicRound], float]] = {
    # the natural conditional given the objective: right under perfect control
    "synchronised": lambda rnd: rnd.synchronised,
    # the natural frequency, ignoring the fine-tuning
    "unconditioned": lambda rnd: rnd.unconditioned,
    # the training table's smoothed share among books where the objective was achieved
    "table": lambda rnd: table_forecast(rnd.public),
    # the natural world fine-tuned exactly as the mimic was: off only by what it did not learn
    "exact": lambda rnd: _exact(rnd),
}


def _exact(rnd: MimicRound) -> float:
    """The exact operator's forecast; every round played is rebuilt from its spec, so it is
    there (only a round stored before it was kept lacks it)."""
    if rnd.exact is None:
        raise StoreError("this mimic round was dealt before the exact operator existed")
    return rnd.exact


def check_operators(names: list[str]) -> list[str]:
    """Simulated operator names, checked (a one-line error for an unknown one)."""
    for n in names:
        if n not in OPERATORS:
            raise unknown("operator", n, tuple(OPERATORS))
    return names


def simulate_study(db: StudyDB, judges: list[str], operators: list[str] | None = None) -> int:
    """Every participant's rounds judged by each simulated judge (P(Z) items) and each
    simulated operator (mimic items; default all of `OPERATORS`); a judgement already
    stored is kept, so a simulation can be resumed. The number of new judgements."""
    made: list[Judge] = [sim_judge(j) for j in judges]
    ops = check_operators(list(OPERATORS) if operators is None else operators)
    spec = study_spec(db)
    kinds = {it["id"]: item_kind(it) for it in db.items()}
    mimics: dict[int, MimicRound] = {}
    n = 0
    for p in db.participants():
        code = p["code"]
        for op in ops:
            name = f"sim:{op}"
            done = db.done_positions(code, name)
            for rnd in db.rounds_of(code):
                if kinds[rnd["item"]] != "mimic" or rnd["position"] in done:
                    continue
                if rnd["item"] not in mimics:
                    mimics[rnd["item"]] = study_mimic(db, rnd["item"])
                m = mimics[rnd["item"]]
                made_row = mimic_result(m, name, OPERATORS[op](m), 0.0)
                db.add_result(result_row(code, rnd, made_row, time_limit=spec.time_limit))
                n += 1
    cache: dict[int, tuple[DealtRound, list[Turn] | None]] = {}
    for p in db.participants():
        code = p["code"]
        for judge in made:
            done = db.done_positions(code, judge.name)
            for rnd in db.rounds_of(code):
                if rnd["position"] in done or kinds[rnd["item"]] == "mimic":
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


# ---------------------------------------------------------------- a participant playing


class StudyItem(BaseModel):
    """A participant's round, ready to show: the dealt round (for the engine; its secret is
    never shown), what the condition shows of it, and where its clock stands."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    code: str
    position: int
    #: Rounds in the participant's sequence ("round `position` of `total`").
    total: int
    item: int
    condition: ProtocolName
    attention: bool
    dealt: DealtRound
    #: The recorded debate an offline judge reads (None for other conditions).
    transcript: list[Turn] | None
    #: The claims shown, by the side label shown (`debate.protocols.shown_claims`).
    claims: dict[Side, float] | None
    #: When the round was first shown (epoch seconds); the time limit runs from then.
    started_at: float
    time_limit: float | None
    #: Statement ids of the oracle queries already asked in this round, in order.
    queries: list[list[str]] = Field(default_factory=list)
    #: A live debate or consultation left part-way: the speeches already shown (stored as
    #: they were shown), and the last credence in A set after one. With any, the round
    #: comes back as it was left: these speeches, no new ones, and the answer.
    seen: list[Turn] = Field(default_factory=list)
    seen_credence: float | None = None

    @property
    def resumed(self) -> bool:
        """Whether the round is a live one coming back after the participant left it."""
        return bool(self.seen)

    @property
    def deadline(self) -> float | None:
        """When the round is submitted for the participant (epoch seconds), if ever."""
        return None if self.time_limit is None else self.started_at + self.time_limit


class StudyMimicItem(BaseModel):
    """A participant's mimic round, ready to show: the round (its public part is all the
    screen shows before the answer) and where its clock stands."""

    code: str
    position: int
    total: int
    item: int
    condition: str = MIMIC
    attention: bool = False
    mimic: MimicRound
    started_at: float
    time_limit: float | None

    @property
    def deadline(self) -> float | None:
        """When the round is submitted for the participant (epoch seconds), if ever."""
        return None if self.time_limit is None else self.started_at + self.time_limit


#: What a mimic round's time limit submits when nothing valid was typed (stored as
#: "expiry-default", so the report leaves it out): a plain stand-in, nobody's forecast.
MIMIC_EXPIRY_DEFAULT = 0.5


def participant_info(path: str | Path, code: str) -> dict[str, Any]:
    """What the game needs before a participant's first round: the study's title and
    texts, their code as stored, whether they consented and finished, their progress; a
    one-line StoreError for an unknown code."""
    with StudyDB(path) as db:
        p = db.participant(code)
        spec = study_spec(db)
        rounds = db.rounds_of(p["code"])
        done = db.done_positions(p["code"], HUMAN)
    return {
        "title": spec.title,
        "instructions": spec.instructions.strip(),
        "consent": spec.consent.strip(),
        "time_limit": spec.time_limit,
        "code": p["code"],
        "consented": p["consented_at"] is not None,
        "finished": p["finished_at"] is not None,
        "total": len(rounds),
        "done": len(done),
    }


def give_consent(path: str | Path, code: str) -> None:
    with StudyDB(path) as db:
        db.consent(code)


def next_item(path: str | Path, code: str) -> StudyItem | StudyMimicItem | None:
    """The participant's next round not yet judged (None: all are), re-dealt and checked
    against the study (`study_round`), its clock started the first time it is asked for.

    A round answered but never scored (the game stopped between the two) is scored from
    its stored answer first (`score_stored_answer`): an answer is never asked for twice."""
    with StudyDB(path) as db:
        spec = study_spec(db)
        rnd = db.next_round(code, HUMAN)
        while rnd is not None and db.answer_of(code, rnd["position"], HUMAN) is not None:
            _score_stored(db, code, rnd, "the round was left after the answer, before scoring")
            rnd = db.next_round(code, HUMAN)
        if rnd is None:
            return None
        total = len(db.rounds_of(code))
        if item_kind(db.item(rnd["item"])) == "mimic":
            mimic = study_mimic(db, rnd["item"])
            return StudyMimicItem(
                code=code,
                position=rnd["position"],
                total=total,
                item=rnd["item"],
                mimic=mimic,
                started_at=db.start_round(code, rnd["position"], HUMAN),
                time_limit=spec.time_limit,
            )
        dealt, turns = study_round(db, rnd["item"])
        condition = protocol_name(rnd["condition"])
        started = db.start_round(code, rnd["position"], HUMAN)
        queries = db.queries_of(code, rnd["position"], HUMAN)
        seen = db.seen_turns_of(code, rnd["position"], HUMAN)
    credences = [c for _, c in seen if c is not None]
    return StudyItem(
        code=code,
        position=rnd["position"],
        total=total,
        item=rnd["item"],
        condition=condition,
        attention=bool(rnd["attention"]),
        dealt=dealt,
        transcript=turns if condition == "offline" else None,
        claims=shown_claims(dealt, condition),
        started_at=started,
        time_limit=spec.time_limit,
        queries=queries,
        seen=[Turn.model_validate(t) for t, _ in seen],
        seen_credence=credences[-1] if credences else None,
    )


def record_turn(path: str | Path, item: StudyItem, turn: Turn) -> None:
    """A speech of a live round, stored before it is shown (a return shows it again)."""
    with StudyDB(path) as db:
        db.add_seen_turn(item.code, item.position, HUMAN, turn.index, turn.model_dump(mode="json"))


def record_credence(path: str | Path, item: StudyItem, after_turn: int, credence_a: float) -> None:
    with StudyDB(path) as db:
        db.set_seen_credence(item.code, item.position, HUMAN, after_turn, credence_a)


def record_query(path: str | Path, item: StudyItem, ids: list[str], p: float, at: float) -> None:
    with StudyDB(path) as db:
        db.add_query(item.code, item.position, HUMAN, ids, p, at)


def record_submission(
    path: str | Path, item: StudyItem, decision: Decision, submitted: str = "answer"
) -> None:
    """Store a participant's answer the moment it is given, before the protocol scores it
    (`record_answer` then stores the scored judgement; `score_stored_answer` scores it
    alone if the protocol fails)."""
    with StudyDB(path) as db:
        db.add_answer(item.code, item.position, HUMAN, decision.model_dump(mode="json"), submitted)


def _score_stored(
    db: StudyDB, code: str, rnd: dict[str, Any], error: str
) -> ProtocolResult | dict[str, Any]:
    """The stored answer of `rnd`, scored alone (`debate.protocols.score_decision`) and
    stored as its judgement, with `error` (why the protocol did not score it) recorded on
    the answer and in the judgement's errors."""
    ans = db.answer_of(code, rnd["position"], HUMAN)
    if ans is None:
        raise StoreError(f"round {rnd['position']} of {code} has no stored answer")
    decision = Decision.model_validate(ans["decision"])
    res: ProtocolResult | dict[str, Any]
    if item_kind(db.item(rnd["item"])) == "mimic":
        res = mimic_result(study_mimic(db, rnd["item"]), HUMAN, decision.estimate, 0.0, [error])
    else:
        dealt, _ = study_round(db, rnd["item"])
        seen = [Turn.model_validate(t) for t, _ in db.seen_turns_of(code, rnd["position"], HUMAN)]
        res = score_decision(dealt, rnd["condition"], HUMAN, decision, [error], turns=seen)
    db.answer_failed(code, rnd["position"], HUMAN, error)
    spec = study_spec(db)
    row = result_row(
        code,
        rnd,
        res,
        time_limit=spec.time_limit,
        submitted=ans["submitted"],
        seconds=_seconds(db, code, rnd["position"], ans["at"], spec.time_limit),
    )
    db.add_result(row)
    return res


def _seconds(
    db: StudyDB, code: str, position: int, at: float, time_limit: float | None
) -> float | None:
    q = "SELECT started_at FROM started WHERE participant = ? AND position = ? AND judge = ?"
    got = db.conn.execute(q, (code, position, HUMAN)).fetchone()
    return None if got is None else round_seconds(float(got[0]), at, time_limit)


def round_seconds(started_at: float, at: float, time_limit: float | None) -> float:
    """A participant's time on a round: from when it was first shown to `at`, capped at
    the time limit (a round left and resumed after its limit expired is submitted on
    return; the time away after the expiry is not time spent on it)."""
    spent = max(0.0, at - started_at)
    return spent if time_limit is None else min(spent, time_limit)


def score_stored_answer(path: str | Path, item: StudyItem, error: str) -> float:
    """The protocol failed after the participant answered: their stored answer is scored
    alone and stored as the round's judgement, the failure recorded with it; the estimate."""
    rnd = {
        "position": item.position,
        "item": item.item,
        "condition": item.condition,
        "attention": item.attention,
    }
    with StudyDB(path) as db:
        res = _score_stored(db, item.code, rnd, error)
    return float(res["estimate"] if isinstance(res, dict) else res.estimate)


def record_mimic_answer(
    path: str | Path, item: StudyMimicItem, estimate: float, submitted: str = "answer"
) -> float:
    """Store a participant's forecast of a mimic round: the answer first (as every answer,
    `StudyDB.add_answer`), then the scored judgement, timed from when the round was first
    shown; the log10 error."""
    rnd = {"position": item.position, "item": item.item, "condition": MIMIC, "attention": False}
    seconds = round_seconds(item.started_at, time.time(), item.time_limit)
    with StudyDB(path) as db:
        db.add_answer(item.code, item.position, HUMAN, {"estimate": estimate}, submitted)
        res = mimic_result(item.mimic, HUMAN, estimate, seconds)
        db.add_result(
            result_row(item.code, rnd, res, time_limit=item.time_limit, submitted=submitted)
        )
    return float(res["log10_error"])


def expiry_default(dealt: DealtRound) -> float:
    """The estimate submitted when the time runs out before a valid one was typed: the
    product of the shown single probabilities (the `i` mark on the answer bar), else 1/2.
    Such rows are stored with `submitted = "expiry-default"`, so a report can leave them
    out."""
    return dealt.independence if dealt.independence is not None else 0.5


def record_answer(
    path: str | Path, item: StudyItem, res: ProtocolResult, submitted: str = "answer"
) -> None:
    """Store a participant's judgement of `item` (refused if that round is judged already),
    timed from when the round was first shown."""
    rnd = {
        "position": item.position,
        "item": item.item,
        "condition": item.condition,
        "attention": item.attention,
    }
    res = res.model_copy(update={"judge": HUMAN})
    with StudyDB(path) as db:
        db.add_result(
            result_row(
                item.code,
                rnd,
                res,
                time_limit=item.time_limit,
                submitted=submitted,
                seconds=round_seconds(item.started_at, time.time(), item.time_limit),
            )
        )


def finish_participant(path: str | Path, code: str) -> str:
    """Mark the participant finished (all rounds judged); their completion code."""
    with StudyDB(path) as db:
        if db.next_round(code, HUMAN) is not None:
            raise StoreError("rounds are left to judge; the completion code comes after them")
        return db.finish(code)
