"""Studies: a fixed list of items judged under several protocols (conditions) by many
participants, counterbalanced, and the numbers a paper reports.

A study file (TOML, `StudySpec`) names the items (a game preset + round seed, or a world
file; optionally a fixed liar), the conditions (`debate.protocols.PROTOCOLS`), the design
and the texts participants read. `assignments` is the design: within-subject, participant
p judges item i under condition (i + p) mod k (a Latin square over items × conditions),
with the conditions in the order of a Williams design row (position and carry-over
balanced; `balanced_set` participants complete the design); between-subject, participant
p judges every item under condition p mod k. `deal_item` deals an item through the one
round pipeline (`debate.rounds.deal_round`, debate on), so the same file deals the same
rounds.

The statistics of the report (`summarize`) live here too: they are pure numbers from
stored rows (bootstrap intervals with a seeded generator, calibration with the Murphy
decomposition of the Brier score).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from debate.errors import DebateError
from debate.models import Side
from debate.protocols import PROTOCOLS, ProtocolName
from debate.rounds import PRESETS, RANDOM_LIAR, DealtRound, Secret, deal_round, preset, shown_round
from debate.rules import Rules, invalid, read_toml
from debate.scoring import trust_points
from latent.world import World

if TYPE_CHECKING:
    from debate.mimic_round import MimicRound
    from debate.protocol import Turn


#: The condition of a mimic item: it has no protocol (no sides, no debaters), so it is
#: judged the same way by everyone, outside the design of the P(Z) items.
MIMIC = "mimic"


class ItemSpec(BaseModel):
    """One item: a round every participant judges (under their condition for it).

    `kind = "pz"` (the default) is a P(Z) round of the game; `kind = "mimic"` a mimic
    round (`debate.mimic_round`: forecast a fine-tuned mimic's next book), dealt from
    `seed`, with the objective and question drawn from it unless `objective` and
    `question` fix them."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["pz", "mimic"] = "pz"
    #: A name for the report (default: item1, item2, … in file order).
    name: str | None = None
    #: Game preset whose world options deal the item (ignored with `world`).
    preset: str = "debate"
    #: The item's seed; the round is dealt from `round_seed(study seed, this)` (with the
    #: study's default seed 0, this itself: what `pzjudge debate --seed` takes).
    seed: int = Field(default=1, ge=0, lt=1_000_000)
    #: A world file (JSON), relative to the study file; the seed still deals the sides.
    world: str | None = None
    #: A fixed liar spec for this item (default: a built-in liar drawn per round).
    liar: str = RANDOM_LIAR
    #: A pre-recorded debate (`pzjudge debate --json` output, or one row of `pzjudge export
    #: --transcripts` as a JSON object), relative to the study file:
    #: the item is judged offline from it by everyone (outside the design, like a mimic
    #: item); its world is `world`, or `preset` dealt from the transcript's `world_seed`,
    #: checked against the transcript's `world_sha256`.
    transcript: str | None = None
    #: Attention items: P(Z), dealt as a world of one statement whose own probability, p,
    #: is shown with it (`plain_world`), so the answer is plain from that one statement.
    p: float | None = Field(default=None, gt=0, lt=1)
    #: Mimic items: what the mimic was fine-tuned on (`debate.mimic_round.OBJECTIVES`).
    objective: str | None = None
    #: Mimic items: which question is asked (an index into `debate.mimic_round.QUESTIONS`).
    question: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _known_preset(self) -> ItemSpec:
        if self.kind == "mimic":
            from debate.mimic_round import OBJECTIVES, QUESTIONS

            extra = (self.world, self.p, self.transcript)
            if any(x is not None for x in extra) or self.liar != RANDOM_LIAR:
                raise ValueError(
                    "a mimic item takes seed, objective, question; not world, liar, p, transcript"
                )
            if self.objective is not None and self.objective not in OBJECTIVES:
                raise ValueError(
                    f"unknown objective {self.objective!r}; choose one of {', '.join(OBJECTIVES)}"
                )
            if self.question is not None and self.question >= len(QUESTIONS):
                raise ValueError(f"question is 0..{len(QUESTIONS) - 1}")
            return self
        if self.objective is not None or self.question is not None:
            raise ValueError('objective and question are for mimic items (kind = "mimic")')
        if self.p is not None and (self.world is not None or self.transcript is not None):
            raise ValueError("an item with p is one plain statement; it takes no world")
        if self.transcript is not None and self.liar != RANDOM_LIAR:
            raise ValueError("a transcript item's liar is the transcript's; leave out liar")
        if self.world is None and self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; choose one of {', '.join(PRESETS)}")
        return self


class AttentionSpec(BaseModel):
    """Attention checks: items whose answer is plain, and the rule a participant must pass
    to be kept in the report."""

    model_config = ConfigDict(extra="forbid")

    items: list[ItemSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _plain_only(self) -> AttentionSpec:
        if any(it.kind != "pz" for it in self.items):
            raise ValueError("attention items are P(Z) rounds; a mimic item cannot be one")
        if any(it.p is None for it in self.items):
            raise ValueError(
                "an attention item is one statement with its probability shown: give it "
                "p = its P(Z) (e.g. p = 0.02) instead of a preset or world"
            )
        return self

    #: The protocol attention items are played under.
    condition: ProtocolName = "oracle"
    #: An attention item is passed when the estimate is within this many orders of P(Z)
    #: (0.1: within a factor 1.26 of the probability shown; reading it is exact).
    max_log10_error: float = Field(default=0.1, gt=0)
    #: Attention items a participant must pass (default: all).
    min_passed: int | None = Field(default=None, ge=0)


class StudySpec(BaseModel):
    """A study file."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    instructions: str = ""
    consent: str = ""
    #: Seeds everything dealt: each item's round (`round_seed`) and each participant's item
    #: order. 0 (the default) deals each item from its own seed unchanged.
    seed: int = Field(default=0, ge=0, le=1_000_000)
    conditions: list[ProtocolName] = Field(min_length=1)
    design: Literal["within", "between"] = "within"
    #: Seconds per round (None: no limit).
    time_limit: float | None = Field(default=None, gt=0)
    participants: int = Field(default=4, ge=1, le=10000)
    items: list[ItemSpec] = Field(min_length=1)
    attention: AttentionSpec = Field(default_factory=AttentionSpec)

    @model_validator(mode="after")
    def _distinct(self) -> StudySpec:
        if len(set(self.conditions)) != len(self.conditions):
            raise ValueError("a condition is named twice; list each once")
        if any(it.p is not None for it in self.items):
            raise ValueError("p is for attention items ([[attention.items]])")
        if any(it.transcript is not None for it in self.attention.items):
            raise ValueError("an attention item is plain (p); it takes no transcript")
        if any(it.transcript for it in self.items) and "offline" not in self.conditions:
            raise ValueError(
                'an item with a transcript is judged offline: add "offline" to conditions'
            )
        names = [it.name for it in self.items + self.attention.items if it.name]
        if len(set(names)) != len(names):
            raise ValueError("two items have the same name; names must be unique")
        return self

    def item_names(self) -> list[str]:
        """Names of the items then the attention items (given, or item<i> / check<i>)."""
        out = [it.name or f"item{i + 1}" for i, it in enumerate(self.items)]
        out += [it.name or f"check{i + 1}" for i, it in enumerate(self.attention.items)]
        return out


def load_study(path: str | Path) -> StudySpec:
    """A study file, validated; any problem is a one-line DebateError naming the field."""
    p = Path(path)
    data = read_toml(p, "study")
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as exc:
        unknown = "unknown key; see examples/study.toml for the keys"
        raise invalid(p, exc, extra_forbidden=unknown) from None
    base = p.parent
    for it in spec.items + spec.attention.items:
        if it.world is not None:
            wp = Path(it.world) if Path(it.world).is_absolute() else base / it.world
            if not wp.is_file():
                raise DebateError(f"{p}: item world {it.world!r} is not a file; check the path")
            it.world = str(wp)
        if it.transcript is not None:
            tp = Path(it.transcript) if Path(it.transcript).is_absolute() else base / it.transcript
            if not tp.is_file():
                raise DebateError(
                    f"{p}: item transcript {it.transcript!r} is not a file; check the path"
                )
            it.transcript = str(tp)
    return spec


def in_design(item: ItemSpec) -> bool:
    """Whether the item is counterbalanced over the conditions: a P(Z) item without a
    transcript (a mimic item is judged as `MIMIC`, a transcript item as offline, by all)."""
    return item.kind == "pz" and item.transcript is None


def fixed_condition(item: ItemSpec) -> str:
    """The condition of an item outside the design."""
    return MIMIC if item.kind == "mimic" else "offline"


#: The one statement of an attention item's world (`plain_world`).
PLAIN_TEXT = "A ticket drawn at random from this box wins a prize."


def plain_world(p: float) -> World:
    """An attention item's world: one statement, true with probability `p`, so P(Z) = p
    is the probability shown next to it (free singletons) and nothing else is needed."""
    from latent.world import parse_world

    block = {
        "kind": "discrete",
        "outcomes": {"win": p, "lose": 1.0 - p},
        "statements": [{"id": "s1", "text": PLAIN_TEXT, "outcomes": ["win"]}],
    }
    return parse_world({"blocks": [block]}, "attention item")


def item_world(item: ItemSpec) -> World | None:
    """The item's world: a world file, loaded, or an attention item's one plain statement
    (None: the world is generated from the seed)."""
    if item.p is not None:
        return plain_world(item.p)
    if item.world is None:
        return None
    from latent.world import load_world

    return load_world(item.world)


def round_seed(study_seed: int, item_seed: int) -> int:
    """The seed an item's round is dealt from: study seed × 1,000,000 + item seed (item
    seeds are below 1,000,000, so two study seeds never deal the same round). `pzjudge
    debate --seed` with it deals the same round headless."""
    return study_seed * 1_000_000 + item_seed


def deal_item(item: ItemSpec, world: World | None = None, *, seed: int | None = None) -> DealtRound:
    """The item's round, dealt with debate on from round seed `seed` (default: the item's
    own seed; a study passes `round_seed`): the same for every condition and every
    participant (a protocol only chooses what of it is shown). P(Z) items only."""
    if item.kind != "pz":
        raise DebateError("a mimic item is dealt by deal_mimic_item")
    settings = preset(item.preset, debate=True, debater_liar=item.liar)
    if world is None:
        world = item_world(item)
    return deal_round(settings, item.seed if seed is None else seed, world=world)


def transcript_item(item: ItemSpec) -> tuple[DealtRound, list[Turn]]:
    """A transcript item's round and its recorded turns: the world (the transcript's own,
    in an export row with --transcripts; else the item's world file, or its preset dealt
    from the transcript's `world_seed` with the transcript's liar), checked against the
    transcript's `world_sha256`; sides, claims, rules and turns from
    the transcript. A one-line DebateError for a transcript that is not one, or whose world
    is not the item's."""
    import hashlib
    import json

    from debate.protocol import Turn

    assert item.transcript is not None
    name = Path(item.transcript).name
    try:
        data = json.loads(Path(item.transcript).read_text())
        honest = data["honest_side"]
        liar_spec = data["debater_b" if honest == "a" else "debater_a"]
        settings = preset(item.preset, debate=True, debater_liar=liar_spec)
        if isinstance(data.get("world"), dict):
            # an export row (--transcripts) carries its world: that one, as stored
            from latent.world import parse_world

            text = data.get("world_text") or parse_world(data["world"], name).to_json()
            world = parse_world(json.loads(text), name)
        else:
            world = item_world(item) or deal_round(settings, int(data["world_seed"])).world
            text = world.to_json()
        got = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if got != data["world_sha256"]:
            raise DebateError(
                f"transcript {name}: its world_sha256 ({data['world_sha256'][:12]}…) is not the "
                f"world's found ({got[:12]}…); give the item the preset or world file it was "
                "played on, and the transcript unedited"
            )
        rules = settings.rules()
        if Rules.model_validate(data["rules"]) != rules:
            raise DebateError(
                f"transcript {name}: played under other rules than preset {item.preset}'s; "
                "record it with the item's preset and the default rules"
            )
        turns = [Turn.model_validate(t) for t in data["turns"]]
        dealt = dealt_from(
            world,
            rules,
            int(data["world_seed"]),
            {"a": float(data["claims"]["a"]), "b": float(data["claims"]["b"])},
            honest,
            {"a": data["debater_a"], "b": data["debater_b"]},
        )
    except DebateError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise DebateError(
            f"transcript {name}: not a pzjudge debate --json output nor an export row "
            f"with --transcripts ({type(exc).__name__}: {why})"
        ) from None
    return dealt, turns


