"""Auditing the instrument: can a judge tell the honest side without judging?

`run_audit` deals many rounds the way the game deals them, plays each headlessly, and asks
of every simple heuristic ("answer the lower claim", "trust side A", "trust the side that
cites more", "trust the side whose cited statements say 'not'", …) how often it picks the
honest side. A heuristic that does better or worse than a coin tells the honest side
without any judging: a defect of the instrument. Each rate comes with a 95% Wilson
interval, and a heuristic is flagged when its interval excludes 50%. The simulated judges'
accuracies are printed beside them as a reference (a judge is *meant* to beat a coin).

With two dozen heuristics about one in twenty will be flagged by chance on a sound
instrument when looked at one at a time: the keyword heuristics, which try every word, are
therefore judged with a Bonferroni-corrected exact binomial test instead, and the report
ends with a family-wise verdict (Holm over every test of every group), which is what says
whether the instrument has a tell.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor

from pydantic import BaseModel, Field
from scipy.stats import binomtest

from debate import rounds
from debate.baselines import baselines
from debate.engine import DebateResult, run_debate
from debate.errors import DebateError
from debate.models import Side
from debate.protocol import Turn, evidence_key
from debate.rounds import HONEST, RANDOM_LIAR, DealtRound, SessionSettings
from debate.specs import make_debater, make_judge
from latent.world import World

#: Simulated judges whose accuracy is reported beside the heuristics.
DEFAULT_JUDGES = ("maxent", "independence", "bounds")
#: z for a two-sided 95% interval.
Z95 = 1.959963984540054
#: A word must decide at least this many rounds to be tested (fewer cannot reach p < 0.05).
MIN_WORD_ROUNDS = 10
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


class WorldOptions(BaseModel):
    """The generator's options of the audited rounds (a preset resolves to these)."""

    statements: int = Field(default=60, ge=1)
    families: int = Field(default=3, ge=0)
    counterexamples: int = Field(default=2, ge=0)
    flips: int = Field(default=0, ge=0)


class AuditSpec(BaseModel):
    """What is audited: the worlds, the debaters, the judges, how many rounds."""

    label: str = "custom"
    world: WorldOptions = Field(default_factory=WorldOptions)
    honest: str = HONEST
    #: A debater spec, or `random-liar` for a built-in liar drawn per round as the game does.
    liar: str = RANDOM_LIAR
    judges: list[str] = Field(default_factory=lambda: list(DEFAULT_JUDGES))
    rounds: int = Field(default=100, ge=1)
    seed: int = Field(default=0, ge=0)
    #: A rules file (TOML); None: the defaults, as in the game.
    rules_file: str | None = None
    #: Deal the rounds without playing them: only what the judge sees before the debate
    #: (the claims, the product, the sides) is audited. About 100 times faster, so enough
    #: rounds to see a one-point tell in where the claims sit (docs/validity.md).
    claims_only: bool = False

    def settings(self) -> SessionSettings:
        """The game's settings that deal these rounds (a debate session)."""
        return SessionSettings(
            preset=self.label,
            **self.world.model_dump(),
            debate=True,
            debater_honest=self.honest,
            debater_liar=self.liar,
            rules_file=self.rules_file,
        )


Dealer = Callable[[AuditSpec, int], DealtRound]


def round_seed(spec: AuditSpec, i: int) -> int:
    """The seed of audited round i (distinct across rounds and base seeds): the seed
    `pzjudge debate --seed` takes to deal the same round."""
    return spec.seed * 1_000_000 + i


def deal_round(spec: AuditSpec, i: int) -> DealtRound:
    """Round i dealt by the round pipeline, exactly as the game deals a round of a debate
    session with these settings (`debate.rounds.deal_round`)."""
    return rounds.deal_round(spec.settings(), round_seed(spec, i))


class SideFacts(BaseModel):
    """What one side did in a round, as a judge could see it."""

    claim: float
    chars: int
    citations: int
    verified: int
    seconds: float
    #: Words of the statements this side cited (by statement or inside a probability).
    cited_words: list[str]
    #: Words of this side's speeches.
    speech_words: list[str]


class RoundFacts(BaseModel):
    """One audited round: what was visible, who was honest, what each judge concluded."""

    index: int
    seed: int
    liar: str
    honest_side: Side
    truth: float
    product: float
    #: Maximum entropy of the free evidence (the shown single probabilities).
    maxent_free: float | None
    first_speaker: Side | None
    sides: dict[Side, SideFacts]
    #: Each judge's final credence that A is honest.
    credence_a: dict[str, float]


