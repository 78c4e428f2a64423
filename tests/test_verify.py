"""Verification of citations: every kind of bad citation, and true values from the world."""

from __future__ import annotations

from pathlib import Path

import pytest

from debate.errors import DebateError
from debate.models import Argument, ProbCitation, StatementCitation
from debate.rules import Rules
from debate.verify import Oracle, unverified_numbers, verify_argument
from latent.world import load_world

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return load_world(EXAMPLES / "d4.json")


def _one(world, cite, rules=None):  # type: ignore[no-untyped-def]
    rules = rules or Rules()
    speech, _ = verify_argument(Argument(text="x", citations=[cite]), world, rules, 100)
    return speech.citations[0]


def test_true_pair_is_verified_with_its_true_value(world) -> None:  # type: ignore[no-untyped-def]
    c = _one(world, ProbCitation(ids=["A", "B"], claimed=0.25))
    assert (c.status, c.verified, c.true_value) == ("ok", True, pytest.approx(0.25, abs=1e-15))


def test_false_claim_is_marked_false_with_truth(world) -> None:  # type: ignore[no-untyped-def]
    c = _one(world, ProbCitation(ids=["A", "B", "C"], claimed=0.125))
    assert c.status == "false" and c.verified is False
    assert c.true_value == 0.0  # the D4 triple is impossible: no outcome is in all three


def test_claim_within_rounding_tolerance_is_verified(world) -> None:  # type: ignore[no-untyped-def]
    assert _one(world, ProbCitation(ids=["A"], claimed=0.501)).verified is True
    assert _one(world, ProbCitation(ids=["A"], claimed=0.52)).verified is False


def test_no_claim_still_carries_the_true_value(world) -> None:  # type: ignore[no-untyped-def]
    c = _one(world, ProbCitation(ids=["A", "C"]))
    assert c.verified is None and c.true_value == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("cite", "reason"),
    [
        (StatementCitation(id="nope"), "unknown statement id 'nope'"),
        (ProbCitation(ids=["A", "zz"], claimed=0.1), "unknown statement id 'zz'"),
        (ProbCitation(ids=["A", "A"]), "named twice"),
        (ProbCitation(ids=["A", "B", "C", "h1"]), "order 4 is above the limit 3"),
        (ProbCitation(ids=["A"], claimed=1.5), "not a probability"),
        (ProbCitation(ids=["A"], claimed=float("nan")), "not a probability"),
    ],
)
def test_bad_citations_are_rejected_with_reason(world, cite, reason) -> None:  # type: ignore[no-untyped-def]
    c = _one(world, cite)
    assert c.status == "rejected"
    assert reason in (c.reason or "")
    assert c.true_value is None


def test_limits_cut_text_and_drop_citations(world) -> None:  # type: ignore[no-untyped-def]
    rules = Rules(char_limit=60, citations_per_turn=2)
    arg = Argument(
        text="y" * 100,
        citations=[ProbCitation(ids=["A"]), ProbCitation(ids=["B"]), ProbCitation(ids=["C"])],
    )
    speech, used = verify_argument(arg, world, rules, budget_left=100)
    assert speech.truncated and len(speech.text) == 60
    assert [c.status for c in speech.citations] == ["ok", "ok", "dropped"]
    assert "per speech" in (speech.citations[2].reason or "")
    assert used == 2
    speech, used = verify_argument(arg, world, Rules(), budget_left=1)
    assert [c.status for c in speech.citations] == ["ok", "dropped", "dropped"]
    assert "budget" in (speech.citations[1].reason or "")
    assert used == 1


def test_numbers_in_text_without_citation_are_unverified(world) -> None:  # type: ignore[no-untyped-def]
    arg = Argument(
        text="P(A and B) is 0.25 but the triple is 12% and Z is 1e-5, or 1 in 50, with 3 dice.",
        citations=[ProbCitation(ids=["A", "B"], claimed=0.25)],
    )
    speech, _ = verify_argument(arg, world, Rules(), 100)
    assert speech.unverified_numbers == ["12%", "1e-5", "1 in 50"]
    assert unverified_numbers("10^-12 and 0.5", [0.5], Rules()) == ["10^-12"]


def test_oracle_budget_and_cache(world) -> None:  # type: ignore[no-untyped-def]
    o = Oracle(world, max_order=2, budget=2)
    assert o.prob(["A", "B"]) == pytest.approx(0.25)
    assert o.prob(["B", "A"]) == pytest.approx(0.25)  # same set: cached, free
    assert o.used == 1
    o.prob(["A"])
    assert o.left == 0
    with pytest.raises(DebateError, match="used up"):
        o.prob(["C"])
    with pytest.raises(DebateError, match="above the limit"):
        o.prob(["A", "B", "C"])
    assert [q[0] for q in o.log] == [["A", "B"], ["A"]]


def test_a_claim_is_verified_on_the_log_scale() -> None:
    """Issue 16 item 7: 5e-5 cited for a triple whose probability is 1e-10 is false (the old
    absolute tolerance of 1e-4 called it true), whatever the scale; 2% either way is true."""
    from debate.verify import close_enough

    r = Rules()
    assert not close_enough(5e-5, 1e-10, r) and not close_enough(1e-10, 5e-5, r)
    assert not close_enough(1e-4, 0.0, r)  # "possible" is not "impossible"
    assert not close_enough(0.0, 1e-200, r)
    for true in (0.5, 1e-10, 1e-250):
        assert close_enough(true * 1.019, true, r) and close_enough(true / 1.019, true, r)
        assert not close_enough(true * 1.021, true, r) and not close_enough(true / 1.021, true, r)
    assert close_enough(0.0, 0.0, r)


def test_the_absolute_tolerance_is_far_below_any_probability_shown() -> None:
    """It only makes an underflow equal to 0; it is pinned at 1e-300 and, when a rule set
    raises it, it applies (below it any two values count as equal)."""
    from debate.verify import close_enough

    assert Rules().claim_abs_tol == 1e-300
    assert close_enough(0.0, 1e-301, Rules()) and not close_enough(0.0, 1e-299, Rules())
    loose = Rules(claim_abs_tol=1e-3)
    assert close_enough(5e-4, 1e-6, loose) and not close_enough(5e-4, 1e-6, Rules())
    assert not close_enough(5e-3, 1e-6, loose)


def test_a_tiny_false_claim_is_marked_false_in_a_speech(world) -> None:  # type: ignore[no-untyped-def]
    """The D4 triple is impossible: claiming 5e-5 for it is false, not 'close enough'."""
    c = _one(world, ProbCitation(ids=["A", "B", "C"], claimed=5e-5))
    assert c.status == "false" and c.verified is False and c.true_value == 0.0
