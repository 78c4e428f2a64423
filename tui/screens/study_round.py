"""One round of a study, under its condition: the game's judging screen, locked.

The item, its order, its condition and its time limit come from the study database; the
participant changes none of them. What is shown depends on the condition, and is decided
by `debate.protocols.shown_claims`, not here:

- `oracle`: statements, the free singletons and the judge's own oracle; no debaters.
- `consultancy`: one debater, shown as A, honest with probability 1/2; the credence field
  is the participant's credence that A (the consultant) is honest.
- `debate`: the live debate of the game.
- `offline`: a debate recorded when the study was built, shown whole at once.

Every condition runs `debate.protocols.run_protocol` in a worker with a `HumanJudge`, so
the participant's answer is scored exactly as a simulated judge's would be; the result is
stored in the study database and only then does the next screen come. The time limit runs
from when the round was first shown (a quit and return does not reset it); when it runs
out, the estimate typed so far is submitted, and stored as submitted by the time limit.
"""

from __future__ import annotations

import contextlib
import time

from textual import on, work
from textual.message import Message
from textual.widgets import Input
from textual.worker import Worker, WorkerState

from debate.events import CredenceEvent, PublicEvent, TurnEvent, TurnStartedEvent
from debate.protocol import Decision
from debate.protocols import ProtocolResult, run_protocol
from debate.rounds import SessionSettings
from debate.verify import Oracle
from store.errors import StoreError
from store.study_ops import (
    StudyItem,
    expiry_default,
    record_answer,
    record_credence,
    record_query,
    record_submission,
    record_turn,
    score_stored_answer,
)
from tui.errors import error_line
from tui.estimate import EstimateError, fmt_p, parse_credence, parse_interval, parse_log10
from tui.game import Round, SessionRun
from tui.human_judge import SpeechClock
from tui.messages import (
    AnswerSubmitted,
    CredenceRecorded,
    DebateOver,
    SpeechArrived,
    SpeechStarted,
    StoreTrouble,
)
from tui.screens.judging import RoundScreen
from tui.screens.study import BetweenScreen, ProblemScreen, Seat, StudyLeave, time_left
from tui.widgets.estimate import EstimatePanel
from tui.widgets.statements import StatementList
from tui.widgets.transcript import Transcript

#: How each condition is named to a participant (the protocol names are the researcher's).
CONDITION_WORDS = {
    "oracle": "no debaters",
    "consultancy": "one consultant",
    "debate": "live debate",
    "offline": "recorded debate",
}


class StudyStored(Message):
    """The participant's judgement of the round is stored in the study database
    (`failure`: the protocol failed after the answer, which was stored and scored alone)."""

    def __init__(self, submitted: str, estimate: float, failure: str | None = None) -> None:
        super().__init__()
        self.submitted = submitted
        self.estimate = estimate
        self.failure = failure


def study_view(item: StudyItem) -> Round:
    """The round as the judging screen shows it: the condition's claims (none, the
    consultant's as A, or both), the recorded transcript (offline), and the participant's
    oracle with the queries they already asked in this round replayed (a return does not
    refill the budget)."""
    dealt = item.dealt
    oracle = Oracle(dealt.world, max_order=dealt.rules.judge_order, budget=dealt.rules.judge_budget)
    for ids in item.queries:
        oracle.prob(ids)
    return Round(
        **{**dict(dealt), "claims": item.claims},
        round_id=0,
        session_id=0,
        number=item.position,
        practice=False,
        turns=list(item.transcript or item.seen),
        oracle=oracle,
        resumed=item.resumed,
        credence_a=0.5 if item.seen_credence is None else item.seen_credence,
    )


def current_decision(panel: EstimatePanel, expiry: float) -> tuple[Decision, str]:
    """What the time limit submits: the estimate typed so far if it is valid
    ("expiry"), else `expiry` ("expiry-default"); the interval if valid, the credence as
    set. Read without touching the fields (no hint, no focus)."""
    credence = panel.credence if panel.claims else 0.5
    try:
        interval = parse_interval(panel.query_one("#interval", Input).value)
    except EstimateError:
        interval = None
    if panel.claims:
        with contextlib.suppress(EstimateError):
            credence = parse_credence(panel.query_one("#credence", Input).value)
    try:
        lg = parse_log10(panel.query_one("#estimate", Input).value)
    except EstimateError:
        return Decision(estimate=expiry, credence_a=credence), "expiry-default"
    return Decision(estimate=10.0**lg, interval=interval, credence_a=credence), "expiry"


