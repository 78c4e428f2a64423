"""The human judge drives `run_debate` from another thread, as the UI does."""

from __future__ import annotations

import threading
import time

from debate.builtin import builtin
from debate.engine import run_debate
from debate.protocol import Decision
from debate.rules import Rules
from debate.verify import Oracle
from latent.generate import generate_world
from tui.human_judge import HumanJudge, SpeechClock


def _world():  # type: ignore[no-untyped-def]
    return generate_world(seed=3, statements=14, families=2, counterexamples=1)


def test_paced_judge_ends_the_debate_and_answers() -> None:
    world = _world()
    rules = Rules(judge_budget=3)
    ui_oracle = Oracle(world, max_order=rules.judge_order, budget=rules.judge_budget)
    waits: list[float] = []
    judge = HumanJudge("t", ui_oracle=ui_oracle, on_waiting=lambda: waits.append(time.time()))
    ids = world.ids[:2]
    ui_oracle.prob(ids)  # asked in the UI before the debate reached the judge
    out = {}

    def play() -> None:
        out["r"] = judge.run(
            lambda: run_debate(world, builtin("honest"), builtin("pairwise"), judge, rules)
        )

    t = threading.Thread(target=play)
    t.start()
    for _ in range(200):  # the engine stops after the first speech until we go on
        if waits:
            break
        time.sleep(0.01)
    assert len(waits) == 1
    judge.set_credence(0.8)
    judge.proceed()
    while len(waits) < 2:
        time.sleep(0.01)
    judge.request("end")
    judge.submit(Decision(estimate=1e-3, credence_a=0.8))
    t.join(timeout=30)
    res = out["r"]
    assert len(res.turns) == 2  # the openings only: the judge ended it
    # the credence after a speech is the one set while reading it
    assert [c.credence_a for c in res.judgement.credences] == [0.8, 0.8]
    assert res.judgement.estimate == 1e-3
    assert [q.ids for q in res.judgement.queries] == [sorted(ids)]  # replayed into the engine
    assert "&".join(sorted(ids)) in res.evidence


def test_unpaced_judge_and_cancel() -> None:
    world = _world()
    judge = HumanJudge("t", paced=False)
    err: list[BaseException] = []

    def play() -> None:
        try:
            judge.run(lambda: run_debate(world, builtin("honest"), builtin("pairwise"), judge))
        except BaseException as exc:
            err.append(exc)

    t = threading.Thread(target=play)
    t.start()
    assert judge.deciding.wait(30)  # all speeches done, waiting for the human
    judge.cancel()
    t.join(timeout=10)
    assert err and type(err[0]).__name__ == "CancelledError"


def test_speech_clock_releases_on_its_grid() -> None:
    """A quick speech and a slower one are released alike, at the first grid line after they
    began; one longer than the grid waits for the next line; quantum 0 never holds."""
    clock = SpeechClock(0.2)
    for work in (0.0, 0.12):
        t0 = time.monotonic()
        clock.began()
        time.sleep(work)
        clock.hold()
        assert 0.2 <= time.monotonic() - t0 < 0.3
    t0 = time.monotonic()
    clock.began()
    time.sleep(0.25)
    clock.hold()
    assert 0.4 <= time.monotonic() - t0 < 0.5
    clock = SpeechClock(0.0)
    clock.began()
    t0 = time.monotonic()
    clock.hold()
    assert time.monotonic() - t0 < 0.05


def test_speech_clock_keeps_one_start_per_speaker() -> None:
    """The openings run together: B starting must not move A's grid (else the first
    opening would show up A's compute time later than it should)."""
    clock = SpeechClock(0.2)
    t0 = time.monotonic()
    clock.began("a")
    time.sleep(0.1)
    clock.began("b")  # B starts while A is still composing
    clock.hold("a")
    assert 0.2 <= time.monotonic() - t0 < 0.28  # A's grid, not B's (which would be 0.3)
    clock.hold("b")
    assert 0.3 <= time.monotonic() - t0 < 0.38


def test_an_answer_as_the_debate_closes_its_loop_is_harmless() -> None:
    """The UI reads the debate's loop, then the debate ends and closes it: an answer (or a
    key) given in that moment must not raise 'Event loop is closed' in the UI."""
    import asyncio

    judge = HumanJudge("t")
    loop = asyncio.new_event_loop()
    fut: asyncio.Future[Decision] = loop.create_future()
    go: asyncio.Future[None] = loop.create_future()
    loop.close()
    judge._loop, judge._future, judge._go = loop, fut, go
    judge.submit(Decision(estimate=0.1))
    judge.proceed()
    judge.request("end")
    assert judge._decision is not None and judge._decision.estimate == 0.1
