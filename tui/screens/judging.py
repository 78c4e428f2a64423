"""The judging screen: statements, the oracle, the debate, the evidence, the answer.

Shows only public things: statements (in id order), both claims (never who is honest or
which strategy speaks), verified citations, the judge's own queries. The debate runs in a
worker thread (`run_debate` with a `HumanJudge`); speeches arrive as messages and are
stored by the worker the moment they are made. The answer is scored and stored in a
worker, and only then is the reveal handed back (`dismiss`; None: the judge left).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from rich.markup import escape
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from debate.engine import run_debate
from debate.errors import DebateError
from debate.events import CredenceEvent, PublicEvent, TurnEvent, TurnStartedEvent
from debate.protocol import Decision
from debate.rounds import debaters_of
from store.errors import StoreError
from store.recorder import TurnRecorder
from tui.app_base import app_of
from tui.errors import error_line
from tui.estimate import fmt_p
from tui.game import GameStore, Reveal, Round, SessionRun, evidence_of, judge_round
from tui.human_judge import HumanJudge, SpeechClock
from tui.messages import (
    AnswerSubmitted,
    CitationFocused,
    CredenceChanged,
    CredenceRecorded,
    DebateOver,
    DebatePaused,
    QueryAnswered,
    QueryRefused,
    Revealed,
    SpeechArrived,
    SpeechDraft,
    SpeechStarted,
    StatementsPicked,
    StoreTrouble,
)
from tui.screens.paged import PagedScreen
from tui.widgets.estimate import EstimatePanel
from tui.widgets.evidence import EvidenceTable
from tui.widgets.keybar import KeyBar
from tui.widgets.pages import Pages, TabBar
from tui.widgets.statements import Detail, SearchInput, StatementList
from tui.widgets.transcript import Transcript

#: The panes, in the order of their keys (1, 2, 3), and the widget each one focuses.
TABS: dict[str, type[Widget]] = {
    "statements": StatementList,
    "debate": Transcript,
    "evidence": EvidenceTable,
}
#: Seconds between two redraws of a speech being streamed (a draft is posted whole).
DRAFT_INTERVAL = 0.05


class RoundScreen(PagedScreen[Reveal | None]):
    """One round. Keys work from anywhere except while typing in a field."""

    #: Speeches are shown on this grid of seconds after they begin (see `SpeechClock`).
    speech_quantum: ClassVar[float] = 0.4

    BINDINGS: ClassVar[list[BindingType]] = [
        # grouped by what they steer; the key bar shows those without show=False in order
        Binding("slash", "search", "search", key_display="/"),
        Binding("o", "ask_oracle", "oracle"),
        Binding("a", "focus_answer", "answer"),
        Binding("plus,equals_sign", "step(1)", "×√10", show=False),
        Binding("minus", "step(-1)", "÷√10", show=False),
        Binding("n", "next_speech", "next"),
        Binding("e", "end_debate", "end"),
        Binding("m", "more", "another round", show=False),
        Binding("left_square_bracket", "credence(-0.05)", "A less", show=False),
        Binding("right_square_bracket", "credence(0.05)", "A more", show=False),
        *(Binding(str(n), f"tab('{tab}')", tab, show=False) for n, tab in enumerate(TABS, 1)),
        Binding("ctrl+s", "submit", "submit", priority=True),
        Binding("escape", "leave", "leave"),
    ]

    def __init__(self, run: SessionRun, rnd: Round) -> None:
        super().__init__()
        self.run = run
        self.round = rnd
        self.oracle = rnd.oracle
        self.judge: HumanJudge | None = None
        self.debate_worker: Worker[None] | None = None
        self.shown_at = time.monotonic()
        self.picked: list[str] = []
        self.answered = False
        #: Speeches on screen when the judge answered during the debate (None: not yet).
        self.seen_turns: int | None = None
        #: The judge's answer once given: stored even if the debate then fails.
        self.submitted: Decision | None = None
        self.asking = False
        #: The judge chose to leave (the store is told in a worker, then the screen goes).
        self.leaving = False
        #: What goes back to the session flow once this screen is on top again.
        self._handed: tuple[Reveal | None] | None = None
        self.debate_over = not rnd.debate or rnd.resumed
        self.texts = {s.id: s.text for s in rnd.statements}

    @property
    def store(self) -> GameStore:
        """Where this round's speeches, queries and answer go (the game's store)."""
        store = app_of(self).game_store
        if store is None:
            raise StoreError("no database: nothing would be saved")
        return store

    @on(StoreTrouble)
    def _trouble(self, event: StoreTrouble) -> None:
        self.notify(event.message, severity="error", timeout=10)

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        rnd = self.round
        yield Static("", id="status")
        tabs = [("statements", f"Statements ({len(rnd.statements)}) 1")]
        if rnd.debate:
            tabs.append(("debate", "Debate 2"))
        tabs.append(("evidence", "Evidence 3"))
        yield TabBar(tabs, id="tabs")
        with Pages(id="pages"):
            with Vertical(id="statements", classes="pane"):
                yield SearchInput(
                    self._apply_search,
                    placeholder="/ search ids and text",
                    id="search",
                    compact=True,
                )
                yield StatementList(rnd.statements, max_pick=self.oracle.max_order)
                yield Detail(id="detail")
                yield Static("", id="oracle-line")
            if rnd.debate:
                with Vertical(id="debate", classes="pane"):
                    yield Static(self._claims_line(), id="claims")
                    yield Transcript(id="transcript")
                    yield Static("", id="chip-detail")
            with Vertical(id="evidence", classes="pane"):
                yield EvidenceTable(id="evidence-table")
        yield EstimatePanel(rnd.claims, rnd.independence, id="answer-panel")
        yield KeyBar()

    def on_key(self, event: events.Key) -> None:
        """A character that reaches the screen while a field has focus was typed before the
        focus moved (keys typed fast go to the widget focused when they arrived): it belongs
        to the field, not to a key binding. `a1e-4` typed at once is an estimate."""
        field = self.focused
        jump = {"a": self.action_focus_answer, "slash": self.action_search}.get(event.key)
        if jump is not None and not isinstance(field, Input):
            # here, not as a binding: bindings run on the app, after the keys behind this
            # one have already been handed to the old focus
            event.stop()
            event.prevent_default()
            jump()
            return
        if isinstance(field, Input) and event.is_printable and event.character is not None:
            event.stop()
            event.prevent_default()
            field.post_message(events.Key(event.key, event.character))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Debate keys are shown only while there is a debate to steer."""
        if action in ("next_speech", "end_debate", "more"):
            return self.round.debate and not self.debate_over
        return True

    def _claims_line(self) -> str:
        c = self.round.claims or {}
        return (
            f"[b]A[/b] claims P(Z) = [b]{fmt_p(c.get('a'))}[/b]   "
            f"[b]B[/b] claims P(Z) = [b]{fmt_p(c.get('b'))}[/b]   "
            "(one is honest)"
        )

    def on_mount(self) -> None:
        table = self.query_one(EvidenceTable)
        for s in self.round.statements:
            if s.p is not None:
                table.add([s.id], s.p, "shown")
        for ids, p in self.round.public_queries():
            table.add(ids, p, "you asked")
        self.start()
        self.refresh_status()
        self.query_one(Pages).show("statements")
        self.query_one(StatementList).focus()

    def start(self) -> None:
        """Show the debate so far; start it (a new round) in a worker, with the judge."""
        rnd = self.round
        if not rnd.debate:
            return
        transcript = self.query_one(Transcript)
        for t in rnd.turns:
            self._show_turn(t, transcript)
        if rnd.resumed:
            transcript.speaking("(the debate stopped when you left; answer when ready)")
            self.query_one(EstimatePanel).set_credence(rnd.credence_a)
        else:
            self.judge = self.human_judge(self.run.settings.judge)
            self.debate_worker = self.debate()

    def human_judge(self, name: str, paced: bool = True) -> HumanJudge:
        """The judge the engine waits on: this screen steers it, and hears when the
        debate pauses for reading and when its speeches are over."""
        return HumanJudge(
            name,
            ui_oracle=self.oracle,
            on_deciding=lambda: self.post_message(DebateOver()),
            on_waiting=lambda: self.post_message(DebatePaused()),
            paced=paced,
        )

    def refresh_status(self) -> None:
        self.query_one("#status", Static).update(self.status_line())
        picked = escape(" ".join(self.picked)) if self.picked else "none"
        self.query_one("#oracle-line", Static).update(
            f"picked: [b]{picked}[/b]  · space picks · o asks P(all picked) · x clears"
        )

    def status_line(self) -> str:
        """The line above the tabs: which round, and what the oracle has left."""
        rnd, o = self.round, self.oracle
        left = "∞" if o.left is None else str(o.left)
        practice = " · practice" if rnd.practice else ""
        return (
            f"[b]Round {rnd.number}/{self.run.settings.rounds}[/b]{practice} · "
            f"{len(rnd.statements)} statements · oracle: {left} left, "
            f"≤ {o.max_order} at once · ? help"
        )

    # -- statements and the oracle -------------------------------------------------------

    def action_search(self) -> None:
        self.action_tab("statements")
        self.set_focus(self.query_one("#search", Input))

    def _apply_search(self, text: str) -> None:
        """Filter as the search text changes (called by the field, in the same frame)."""
        statements = self.query_one(StatementList)
        statements.set_filter(text)
        # now, not on the Highlighted message: that would paint one frame (~15 ms) later
        self._show_statement(statements.current_id())

    @on(Input.Changed, "#search")
    def _search(self, event: Input.Changed) -> None:
        event.stop()  # already applied by the field

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(StatementList).focus()

    @on(StatementList.Highlighted)
    def _row(self, event: StatementList.Highlighted) -> None:
        self._show_statement(event.sid)

    def _show_statement(self, sid: str | None) -> None:
        """The full text of `sid` under the list (an unchanged text repaints nothing)."""
        detail = self.query_one(Detail)
        if sid is None:
            detail.text = Text("no statement matches the search", style="dim")
        else:
            detail.text = Text.assemble((sid, "bold"), " ", self.texts.get(sid, ""))

    @on(StatementsPicked)
    def _picked(self, event: StatementsPicked) -> None:
        self.picked = event.ids
        self.refresh_status()

    def action_ask_oracle(self) -> None:
        # read the table, not the last StatementsPicked: keys typed fast outrun messages
        self.picked = list(self.query_one(StatementList).picked)
        if not self.picked:
            self.notify("pick statements first (space on a row)", severity="warning")
            return
        if self.asking:
            return
        why = self.oracle.check(self.picked)
        if why:
            self.notify(f"the oracle refuses: {why}", severity="warning")
            return
        self.asking = True
        self.ask(list(self.picked))

    @work(thread=True, exit_on_error=False, group="oracle")
    def ask(self, ids: list[str]) -> None:
        """One oracle query (order ≥ 4 can take a moment), stored as soon as answered."""
        before = len(self.oracle.log)
        try:
            p = self.oracle.prob(ids)
        except DebateError as exc:
            self.post_message(QueryRefused(error_line(exc)))
            return
        if len(self.oracle.log) > before:
            _, _, at = self.oracle.log[-1]
            try:
                self.store_query(sorted(ids), p, at)
            except StoreError as exc:
                self.post_message(StoreTrouble(error_line(exc)))
        self.post_message(QueryAnswered(sorted(ids), p, self.oracle.left))

    def store_query(self, ids: list[str], p: float, at: float) -> None:
        """Keep one answered query where this screen's answers go (the game's store)."""
        self.store.add_query(self.round.round_id, ids, p, at)

    @on(QueryAnswered)
    def _answered(self, event: QueryAnswered) -> None:
        self.asking = False
        self.query_one(EvidenceTable).add(event.ids, event.p, "you asked")
        self.notify(f"P({' ∩ '.join(event.ids)}) = {fmt_p(event.p, 4)}", title="oracle", timeout=3)
        self.query_one(StatementList).action_clear()
        self.refresh_status()

    @on(QueryRefused)
    def _refused(self, event: QueryRefused) -> None:
        self.asking = False
        self.notify(event.reason, severity="warning")

    # -- the debate ----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="debate")
    def debate(self) -> None:
        """Run the debate to the end; the judge's decision ends it."""
        rnd, judge, store = self.round, self.judge, self.store
        assert judge is not None
        try:
            settings = self.run.settings
            debaters = debaters_of(
                rnd, base_url=settings.base_url, trust_scripts=settings.trust_scripts
            )
        except DebateError as exc:
            self.post_message(StoreTrouble(f"cannot start the debaters: {error_line(exc)}"))
            self.post_message(DebateOver())
            return

        drafts: dict[str, list[str]] = {}
        a, b = debaters["a"], debaters["b"]
        for side, debater in (("a", a), ("b", b)):
            debater.on_token = self._token_sink(side, drafts)  # called if it streams (an LLM)

        clock = SpeechClock(self.speech_quantum)
        recorder = TurnRecorder(store, rnd.round_id)  # as headless debates record theirs

        def on_event(ev: PublicEvent) -> None:
            try:
                if isinstance(ev, TurnStartedEvent):
                    clock.began(ev.speaker)
                    drafts[ev.speaker] = []
                    self.post_message(SpeechStarted(ev.speaker, ev.phase, ev.round))
                elif isinstance(ev, TurnEvent):
                    recorder.on_event(ev)  # committed before it is shown
                    clock.hold(ev.turn.speaker)  # speaking time must not tell who is honest
                    self.post_message(SpeechArrived(ev.turn))
                elif isinstance(ev, CredenceEvent):
                    recorder.on_event(ev)
                    self.post_message(CredenceRecorded(ev.after_turn, ev.credence_a))
            except StoreError as exc:
                self.post_message(StoreTrouble(error_line(exc)))

        result = judge.run(lambda: run_debate(rnd, a, b, judge, on_event=on_event))
        j = result.judgement
        decision = Decision(estimate=j.estimate, interval=j.interval, credence_a=j.credence_a)
        # Scored on what the judge saw: a speech still held back (SpeechClock) when they
        # answered is in the transcript, but not in their evidence or its baselines.
        seen = self.seen_turns if self.seen_turns is not None else len(result.turns)
        evidence = evidence_of(rnd, rnd.public_queries(), turns=list(result.turns[:seen]))
        self.finish(decision, evidence, result)

    def _token_sink(self, side: str, drafts: dict[str, list[str]]) -> Callable[[str], None]:
        """Called in the debate thread per token: post the whole draft at most every
        DRAFT_INTERVAL s (joining it per token was quadratic in the reply); floods merge."""
        posted = [0.0]

        def on_token(token: str) -> None:
            parts = drafts.setdefault(side, [])
            parts.append(token)
            if time.monotonic() - posted[0] >= DRAFT_INTERVAL:
                posted[0] = time.monotonic()
                self.post_message(SpeechDraft(side, "".join(parts)))

        return on_token

    @on(SpeechDraft)
    def _draft(self, event: SpeechDraft) -> None:
        if self.is_mounted:
            self.query_one(Transcript).draft(event.speaker, event.raw)

    @on(SpeechStarted)
    def _speaking(self, event: SpeechStarted) -> None:
        when = "opening" if event.phase == "opening" else f"round {event.round_no}"
        self.query_one(Transcript).speaking(f"{event.speaker.upper()} is speaking ({when})…")

    @on(SpeechArrived)
    def _speech(self, event: SpeechArrived) -> None:
        self.round.turns.append(event.turn)
        self._show_turn(event.turn, self.query_one(Transcript))
        if event.turn.forfeit:
            self.notify(
                f"{event.turn.speaker.upper()} forfeited a turn: {event.turn.forfeit}",
                severity="warning",
                timeout=6,
            )

    def _show_turn(self, turn: Any, transcript: Transcript) -> None:
        transcript.add_turn(turn)
        table = self.query_one(EvidenceTable)
        for c in turn.citations:
            if c.kind == "prob" and c.true_value is not None:
                table.add(c.ids, c.true_value, f"cited by {turn.speaker.upper()}")

    @on(DebatePaused)
    def _paused(self, _: DebatePaused) -> None:
        self.query_one(Transcript).speaking(
            "Read, then: [b]n[/b] next speech · [b]e[/b] end the debate · "
            "[b]m[/b] one more round · [b]\\[ ][/b] or type your credence in A"
        )

    def action_next_speech(self) -> None:
        if self.judge is None or self.debate_over:
            return
        self.judge.proceed()
        self.query_one(Transcript).speaking("…")

    @on(CredenceChanged)
    def _credence_typed(self, event: CredenceChanged) -> None:
        if self.judge is not None:
            self.judge.set_credence(event.credence_a)

    @on(DebateOver)
    def _over(self, _: DebateOver) -> None:
        self.debate_over = True
        self.refresh_bindings()
        if self.is_mounted and self.round.debate:
            self.query_one(Transcript).speaking("The debate is over. Give your answer (a).")

    @on(CitationFocused)
    def _chip(self, event: CitationFocused) -> None:
        lines = [
            f"[b]{escape(sid)}[/b] {escape(self.texts.get(sid, '(unknown id)'))}"
            for sid in event.ids
        ]
        self.query_one("#chip-detail", Static).update("\n".join(lines))

    def action_credence(self, delta: float) -> None:
        if not self.round.debate:
            return
        panel = self.query_one(EstimatePanel)
        panel.set_credence(panel.credence + delta)
        if self.judge is not None:
            self.judge.set_credence(panel.credence)

    def action_end_debate(self) -> None:
        if self.judge is None or self.debate_over:
            return
        self.judge.request("end")
        self.notify("debate ended: give your answer")

    def action_more(self) -> None:
        if self.judge is None or self.debate_over:
            self.notify("the debate is over", severity="warning")
            return
        self.judge.request("more")
        self.notify("one more round asked for (if the rules allow)", timeout=2)

    # -- the answer ----------------------------------------------------------------------

    def action_tab(self, tab: str) -> None:
        if tab == "debate" and not self.round.debate:
            return
        self.show_tab(tab, self.query_one(TABS[tab]))

    def action_focus_answer(self) -> None:
        # at once, not after a refresh: the keys typed next belong to the field
        self.set_focus(self.query_one("#estimate", Input))

    def action_step(self, direction: int) -> None:
        self.query_one(EstimatePanel).step(direction)

    def action_submit(self) -> None:
        self.query_one(EstimatePanel).submit()

    @on(AnswerSubmitted)
    def _submit(self, event: AnswerSubmitted) -> None:
        if self.answered:
            return
        self.answered = True
        self.query_one(EstimatePanel).disabled = True
        self.notify("answer recorded; scoring…", timeout=2)
        w = self.debate_worker
        if self.judge is not None and w is not None and w.state == WorkerState.RUNNING:
            self.seen_turns = len(self.round.turns)  # the speeches on screen at the answer
            self.submitted = event.decision
            self.judge.submit(event.decision)  # the debate worker finishes the round
        else:
            self.finish_solo(event.decision)

    @on(Worker.StateChanged)
    def _failed_after_answer(self, event: Worker.StateChanged) -> None:
        """An answer is never lost: when the debate fails after it (a debater that cannot
        close, say), store it with the speeches that were on screen."""
        if (
            event.worker is self.debate_worker
            and event.state == WorkerState.ERROR
            and self.submitted is not None
        ):
            self.finish_shown(self.submitted)

    @work(thread=True, exit_on_error=False, group="finish")
    def finish_shown(self, decision: Decision) -> None:
        seen = self.seen_turns if self.seen_turns is not None else len(self.round.turns)
        shown = evidence_of(self.round, self.round.public_queries(), turns=self.round.turns[:seen])
        self.finish(decision, shown, None)

    @work(thread=True, exit_on_error=False, group="finish")
    def finish_solo(self, decision: Decision) -> None:
        evidence = evidence_of(self.round, self.round.public_queries())
        self.finish(decision, evidence, None)

    def finish(self, decision: Decision, evidence: dict[str, float], result: Any) -> None:
        """Score and store (in a worker thread), then post the reveal."""
        seconds = time.monotonic() - self.shown_at
        try:
            reveal = judge_round(
                self.round,
                decision,
                evidence,
                seconds,
                self.store,
                result_scores=result.scores if result is not None else None,
            )
        except StoreError as exc:
            self.post_message(StoreTrouble(f"the answer could not be stored: {error_line(exc)}"))
            return
        self.post_message(Revealed(reveal))

    @on(Revealed)
    def _revealed(self, event: Revealed) -> None:
        self.hand_back(event.reveal)

    # -- leaving -------------------------------------------------------------------------

    def action_leave(self) -> None:
        if isinstance(self.focused, Input) and self.focused.id == "search":
            self.query_one(StatementList).focus()
            return
        from tui.screens.help import LeaveRound

        def chosen(choice: str | None) -> None:
            if choice in ("keep", "abandon") and not self.leaving:
                self.leaving = True
                last = len(self.round.turns) - 1  # the credence set since comes back on resume
                self.leave(choice, self.query_one(EstimatePanel).credence, last)

        self.app.push_screen(LeaveRound(), chosen)

    @work(thread=True, exit_on_error=False, group="leave", exclusive=True)
    def leave(self, choice: str, credence: float, last_turn: int) -> None:
        """Store how the round was left, off the UI thread (another process may hold the
        database for a while), then go home."""
        try:
            if choice == "abandon":
                self.store.abandon_round(self.round.round_id, "left by the judge")
            elif self.round.debate and last_turn >= 0:
                self.store.add_credence(self.round.round_id, last_turn, credence, time.time())
        except StoreError as exc:
            self.app.call_from_thread(self.notify, error_line(exc), severity="error")
        self.app.call_from_thread(self.hand_back, None)

    def hand_back(self, result: Reveal | None) -> None:
        """Go, handing `result` to the session flow: now if this screen is on top, else
        once it is again (the judge may have opened the help meanwhile)."""
        if self.app.screen is self:
            self.dismiss(result)
        else:
            self._handed = (result,)

    def on_screen_resume(self) -> None:
        if self._handed is not None:
            self.dismiss(self._handed[0])

    def on_unmount(self) -> None:
        if self.judge is not None and not self.answered:
            self.judge.cancel()
