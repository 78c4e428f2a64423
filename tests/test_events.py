"""The engine's events: what a watcher (a UI, a progress line) gets never names the honest
side or the truth; only a recorder gets the event that does, and mypy keeps it so."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, get_args

import pytest

from debate.builtin import builtin
from debate.engine import run_debate
from debate.errors import DebateError
from debate.events import DebateStartedEvent, Event, PublicEvent, TurnEvent
from debate.protocol import Action, Decision, JudgeView
from debate.protocols import run_protocol
from debate.rounds import deal_round, preset
from debate.rules import Rules
from debate.specs import make_judge
from debate.verify import Oracle
from latent.world import load_world

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "examples" / "small.json"
SECRET_FIELDS = {"honest_side", "truth", "log10_truth", "log10_truth_stderr", "secret"}
#: The classes of the public union (Annotated[A | B | ..., discriminator]).
PUBLIC = get_args(get_args(PublicEvent)[0])


def _keys(value: Any) -> set[str]:
    """Every key of a JSON-like value, at any depth."""
    if isinstance(value, dict):
        return set(value).union(*(_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value))
    return set()


class _Flaky:
    """A judge that fails to answer after every second turn (a JudgeErrorEvent each time)."""

    name = "flaky"

    def __init__(self) -> None:
        self.seen = 0

    async def observe(self, view: JudgeView, oracle: Oracle) -> tuple[float, Action]:
        self.seen += 1
        if self.seen % 2 == 0:
            raise DebateError("the judge did not answer")
        return 0.5, "continue"

    async def decide(self, view: JudgeView, oracle: Oracle) -> Decision:
        return Decision(estimate=0.5)


def _assert_public(events: list[PublicEvent]) -> None:
    for ev in events:
        assert isinstance(ev, PUBLIC), ev
        leaked = _keys(ev.model_dump(mode="json")) & SECRET_FIELDS
        assert not leaked, f"{ev.kind} carries {leaked}"


@pytest.mark.parametrize("judge", ["maxent", "flaky"])
def test_a_watcher_gets_no_secret_and_a_recorder_gets_the_head_first(judge: str) -> None:
    world = load_world(SMALL)
    seen: list[PublicEvent] = []
    recorded: list[Event] = []
    res = asyncio.run(
        run_debate(
            world,
            builtin("honest"),
            builtin("independence"),
            _Flaky() if judge == "flaky" else make_judge(judge),
            Rules(rounds=1),
            seed=3,
            on_event=seen.append,
            on_record=recorded.append,
        )
    )
    _assert_public(seen)
    kinds = [ev.kind for ev in seen]
    assert kinds.count("turn_started") == kinds.count("turn") == len(res.turns) == 4
    if judge == "flaky":
        assert kinds.count("judge_error") == 2 and kinds.count("credence") == 2
    else:
        assert kinds.count("credence") == 4 and "judge_error" not in kinds
    # the recorder: the head (honest side, truth, claims) first, then what the watcher saw,
    # each event before the watcher got it
    head, *rest = recorded
    assert isinstance(head, DebateStartedEvent)
    assert (head.honest_side, head.truth, head.claims) == (res.honest_side, res.truth, res.claims)
    assert rest == seen
    assert [ev.turn for ev in seen if isinstance(ev, TurnEvent)] == res.turns


def test_a_consultancy_watcher_gets_no_secret() -> None:
    dealt = deal_round(preset("debate", debate=True), 5)
    seen: list[PublicEvent] = []
    res = asyncio.run(
        run_protocol(dealt, "consultancy", make_judge("maxent"), on_event=seen.append)
    )
    _assert_public(seen)
    assert [ev.turn for ev in seen if isinstance(ev, TurnEvent)] == res.turns and res.turns


def test_mypy_refuses_the_secret_event_on_the_public_path(tmp_path: Path) -> None:
    """A watcher typed for public events can be handed neither the head nor every event."""
    leak = tmp_path / "leak.py"
    leak.write_text(
        textwrap.dedent(
            """\
            from debate.engine import run_debate
            from debate.events import DebateStartedEvent, PublicEvent
            from debate.protocol import Judge
            from latent.world import World


            def watch(event: PublicEvent) -> None:
                print(event.kind)


            def shown(head: DebateStartedEvent) -> None:
                watch(head)


            async def played(world: World, judge: Judge) -> None:
                await run_debate(world, judge=judge, on_record=watch)
            """
        )
    )
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-error-summary", "--show-error-codes", str(leak)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [ln for ln in r.stdout.splitlines() if ": error:" in ln]
    assert [ln.split(":")[1] for ln in errors] == ["12", "16"], r.stdout + r.stderr
    assert all("[arg-type]" in ln for ln in errors), r.stdout