def dealt_from(
    world: World,
    rules: Rules,
    seed: int,
    claims: dict[Side, float],
    honest_side: Side,
    specs: dict[str, str],
) -> DealtRound:
    """A round whose sides and claims were dealt elsewhere (a recorded debate), shown as
    `deal_round` shows one (`debate.rounds.shown_round`)."""
    from latent.pz import world_pz

    pz = world_pz(world)
    secret = Secret(
        truth=pz.pz,
        log10_truth=pz.log10_pz,
        log10_stderr=pz.log10_pz_stderr,
        honest_side=honest_side,
        specs=specs,
    )
    return shown_round(seed, world, rules, claims, secret)


def deal_mimic_item(item: ItemSpec, *, seed: int | None = None) -> MimicRound:
    """A mimic item's round from round seed `seed` (default: the item's own), exact and
    the same for every participant."""
    from debate.mimic_round import deal_mimic_round

    if item.kind != "mimic":
        raise DebateError("a P(Z) item is dealt by deal_item")
    return deal_mimic_round(item.seed if seed is None else seed, item.objective, item.question)


class Assignment(BaseModel):
    """One round of a participant: the item, the condition, the position (1-based)."""

    participant: int
    position: int
    item: int
    condition: str
    attention: bool = False


def assignments(spec: StudySpec, participant: int) -> list[Assignment]:
    """The rounds of participant `participant` (0-based), in the order they are played.

    Within-subject, three balances over every set of `balanced_set(spec)` participants
    (exact when the number of conditions k divides the number of P(Z) items n):

    - item × condition (list counterbalancing): the P(Z) item of rank i is judged under
      condition (i + p) mod k, so each item is in each condition equally often;
    - condition × position and first-order carry-over: the conditions of the P(Z) rounds
      follow row p of a Williams design (`williams`), repeated forwards and backwards
      (row, mirror, row, …: each block keeps both balances, a junction repeats a
      condition), so each condition is at each position equally often and follows each
      other condition equally often;
    - the items of a condition fill its positions in an order shuffled per participant
      from the study's seed (the same file and seed give the same order).

    Between-subject, every item is under condition p mod k, in the file's order rotated
    by p. Mimic items (condition `MIMIC`, outside the design) keep their places in the
    file's order, rotated among themselves by p; the attention items come after the first
    half of the rounds, under their condition."""
    k = len(spec.conditions)
    n = len(spec.items)
    if spec.design == "between":
        order = [(participant + j) % n for j in range(n)]
        out = [
            Assignment(
                participant=participant,
                position=0,
                item=i,
                condition=(
                    spec.conditions[participant % k]
                    if in_design(spec.items[i])
                    else fixed_condition(spec.items[i])
                ),
            )
            for i in order
        ]
    else:
        out = _within(spec, participant)
    checks = [
        Assignment(
            participant=participant,
            position=0,
            item=n + j,
            condition=spec.attention.condition,
            attention=True,
        )
        for j in range(len(spec.attention.items))
    ]
    half = (n + 1) // 2
    out = out[:half] + checks + out[half:]
    for pos, a in enumerate(out, start=1):
        a.position = pos
    return out


