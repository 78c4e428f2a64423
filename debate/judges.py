"""Simulated judges: bounded algorithms that read what a human judge reads.

They see the statements, the verified transcript and both claims, and spend the same
oracle budget a person has. Each turns the evidence into an estimate of P(Z) in one fixed
way; its credence in A is a logistic function of how much closer A's claim is to that
estimate (in orders of magnitude). They make tournaments and studies possible without
people.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from debate.baselines import Baselines, baselines
from debate.errors import unknown
from debate.models import Side
from debate.protocol import Action, Decision, Judge, JudgeView, evidence_key
from debate.scoring import safe_log10
from debate.verify import Oracle


def credence_from_estimate(
    estimate: float, claims: Mapping[Side, float], lie_factor: float = 10.0
) -> float:
    """P(A honest) from distances in log10: a claim 1 order closer earns odds of 10:1.

    With no claims (the oracle protocol) there is no side: 1/2. With A's claim only (a
    consultant, honest with prior 1/2), P(the consultant is honest) from how far its claim
    is from the estimate (`debate.protocols.consultancy_credence`)."""
    if "a" not in claims or "b" not in claims:
        if "a" not in claims:
            return 0.5
        d1 = abs(safe_log10(claims["a"]) - safe_log10(estimate)) - 0.5 * math.log10(lie_factor)
        return 1.0 / (1.0 + 10.0 ** max(-30.0, min(30.0, d1)))
    da = abs(safe_log10(claims["a"]) - safe_log10(estimate))
    db = abs(safe_log10(claims["b"]) - safe_log10(estimate))
    x = max(-30.0, min(30.0, da - db))
    return 1.0 / (1.0 + 10.0**x)


def spend_budget(view: JudgeView, oracle: Oracle) -> None:
    """Check what the latest speech asserts without a number.

    A debater who cites two statements as the same claim in other words is tested by
    asking for their joint probability: paraphrases hold together, hidden negations do not.
    """
    if not view.transcript or oracle.left == 0:
        return
    last = view.transcript[-1]
    cited = [c.ids[0] for c in last.citations if c.kind == "statement" and c.status == "ok"]
    for x, y in zip(cited[::2], cited[1::2], strict=False):
        if evidence_key([x, y]) in view.evidence or oracle.left == 0:
            continue
        if oracle.check([x, y]) is None:
            oracle.prob([x, y])


class SimJudge:
    """A judge whose estimate is one baseline of the evidence."""

    honest = None

    def __init__(self, name: str, rule: Callable[[Baselines], float]) -> None:
        self.name = f"sim:{name}"
        self.rule = rule

    def estimate(self, view: JudgeView, oracle: Oracle) -> float:
        evidence = dict(view.evidence)
        for ids, p, _ in oracle.log:
            evidence[evidence_key(ids)] = p
        ids = [s.id for s in view.statements]
        return min(1.0, max(0.0, self.rule(baselines(ids, evidence))))

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        spend_budget(view, oracle)
        cred = credence_from_estimate(
            self.estimate(view, oracle), view.claims, view.rules.lie_factor
        )
        last_round = bool(view.transcript) and view.transcript[-1].round >= view.rules.rounds
        action: Action = "more" if last_round and 0.4 < cred < 0.6 else "continue"
        return cred, action

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        est = self.estimate(view, oracle)
        ids = [s.id for s in view.statements]
        bl = baselines(ids, dict(view.evidence))
        return Decision(
            estimate=est,
            interval=(bl.lower, bl.upper),
            credence_a=credence_from_estimate(est, view.claims, view.rules.lie_factor),
        )


class TrustJudge:
    """Believes one side completely: the floor and ceiling of what debate can do.

    When its side makes no claim (oracle; consultancy for trust-b) it says the product of
    the shown singletons, the naive judge's answer, and credence 1/2."""

    honest = None

    def __init__(self, side: str) -> None:
        self.side = side
        self.name = f"sim:trust-{side}"

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        return (0.99 if self.side == "a" else 0.01), "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        if self.side not in view.claims:
            ids = [s.id for s in view.statements]
            est = baselines(ids, dict(view.evidence)).independence
            return Decision(estimate=min(1.0, max(0.0, est)), credence_a=0.5)
        return Decision(
            estimate=view.claims[self.side],
            credence_a=0.99 if self.side == "a" else 0.01,
        )


def _geometric_middle(bl: Baselines) -> float:
    """Middle of the allowed range in log terms; a zero lower end is replaced by the
    independence value (clipped into the range), the judge's natural floor."""
    lo = bl.lower if bl.lower > 0 else min(max(bl.independence, 1e-300), bl.upper)
    return math.sqrt(lo * bl.upper) if bl.upper > 0 else 0.0


SIM_JUDGES: dict[str, Callable[[], Judge]] = {
    "independence": lambda: SimJudge("independence", lambda bl: bl.independence),
    "maxent": lambda: SimJudge(
        "maxent", lambda bl: bl.maxent if bl.maxent is not None else bl.independence
    ),
    "bounds": lambda: SimJudge("bounds", _geometric_middle),
    "trust-a": lambda: TrustJudge("a"),
    "trust-b": lambda: TrustJudge("b"),
}


def sim_judge(name: str) -> Judge:
    """A simulated judge by name."""
    if name not in SIM_JUDGES:
        raise unknown("judge", name, SIM_JUDGES, " or llm:MODEL")
    return SIM_JUDGES[name]()