class StudyRoundScreen(RoundScreen):
    """A study round: no setup, no seed, no reveal; `esc` offers to quit for now."""

    def __init__(self, seat: Seat, item: StudyItem) -> None:
        run = SessionRun(
            settings=SessionSettings(judge=item.code, rounds=item.total),
            session_id=0,
            number=item.position,
        )
        super().__init__(run, study_view(item))
        self.seat = seat
        self.path = seat.path
        self.item = item
        self.condition = item.condition
        # every condition runs its protocol in a worker until the answer; there is a debate
        # to steer only in a live one
        self.debate_over = self.condition not in ("debate", "consultancy") or item.resumed
        #: How the answer was submitted ("answer", or by the time limit).
        self.how = "answer"
        self.quitting = False

    # -- what is shown -------------------------------------------------------------------

    def _claims_line(self) -> str:
        c = self.round.claims or {}
        if self.condition == "consultancy":
            return (
                f"[b]A[/b], the consultant, claims P(Z) = [b]{fmt_p(c.get('a'))}[/b]   "
                "(honest half of the time)"
            )
        return super()._claims_line()

    def status_line(self) -> str:
        item, o = self.item, self.oracle
        left = "∞" if o.left is None else str(o.left)
        clock = time_left(item.deadline, item.time_limit)
        return (
            f"[b]Round {item.position} of {item.total}[/b]{clock} · "
            f"{CONDITION_WORDS[self.condition]} · oracle: {left} left, ≤ {o.max_order} at once"
        )

    def start(self) -> None:
        """Every condition runs its protocol in a worker (not the game's debate, which
        stores to the game's store); an offline one shows its recorded debate first.

        A live debate (or consultation) left part-way comes back as the game's does: the
        speeches shown before (stored as they were shown), the credence set after the last,
        no new speech; the answer is then scored on what was seen (`store.study_ops.
        score_stored_answer`). Nothing is dealt or spoken again, so leaving cannot re-roll a
        debate the participant has read."""
        if self.condition == "offline" or self.item.resumed:
            transcript = self.query_one(Transcript)
            for t in self.round.turns:
                self._show_turn(t, transcript)
            if self.item.resumed:
                transcript.speaking("(the debate stopped when you left; answer when ready)")
                self.query_one(EstimatePanel).set_credence(self.round.credence_a)
            else:
                transcript.speaking(
                    "A debate recorded earlier, shown whole: read it, then answer (a)."
                )
        if not self.item.resumed:
            self.judge = self.human_judge(
                self.item.code, paced=self.condition in ("debate", "consultancy")
            )
            self.debate_worker = self.play_protocol()
        if self.item.deadline is not None:
            self.set_interval(0.5, self._tick)
            self._tick()

    def _tick(self) -> None:
        if self.answered or self.item.deadline is None:
            return
        self.refresh_status()
        if time.time() >= self.item.deadline:
            self.expire()

    def expire(self) -> None:
        """The time is up: submit what is typed (or the default), marked as such."""
        if self.answered:
            return
        decision, self.how = current_decision(
            self.query_one(EstimatePanel), expiry_default(self.item.dealt)
        )
        self.notify("time is up: your answer was submitted", severity="warning", timeout=4)
        self.post_message(AnswerSubmitted(decision))

    @on(DebateOver)
    def _over(self, event: DebateOver) -> None:
        event.prevent_default()  # the game's handler would say "debate" in every condition
        self.debate_over = True
        self.refresh_bindings()
        if self.is_mounted and self.condition in ("debate", "consultancy"):
            who = "The debate" if self.condition == "debate" else "The consultation"
            self.query_one(Transcript).speaking(f"{who} is over. Give your answer (a).")

    # -- the oracle: queries go to the study database ------------------------------------

    def store_query(self, ids: list[str], p: float, at: float) -> None:
        """Queries go to the study database (a return does not refill the budget)."""
        record_query(self.path, self.item, ids, p, at)

    # -- the protocol ----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="debate")
    def play_protocol(self) -> None:
        """Run the item's protocol with the participant as judge; store the result."""
        item, judge = self.item, self.judge
        assert judge is not None
        clock = SpeechClock(self.speech_quantum)

        def on_event(ev: PublicEvent) -> None:
            try:
                if isinstance(ev, TurnStartedEvent):
                    clock.began(ev.speaker)
                    self.post_message(SpeechStarted(ev.speaker, ev.phase, ev.round))
                elif isinstance(ev, TurnEvent):
                    record_turn(self.path, item, ev.turn)  # stored before shown
                    clock.hold(ev.turn.speaker)  # speaking time must not tell who is honest
                    self.post_message(SpeechArrived(ev.turn))
                elif isinstance(ev, CredenceEvent):
                    record_credence(self.path, item, ev.after_turn, ev.credence_a)
                    self.post_message(CredenceRecorded(ev.after_turn, ev.credence_a))
            except StoreError as exc:
                self.post_message(StoreTrouble(error_line(exc)))

        try:
            res: ProtocolResult = judge.run(
                lambda: run_protocol(
                    item.dealt, item.condition, judge, transcript=item.transcript, on_event=on_event
                )
            )
        except Exception as exc:
            if not self.answered:
                raise  # nothing was answered: the round is shown as failed, taken again later
            # the answer is stored already (`_store_then_submit`): score it alone, and
            # record why the protocol did not
            first = str(exc).strip().splitlines()
            why = f"the protocol failed after the answer: {first[0] if first else repr(exc)}"
            try:
                estimate = score_stored_answer(self.path, item, why)
            except StoreError as err:
                trouble = f"the answer could not be scored: {error_line(err)}"
                self.post_message(StoreTrouble(trouble))
                return
            self.post_message(StudyStored(self.how, estimate, failure=why))
            return
        try:
            record_answer(self.path, item, res, submitted=self.how)
        except StoreError as exc:
            self.post_message(StoreTrouble(f"the answer could not be stored: {error_line(exc)}"))
            return
        self.post_message(StudyStored(self.how, res.estimate))

    @on(AnswerSubmitted)
    def _submit(self, event: AnswerSubmitted) -> None:
        event.prevent_default()  # not the game's handler: nothing goes to the game's store
        if self.answered or (self.judge is None and not self.item.resumed):
            return
        self.answered = True
        self.query_one(EstimatePanel).disabled = True
        self.submitted = event.decision
        # stored first, then scored and stored as a judgement by the protocol's worker (a
        # resumed live round has none running: it is scored on the speeches seen)
        self._store_then_submit(event.decision)

    @work(thread=True, exit_on_error=False, group="study-answer")
    def _store_then_submit(self, decision: Decision) -> None:
        """Store the answer, then hand it to the protocol: whatever the protocol does next,
        the answer is kept (`store.study_ops.record_submission`)."""
        try:
            record_submission(self.path, self.item, decision, self.how)
        except StoreError as exc:
            self.post_message(StoreTrouble(f"the answer could not be stored: {error_line(exc)}"))
            if self.item.resumed:
                return
        if self.item.resumed:
            seen = len(self.item.seen)
            note = f"the debate stopped when the participant left it after {seen} speeches"
            try:
                estimate = score_stored_answer(self.path, self.item, note)
            except StoreError as exc:
                trouble = f"the answer could not be scored: {error_line(exc)}"
                self.post_message(StoreTrouble(trouble))
                return
            self.post_message(StudyStored(self.how, estimate))
        elif self.judge is not None:
            self.judge.submit(decision)  # thread-safe: it schedules onto the debate's loop

    @on(Worker.StateChanged)
    def _failed_after_answer(self, event: Worker.StateChanged) -> None:
        """The protocol failed (not because the participant quit): say so plainly; what was
        stored before stays, and the round can be taken again with the same code."""
        event.prevent_default()  # the game's handler would store into the game's store
        if (
            event.worker is self.debate_worker
            and event.state == WorkerState.ERROR
            and not self.quitting
        ):
            err = event.worker.error
            msg = str(err).strip().splitlines()[0] if err and str(err).strip() else repr(err)
            self.app.switch_screen(ProblemScreen(f"this round could not be scored: {msg}"))

    @on(StudyStored)
    def _stored(self, event: StudyStored) -> None:
        self.app.switch_screen(
            BetweenScreen(
                self.seat,
                self.item.position,
                self.item.total,
                event.submitted,
                event.estimate,
                failure=event.failure,
            )
        )

    # -- leaving -------------------------------------------------------------------------

    def action_leave(self) -> None:
        if isinstance(self.focused, Input) and self.focused.id == "search":
            self.query_one(StatementList).focus()
            return

        def chosen(quit_: bool | None) -> None:
            if quit_ and not self.quitting:
                self.quitting = True
                if self.judge is not None and not self.answered:
                    self.judge.cancel()
                live = self.condition in ("debate", "consultancy") and not self.answered
                last = len(self.round.turns) - 1
                if live and last >= 0:
                    self.leave_live(self.query_one(EstimatePanel).credence, last)
                else:
                    self.app.exit()

        self.app.push_screen(StudyLeave(self.item.deadline is not None), chosen)

    @work(thread=True, exit_on_error=False, group="study-leave")
    def leave_live(self, credence: float, last_turn: int) -> None:
        """Keep the credence set since the last speech (it comes back with the round), off
        the UI thread, then quit."""
        try:
            record_credence(self.path, self.item, last_turn, credence)
        finally:
            self.app.call_from_thread(self.app.exit)