def _within(spec: StudySpec, participant: int) -> list[Assignment]:
    """The within-subject order of the study's items (no attention items); see
    `assignments`."""
    k = len(spec.conditions)
    pz = [i for i, it in enumerate(spec.items) if in_design(it)]
    fixed = [i for i, it in enumerate(spec.items) if not in_design(it)]
    # list counterbalancing: the items of each condition for this participant
    of: dict[int, list[int]] = {c: [] for c in range(k)}
    for rank, i in enumerate(pz):
        of[(rank + participant) % k].append(i)
    # the Williams row, forwards and backwards, long enough; then each condition keeps its
    # first len(of[c]) places (all of them when k divides the number of P(Z) items)
    rows = williams(k)
    row = rows[participant % len(rows)]
    blocks = -(-len(pz) // k)
    padded = [c for b in range(blocks) for c in (row if b % 2 == 0 else row[::-1])]
    left = {c: len(of[c]) for c in range(k)}
    seq = []
    for c in padded:
        if left[c]:
            seq.append(c)
            left[c] -= 1
    rng = np.random.default_rng([spec.seed, participant])
    queue = {c: [of[c][j] for j in rng.permutation(len(of[c]))] for c in range(k)}
    pz_order: list[tuple[int, str]] = [(queue[c].pop(0), spec.conditions[c]) for c in seq]
    fixed_order = [fixed[(participant + j) % len(fixed)] for j in range(len(fixed))]
    out: list[Assignment] = []
    for it in spec.items:
        if in_design(it):
            i, cond = pz_order.pop(0)
        else:
            i = fixed_order.pop(0)
            cond = fixed_condition(spec.items[i])
        out.append(Assignment(participant=participant, position=0, item=i, condition=cond))
    return out


def williams(k: int) -> list[list[int]]:
    """A Williams design over `k` conditions: rows (orders of 0..k-1) in which every
    condition is at every position equally often and every ordered pair of distinct
    conditions is adjacent (first, then second) equally often. k rows for even k (and k =
    1), 2k for odd k (the cyclic rows and their mirror images); Williams (1949)."""
    if k == 1:
        return [[0]]
    first = [0]
    for m in range(1, k):
        first.append((m + 1) // 2 if m % 2 else k - m // 2)
    rows = [[(c + r) % k for c in first] for r in range(k)]
    return rows if k % 2 == 0 else rows + [row[::-1] for row in rows]


def balanced_set(spec: StudySpec) -> int:
    """How many participants complete a balanced set of the design: within-subject, the
    rows of the Williams design over the conditions (k for even k, 2k for odd k; a multiple
    of k, so the item × condition lists complete too); between-subject, k."""
    k = len(spec.conditions)
    if spec.design == "between":
        return k
    return len(williams(k))


def design_warnings(spec: StudySpec) -> list[str]:
    """One line per way the study falls short of an exactly balanced design."""
    out = []
    s = balanced_set(spec)
    if spec.participants % s:
        out.append(
            f"{spec.participants} participants is not a multiple of {s}: the design is "
            f"balanced in sets of {s} participants (use {s}, {2 * s}, {3 * s}, …)"
        )
    k = len(spec.conditions)
    n = sum(1 for it in spec.items if in_design(it))
    if spec.design == "within" and n % k:
        out.append(
            f"{n} P(Z) items is not a multiple of the {k} conditions: each participant "
            "judges the conditions unequally often and positions balance only roughly"
        )
    return out


# ---------------------------------------------------------------- statistics of the report


def bootstrap_ci(
    values: list[float], *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the mean (None with fewer than 2 values); seeded,
    so a report is reproducible."""
    if len(values) < 2:
        return None
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


class Calibration(BaseModel):
    """Calibration of credences f against outcomes o ∈ {0, 1}.

    Brier = mean (f − o)²; Murphy: Brier = reliability − resolution + uncertainty +
    within-bin (the last term is 0 when every forecast equals its bin's mean; it is given so
    the identity is exact)."""

    n: int
    brier: float
    reliability: float
    resolution: float
    uncertainty: float
    within_bin: float
    ece: float
    #: Per non-empty bin: (lower edge, mean forecast, observed frequency, count).
    bins: list[tuple[float, float, float, int]]


def calibration(forecasts: list[float], outcomes: list[int], bins: int = 10) -> Calibration | None:
    """Reliability table, ECE (count-weighted |mean forecast − frequency|) and the Brier
    score with its Murphy decomposition, over `bins` equal-width bins (None: no data)."""
    if not forecasts:
        return None
    f = np.asarray(forecasts, dtype=float)
    o = np.asarray(outcomes, dtype=float)
    n = len(f)
    obar = float(o.mean())
    idx = np.minimum((f * bins).astype(int), bins - 1)
    rel = res = wb = ece = 0.0
    table: list[tuple[float, float, float, int]] = []
    for b in range(bins):
        m = idx == b
        nk = int(m.sum())
        if nk == 0:
            continue
        fk, ok = float(f[m].mean()), float(o[m].mean())
        rel += nk / n * (fk - ok) ** 2
        res += nk / n * (ok - obar) ** 2
        # E[(f-o)^2] in a bin = (fk-ok)^2 + var(f) - 2 cov(f, o) + var(o); var(o) is the
        # part resolution and uncertainty account for, the rest is the within-bin term.
        wb += nk / n * (float(f[m].var()) - 2 * float(((f[m] - fk) * (o[m] - ok)).mean()))
        ece += nk / n * abs(fk - ok)
        table.append((b / bins, fk, ok, nk))
    return Calibration(
        n=n,
        brier=float(((f - o) ** 2).mean()),
        reliability=rel,
        resolution=res,
        uncertainty=obar * (1 - obar),
        within_bin=wb,
        ece=ece,
        bins=table,
    )


def own_answer(row: dict[str, Any]) -> bool:
    """Whether a stored judgement is the judge's own answer: not the stand-in submitted when
    the time ran out before anything valid was typed (`submitted = "expiry-default"`), nor
    the stand-in of a judge that gave no answer (`judge_failed`). An estimate the participant
    typed and the time limit submitted (`"expiry"`) is their own."""
    return row.get("submitted", "answer") != "expiry-default" and not row.get("judge_failed")


class ConditionSummary(BaseModel):
    """One condition (under one judge): how often the honest side was trusted, and the
    log10 error of P(Z), each with a bootstrap 95% interval.

    Only the judge's own answers (`own_answer`) enter accuracy, log10 error and
    calibration; the rest are counted in `no_answer`. The log10 error is undefined when
    P(Z) = 0 (an estimate above 0 is infinitely many orders off): such rounds count in
    accuracy and calibration, not in the log10 error, and are counted in `zero_truth`."""

    judge: str
    condition: str
    #: Every stored judgement of the condition, answered or not.
    rounds: int
    #: Judgements that are not the judge's own answer (the time ran out with nothing
    #: valid typed, or the judge gave none): left out of every number below.
    no_answer: int
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    #: Mean over own answers whose P(Z) > 0 (None: there are none).
    mean_log10_error: float | None
    log10_error_ci: tuple[float, float] | None
    #: Own answers whose P(Z) is exactly 0 (not in the log10 error).
    zero_truth: int
    mean_seconds: float
    #: Judgements the time limit submitted (with the typed estimate, or with none).
    timed_out: int
    calibration: Calibration | None


def summarize(rows: list[dict[str, Any]], *, seed: int = 0) -> list[ConditionSummary]:
    """Per (judge, condition) summaries of result rows (keys: judge, condition,
    credence_a, honest_side, log10_error, truth, seconds, timed_out; `submitted` and
    `judge_failed` when known, see `own_answer`)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["judge"], r["condition"]), []).append(r)
    out = []
    order: dict[str, int] = {c: i for i, c in enumerate(PROTOCOLS)}
    for (judge, cond), every in sorted(
        groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))
    ):
        rs = [r for r in every if own_answer(r)]
        errs = [float(r["log10_error"]) for r in rs if r["truth"] > 0]
        cal_rows = [r for r in rs if r["credence_a"] is not None and r["honest_side"] is not None]
        # undecided (credence 1/2) counts half: abstaining cannot lift an accuracy
        trusted = [trust_points(r["credence_a"], r["honest_side"]) for r in cal_rows]
        out.append(
            ConditionSummary(
                judge=judge,
                condition=cond,
                rounds=len(every),
                no_answer=len(every) - len(rs),
                accuracy=sum(trusted) / len(trusted) if trusted else None,
                accuracy_ci=bootstrap_ci(trusted, seed=seed),
                mean_log10_error=sum(errs) / len(errs) if errs else None,
                log10_error_ci=bootstrap_ci(errs, seed=seed),
                zero_truth=sum(1 for r in rs if r["truth"] <= 0),
                mean_seconds=sum(float(r["seconds"] or 0.0) for r in every) / len(every),
                timed_out=sum(1 for r in every if r.get("timed_out")),
                calibration=calibration(
                    [float(r["credence_a"]) for r in cal_rows],
                    [int(r["honest_side"] == "a") for r in cal_rows],
                ),
            )
        )
    return out


def attention_failures(
    rows: list[dict[str, Any]], spec: StudySpec
) -> dict[tuple[str, str], tuple[int, int]]:
    """(judge, participant) → (passed, required) for those who failed the attention rule.

    A judge that plays only mimic items (a simulated operator) is never dealt an attention
    check (they are P(Z) rounds), so the rule does not apply to it."""
    need = spec.attention.min_passed
    if need is None:
        need = len(spec.attention.items)
    passed: dict[tuple[str, str], int] = {}
    for r in rows:
        key = (r["judge"], r["participant"])
        if r["condition"] == MIMIC:
            continue
        passed.setdefault(key, 0)
        # a stand-in estimate (no answer) never passes, however close it happens to be
        ok = own_answer(r) and r["log10_error"] <= spec.attention.max_log10_error
        if r["attention"] and ok:
            passed[key] += 1
    return {k: (v, need) for k, v in passed.items() if v < need}