def _words(texts: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for t in texts:
        out.update(_WORD.findall(t.lower()))
    return sorted(out)


def _side_facts(world: World, turns: list[Turn], side: Side, claim: float) -> SideFacts:
    mine = [t for t in turns if t.speaker == side]
    cited: set[str] = set()
    for t in mine:
        for c in t.citations:
            if c.status == "ok":
                cited.update(i for i in c.ids if i in world.ids)
    return SideFacts(
        claim=claim,
        chars=sum(len(t.text) for t in mine),
        citations=sum(len(t.citations) for t in mine),
        verified=sum(1 for t in mine for c in t.citations if c.status == "ok"),
        seconds=sum(t.seconds for t in mine),
        cited_words=_words(world.statement(i).text for i in sorted(cited)),
        speech_words=_words(t.text for t in mine),
    )


def _first_speaker(turns: list[Turn]) -> Side | None:
    """Who speaks first after the simultaneous openings (None if nobody does)."""
    later = [t for t in turns if t.phase != "opening"]
    return later[0].speaker if later else None


def play_round(spec: AuditSpec, i: int, dealer: Dealer = deal_round) -> RoundFacts:
    """Deal round i and play it once per judge (the same debater objects, so the built-ins'
    analysis of the world is done once); the facts come from the first judge's debate."""
    d = dealer(spec, i)
    honest = d.secret.honest_side
    claims = d.claims
    if claims is None or honest is None:
        raise DebateError("the audit needs debate rounds; this one was dealt without a debate")
    sides: tuple[Side, Side] = ("a", "b")
    results: dict[str, DebateResult] = {}
    if not spec.claims_only:
        debaters = rounds.debaters_of(d)
        for name in spec.judges:
            judge = make_judge(name)
            results[name] = asyncio.run(run_debate(d, debaters["a"], debaters["b"], judge))
    turns = results[spec.judges[0]].turns if results else []
    free = {evidence_key([sid]): p for sid, p in _singles(d.world).items()}
    bl = baselines(d.world.ids, free)
    liar_side: Side = "b" if honest == "a" else "a"
    return RoundFacts(
        index=i,
        seed=d.seed,
        liar=d.secret.specs[liar_side],
        honest_side=honest,
        truth=d.secret.truth,
        product=bl.independence,
        maxent_free=bl.maxent,
        first_speaker=_first_speaker(turns),
        sides={s: _side_facts(d.world, turns, s, claims[s]) for s in sides},
        credence_a={n: r.judgement.credence_a for n, r in results.items()},
    )


def _singles(world: World) -> dict[str, float]:
    from latent.nway import nway

    return {sid: nway(world, [sid]).p for sid in world.ids}


# --- statistics ---------------------------------------------------------------------------


def wilson(k: int, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion k/n ((0, 1) when n = 0)."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + Z95**2 / n
    mid = (p + Z95**2 / (2 * n)) / den
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / den
    # at k = 0 or k = n one root is exactly 0 or 1; rounding must not move it inside
    lo = 0.0 if k == 0 else max(0.0, mid - half)
    hi = 1.0 if k == n else min(1.0, mid + half)
    return lo, hi


class Tally(BaseModel):
    """How often one heuristic picked the honest side, among the rounds it decided."""

    name: str
    honest: int
    decided: int
    #: Rounds where the heuristic could not choose (equal values): left out of the rate.
    ties: int
    rate: float | None
    low: float
    high: float
    #: The 95% interval excludes 50%: the heuristic tells the honest side.
    flagged: bool
    #: A judge's accuracy, shown for reference (never flagged: a judge should beat a coin).
    reference: bool = False
    note: str = ""
    #: Exact two-sided binomial p-value of `honest` out of `decided` against a coin.
    p_value: float | None = None


def tally(name: str, picks: Sequence[bool | None], *, reference: bool = False) -> Tally:
    """Summarise picks (True: the honest side, False: the liar, None: no choice)."""
    k = sum(1 for p in picks if p is True)
    n = sum(1 for p in picks if p is not None)
    lo, hi = wilson(k, n)
    return Tally(
        name=name,
        honest=k,
        decided=n,
        ties=len(picks) - n,
        rate=k / n if n else None,
        low=lo,
        high=hi,
        flagged=not reference and n > 0 and not lo <= 0.5 <= hi,
        reference=reference,
        p_value=float(binomtest(k, n, 0.5).pvalue) if n else None,
    )


def holm(tests: Sequence[tuple[str, float]], alpha: float = 0.05) -> list[str]:
    """The names of the tests rejected by Holm's step-down procedure at family-wise level
    `alpha`: sorted by p-value, the i-th smallest (from 0) is rejected while
    p <= alpha / (m - i). It controls the chance of any false flag among all m tests,
    whatever their dependence, which a row-by-row 95% interval does not."""
    m = len(tests)
    out = []
    for i, (name, p) in enumerate(sorted(tests, key=lambda t: t[1])):
        if p > alpha / (m - i):
            break
        out.append(name)
    return out


# --- heuristics ---------------------------------------------------------------------------

Pick = Callable[[RoundFacts], Side | None]


def _log(x: float) -> float:
    return math.log10(x) if x > 0 else -400.0


def _by(value: Callable[[RoundFacts, Side], float], larger: bool) -> Pick:
    """The side with the larger (or smaller) value; None on a tie."""

    def pick(r: RoundFacts) -> Side | None:
        a, b = value(r, "a"), value(r, "b")
        if a == b:
            return None
        return "a" if (a > b) == larger else "b"

    return pick


def _distance(target: Callable[[RoundFacts], float | None]) -> Callable[[RoundFacts, Side], float]:
    def dist(r: RoundFacts, s: Side) -> float:
        t = target(r)
        return math.inf if t is None else abs(_log(r.sides[s].claim) - _log(t))

    return dist


HEURISTICS: dict[str, Pick] = {
    "lower claim": _by(lambda r, s: r.sides[s].claim, larger=False),
    "higher claim": _by(lambda r, s: r.sides[s].claim, larger=True),
    "claim nearer the product": _by(_distance(lambda r: r.product), larger=False),
    "claim farther from the product": _by(_distance(lambda r: r.product), larger=True),
    "claim nearer maxent (free evidence)": _by(_distance(lambda r: r.maxent_free), larger=False),
    "claim farther from maxent (free)": _by(_distance(lambda r: r.maxent_free), larger=True),
    "side A": lambda r: "a",
}
#: What a debate adds: heuristics that need the speeches (absent from a claims-only audit).
DEBATE_HEURISTICS: dict[str, Pick] = {
    "side speaking first": lambda r: r.first_speaker,
    "longer speeches": _by(lambda r, s: r.sides[s].chars, larger=True),
    "more citations": _by(lambda r, s: r.sides[s].citations, larger=True),
    "more verified (✓) citations": _by(lambda r, s: r.sides[s].verified, larger=True),
    "more speech compute time": _by(lambda r, s: r.sides[s].seconds, larger=True),
    "less speech compute time": _by(lambda r, s: r.sides[s].seconds, larger=False),
}


def _honest(pick: Side | None, r: RoundFacts) -> bool | None:
    return None if pick is None else pick == r.honest_side


class KeywordTest(BaseModel):
    """The worst single word of one kind ("the side whose cited statements contain it")."""

    kind: str
    words_tested: int
    worst: Tally | None
    #: Exact two-sided binomial p-value of the worst word, and Bonferroni over words_tested.
    p_value: float | None
    p_adjusted: float | None
    flagged: bool


def keyword_test(kind: str, rounds: Sequence[RoundFacts], field: str) -> KeywordTest:
    """Every word as a heuristic: pick the side whose `field` words contain it and the
    other's do not. Reports the word with the smallest exact p-value, flagged when that
    p-value times the number of words tested (Bonferroni) is below 0.05."""
    counts: dict[str, list[int]] = {}
    for r in rounds:
        wa = set(getattr(r.sides["a"], field))
        wb = set(getattr(r.sides["b"], field))
        for w in wa ^ wb:
            side: Side = "a" if w in wa else "b"
            c = counts.setdefault(w, [0, 0])
            c[0] += side == r.honest_side
            c[1] += 1
    tested = {w: c for w, c in counts.items() if c[1] >= MIN_WORD_ROUNDS}
    if not tested:
        return KeywordTest(
            kind=kind, words_tested=0, worst=None, p_value=None, p_adjusted=None, flagged=False
        )
    pv = {w: float(binomtest(k, n, 0.5).pvalue) for w, (k, n) in tested.items()}
    worst = min(pv, key=lambda w: (pv[w], w))
    k, n = tested[worst]
    adj = min(1.0, pv[worst] * len(tested))
    t = tally(f"{kind}: {worst!r}", [True] * k + [False] * (n - k))
    t.flagged = bool(adj < 0.05)
    t.note = f"worst of {len(tested)} words; p = {pv[worst]:.2g}, Bonferroni {adj:.2g}"
    return KeywordTest(
        kind=kind,
        words_tested=len(tested),
        worst=t,
        p_value=pv[worst],
        p_adjusted=adj,
        flagged=bool(adj < 0.05),
    )


class GroupReport(BaseModel):
    """The heuristics over one group of rounds (all of them, or one liar's)."""

    group: str
    rounds: int
    heuristics: list[Tally]
    keywords: list[KeywordTest]
    judges: list[Tally]

    @property
    def flagged(self) -> list[str]:
        out = [t.name for t in self.heuristics if t.flagged]
        return out + [k.worst.name for k in self.keywords if k.flagged and k.worst]


class AuditReport(BaseModel):
    """The whole audit: the spec, and a report for all rounds and for each liar drawn."""

    spec: AuditSpec
    groups: list[GroupReport]
    #: Every interval that excludes 50%, one at a time (about 1 in 20 by chance).
    flagged: list[str]
    #: What still tells after Holm's correction over every test of the report (each
    #: heuristic of each group, and each group's keyword tests as their Bonferroni p-value).
    familywise: list[str] = Field(default_factory=list)
    tests: int = 0


def group_report(
    group: str, rounds: Sequence[RoundFacts], judges: Sequence[str], *, debate: bool = True
) -> GroupReport:
    """Every heuristic, the keyword tests and the judges' accuracy over `rounds` (without
    `debate`, only the heuristics of what is seen before the debate)."""
    rows = HEURISTICS | DEBATE_HEURISTICS if debate else HEURISTICS
    heur = [tally(n, [_honest(f(r), r) for r in rounds]) for n, f in rows.items()]
    kw = (
        [
            keyword_test("word in cited statements", rounds, "cited_words"),
            keyword_test("word in speeches", rounds, "speech_words"),
        ]
        if debate
        else []
    )
    jt = []
    for j in judges:
        picks: list[bool | None] = []
        for r in rounds:
            c = r.credence_a[j]
            picks.append(None if c == 0.5 else (c > 0.5) == (r.honest_side == "a"))
        jt.append(tally(f"judge {j}", picks, reference=True))
    return GroupReport(group=group, rounds=len(rounds), heuristics=heur, keywords=kw, judges=jt)


def _play_chunk(args: tuple[AuditSpec, list[int], Dealer]) -> list[RoundFacts]:
    spec, idx, dealer = args
    return [play_round(spec, i, dealer) for i in idx]


def play_rounds(
    spec: AuditSpec,
    *,
    workers: int = 1,
    dealer: Dealer = deal_round,
    on_progress: Callable[[int, list[RoundFacts]], None] | None = None,
) -> list[RoundFacts]:
    """Play spec.rounds rounds, in `workers` processes when more than one (a dealer must
    then be a module-level function). Same spec, same rounds, whatever the workers.
    `on_progress(done, new)` hears of each batch of rounds as it is played, in order (so a
    long audit that is stopped keeps a prefix of its rounds)."""
    for s in {spec.honest, spec.liar} - {RANDOM_LIAR}:
        make_debater(s)  # a typo fails before any round is played
    spec.settings().rules()  # and so does a bad rules file
    for j in spec.judges:
        make_judge(j)
    if not spec.judges and not spec.claims_only:
        raise DebateError("name at least one judge for the audit (e.g. --judge maxent)")
    idx = list(range(spec.rounds))
    facts: list[RoundFacts] = []
    if workers <= 1:
        for i in idx:
            facts.append(play_round(spec, i, dealer))
            if on_progress:
                on_progress(len(facts), facts[-1:])
        return facts
    chunks = [idx[k : k + 10] for k in range(0, len(idx), 10)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for part in pool.map(_play_chunk, [(spec, c, dealer) for c in chunks]):
            facts += part
            if on_progress:
                on_progress(len(facts), part)
    return facts


def report(spec: AuditSpec, facts: Sequence[RoundFacts]) -> AuditReport:
    """The audit report: all rounds, then each liar that was drawn."""
    judges = [] if spec.claims_only else spec.judges
    debate = not spec.claims_only
    groups = [group_report("all rounds", facts, judges, debate=debate)]
    for liar in sorted({r.liar for r in facts}):
        mine = [r for r in facts if r.liar == liar]
        groups.append(group_report(liar, mine, judges, debate=debate))
    flagged = [f"{g.group}: {name}" for g in groups for name in g.flagged]
    tests = [
        (f"{g.group}: {t.name}", t.p_value)
        for g in groups
        for t in g.heuristics
        if t.p_value is not None
    ]
    tests += [
        (f"{g.group}: {k.worst.name}", k.p_adjusted)
        for g in groups
        for k in g.keywords
        if k.worst is not None and k.p_adjusted is not None
    ]
    return AuditReport(
        spec=spec, groups=groups, flagged=flagged, familywise=holm(tests), tests=len(tests)
    )


def run_audit(spec: AuditSpec, *, workers: int = 1, dealer: Dealer = deal_round) -> AuditReport:
    """Play the rounds and report every heuristic (see the module docstring)."""
    return report(spec, play_rounds(spec, workers=workers, dealer=dealer))


def render(rep: AuditReport) -> str:
    """A plain-text table per group; flagged lines are marked with '!'."""
    s = rep.spec
    w = s.world
    out = [
        f"Audit of {s.label}: {s.rounds} rounds, seed {s.seed}; {w.statements} statements, "
        f"{w.families} families, {w.counterexamples} counterexamples, {w.flips} flips; "
        f"{s.honest} against {s.liar}"
        + ("; claims only (dealt, not played)" if s.claims_only else ""),
        "Share of rounds in which each heuristic picks the honest side (95% Wilson interval);",
        "'!' marks an interval that excludes 50%: the heuristic tells who is honest.",
    ]

    def line(t: Tally, mark: str) -> str:
        rate = "   -  " if t.rate is None else f"{t.rate:6.1%}"
        return (
            f"{mark} {t.name[:44]:44s} {rate}  [{t.low:5.1%}, {t.high:5.1%}]  "
            f"n={t.decided:<5d} ties={t.ties}" + (f"  ({t.note})" if t.note else "")
        )

    for g in rep.groups:
        out += ["", f"== {g.group} ({g.rounds} rounds)"]
        out += [line(t, "!" if t.flagged else " ") for t in g.heuristics]
        for k in g.keywords:
            if k.worst is None:
                out.append(f"  {k.kind}: no word decided {MIN_WORD_ROUNDS} rounds")
            else:
                out.append(line(k.worst, "!" if k.flagged else " "))
        out += [line(t, "=") for t in g.judges]
    out.append("")
    if rep.flagged:
        out.append(f"FLAGGED ({len(rep.flagged)}): " + "; ".join(rep.flagged))
    else:
        out.append("No heuristic's interval excludes 50%.")
    n_tests = sum(len(g.heuristics) for g in rep.groups)
    out.append(
        f"({n_tests} heuristic intervals: on a sound instrument about {0.05 * n_tests:.1f} "
        "would exclude 50% by chance; keywords are Bonferroni-corrected.)"
    )
    out.append(familywise_line(rep))
    return "\n".join(out)


def familywise_line(rep: AuditReport) -> str:
    """The verdict corrected for looking at every row: what still tells after Holm."""
    head = f"Family-wise (Holm over all {rep.tests} tests, 5%): "
    if rep.familywise:
        return head + f"TELLS ({len(rep.familywise)}): " + "; ".join(rep.familywise)
    return head + "no heuristic tells the honest side."


def markdown(rep: AuditReport) -> str:
    """The report as one Markdown table: a row per heuristic, a column per group (all
    rounds, then each liar); a flagged cell is bold with '!'."""

    def cell(t: Tally | None, flagged: bool) -> str:
        if t is None or t.rate is None:
            return "–"
        text = f"{t.rate:.1%} [{t.low:.1%}, {t.high:.1%}]"
        return f"**{text} !**" if flagged else text

    groups = rep.groups
    head = "| heuristic | " + " | ".join(f"{g.group} ({g.rounds})" for g in groups) + " |"
    out = [head, "|---|" + "---|" * len(groups)]
    for k, t in enumerate(groups[0].heuristics):
        cells = [cell(g.heuristics[k], g.heuristics[k].flagged) for g in groups]
        out.append(f"| {t.name} | " + " | ".join(cells) + " |")
    for k, kw in enumerate(groups[0].keywords):
        cells = []
        for g in groups:
            w = g.keywords[k]
            word = w.worst.name.split(": ", 1)[1] if w.worst else ""
            note = f" {word}, Bonferroni p = {w.p_adjusted:.2g}" if w.worst else ""
            cells.append(cell(w.worst, w.flagged) + note)
        out.append(f"| {kw.kind} (worst word) | " + " | ".join(cells) + " |")
    for k, t in enumerate(groups[0].judges):
        cells = [cell(g.judges[k], False) for g in groups]
        out.append(f"| *{t.name} (reference)* | " + " | ".join(cells) + " |")
    out += ["", familywise_line(rep)]
    return "\n".join(out)
