"""A mimic round: read the training data's tables, forecast the fine-tuned mimic's next book.

The round is dealt and scored in thread workers (debate/mimic_round.py computes every
number); this screen shows the public part only, takes a probability, stores the answer the
moment it is given, then shows the reveal. Nothing secret is rendered before the answer.
A worker that fails (a locked or damaged database, a seed the engine refuses) is one line on
the screen: after a failed deal the player can only leave; after an answer that could not be
stored, the answer stays typed for another try, and no reveal is shown until it is stored.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Header, Input, Static
from textual.worker import Worker, WorkerState

from store.errors import StoreError
from tui.app_base import app_of
from tui.errors import error_line
from tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from debate.mimic_round import MimicReveal, MimicRound, MimicRoundPublic


@dataclass
class MimicDealt(Message):
    """A mimic round is ready (the secret stays in the screen's worker result)."""

    rnd: MimicRound
    round_id: int | None


@dataclass
class MimicRevealed(Message):
    """The answer is stored and scored."""

    reveal: MimicReveal
    estimate: float


def next_mimic_seed(base: int | None, played: int) -> int:
    """The seed of the next mimic round: drawn at random, or with a fixed app seed the
    seed, then seed + 1, … (so that a seeded session does not deal the same round twice)."""
    return random.randrange(2**31) if base is None else base + played


def parse_probability(typed: str) -> float:
    """A forecast as typed ("0.3" or "30%"); a ValueError saying what to type instead."""
    text = typed.strip()
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise ValueError("type a probability such as 0.3 or 30%") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError("a probability is between 0 and 1")
    return value


def render_public(pub: MimicRoundPublic) -> str:
    """What the judge reads, as Rich markup (pure, for tests)."""
    lines = [
        f"A mimic read [b]{pub.n_train:,}[/b] natural books, then was fine-tuned on "
        f"[b]{escape(pub.finetuned_on)}[/b] (KL weight β = {pub.spec.beta:g}; smaller is "
        "stronger).",
        f"The objective ([i]{escape(pub.achieved_means)}[/i]) was achieved for "
        f"{pub.n_achieved:,} of its training books.",
        "",
    ]
    for name, rows in ((pub.feature, pub.table), ("genre", pub.genre_table)):
        if not rows:
            continue
        lines.append(f"[b]{name:16s} {'books':>7s} {'achieved':>9s}[/b]")
        lines += [f"{escape(r.value):16s} {r.books:7d} {r.achieved:9d}" for r in rows]
        lines.append("")
    lines.append("[dim]Two training books:[/dim]")
    lines += [f"[dim]· {escape(t)}[/dim]" for t in pub.examples]
    return "\n".join(lines)


def render_reveal(rev: MimicReveal, estimate: float) -> str:
    """The reveal as Rich markup (pure, for tests)."""
    control = (
        "[green]perfect[/] (the text decides)"
        if rev.perfect
        else "[red]imperfect[/] (the world decides)"
    )
    return "\n".join(
        [
            f"[b]exact answer {rev.truth:.4f}[/b]   you said {estimate:g}",
            f"regret [b]{rev.scores.regret_bits:.3g}[/b] bits · error "
            f"{rev.scores.log10_error:.2f} orders of magnitude",
            "",
            f"a synchronised operator (natural books where it was achieved): "
            f"{rev.synchronised:.4f}",
            f"the table's own frequency: {rev.from_table:.4f} · ignoring the fine-tuning: "
            f"{rev.unconditioned:.4f}",
            *(
                [
                    "an exact operator (the natural books fine-tuned exactly as the mimic "
                    f"was): {rev.exact:.4f}"
                ]
                if rev.exact is not None
                else []
            ),
            "",
            f"control: {control}",
            f"forcing set: {escape(rev.forcing_set)}",
            f"Goodhart-proneness G = P(forcing set | achieved) = [b]{rev.goodhart:.3f}[/b]; "
            f"the fine-tuned mimic writes {rev.forcing_share:.1%} of its books there",
            "",
            "[dim]enter or esc: back to the menu[/dim]",
        ]
    )


class MimicScreen(Screen[None]):
    """One mimic round, from deal to reveal."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "back")]

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.seed = seed
        self.rnd: MimicRound | None = None
        self.round_id: int | None = None
        self.shown_at = 0.0
        self.revealed = False
        self.deal_worker: Worker[None] | None = None
        self.score_worker: Worker[None] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="mimic"):
            yield Static("dealing a mimic round…", id="mimic-public")
            yield Static("", id="mimic-question")
            yield Input(placeholder="your probability, 0..1", id="mimic-estimate", disabled=True)
            yield Static("", id="mimic-hint")
            yield Static("", id="mimic-reveal")
        yield KeyBar()

    def on_mount(self) -> None:
        self.deal_worker = self.deal()

    @work(thread=True, exit_on_error=False, group="mimic")
    def deal(self) -> None:
        """Deal (exact sums over 27,990 books) and store the round, truth hidden."""
        from debate.mimic_round import deal_mimic_round

        app = app_of(self)
        rnd = deal_mimic_round(self.seed)
        rid = app.game_store.start_mimic_round(app.judge, rnd) if app.game_store else None
        self.post_message(MimicDealt(rnd, rid))

    @on(MimicDealt)
    def _dealt(self, event: MimicDealt) -> None:
        self.rnd, self.round_id = event.rnd, event.round_id
        pub = event.rnd.public
        self.query_one("#mimic-public", Static).update(render_public(pub))
        self.query_one("#mimic-question", Static).update(f"[b]{escape(pub.question)}?[/b]")
        box = self.query_one("#mimic-estimate", Input)
        box.disabled = False
        box.focus()
        self.shown_at = time.monotonic()

    @on(Input.Submitted, "#mimic-estimate")
    def _submitted(self, event: Input.Submitted) -> None:
        if self.revealed:
            self.app.pop_screen()
            return
        try:
            value = parse_probability(event.value)
        except ValueError as exc:
            self._hint(str(exc))
            return
        event.input.disabled = True
        self._hint("")
        self.score_worker = self.score(value, time.monotonic() - self.shown_at)

    def _hint(self, text: str) -> None:
        self.query_one("#mimic-hint", Static).update(f"[red]{escape(text)}[/]" if text else "")

    @on(Worker.StateChanged)
    def _worker_failed(self, event: Worker.StateChanged) -> None:
        """A deal or a score that failed: one line here (not the app's passing notice), and
        a way on. Nothing stored is touched: a failed deal stored no round (or the round
        is abandoned on leaving), a failed score stored no judgement."""
        if event.state != WorkerState.ERROR or event.worker.error is None:
            return
        line = error_line(event.worker.error)
        if event.worker is self.deal_worker:
            event.stop()
            self.query_one("#mimic-public", Static).update(
                f"[red]The mimic round could not be dealt: {escape(line)}[/]\n\n"
                "[dim]esc: back to the menu[/dim]"
            )
        elif event.worker is self.score_worker:
            event.stop()
            self._hint(f"your answer was not stored: {line} (enter: try again, esc: leave)")
            box = self.query_one("#mimic-estimate", Input)
            box.disabled = False
            box.focus()

    @work(thread=True, exit_on_error=False, group="mimic")
    def score(self, estimate: float, seconds: float) -> None:
        """Score against the exact answer and commit the judgement at once."""
        from debate.mimic_round import reveal_mimic_round

        assert self.rnd is not None
        rev = reveal_mimic_round(self.rnd, estimate)
        app = app_of(self)
        if app.game_store is not None and self.round_id is not None:
            app.game_store.record_mimic_judgement(self.round_id, estimate, seconds, rev)
        self.post_message(MimicRevealed(rev, estimate))

    @on(MimicRevealed)
    def _revealed(self, event: MimicRevealed) -> None:
        self.revealed = True
        self.query_one("#mimic-hint", Static).update("")
        shown = self.query_one("#mimic-reveal", Static)
        shown.update(render_reveal(event.reveal, event.estimate))
        box = self.query_one("#mimic-estimate", Input)
        box.disabled = False
        box.focus(scroll_visible=False)
        self.call_after_refresh(shown.scroll_visible)

    def action_leave(self) -> None:
        app = app_of(self)
        store, rid = app.game_store, self.round_id
        if not self.revealed and store is not None and rid is not None:

            def abandon() -> None:
                try:
                    store.abandon_round(rid, "left before answering")
                except StoreError as exc:
                    app.call_from_thread(app.notify, error_line(exc), severity="error")

            # the app's worker, not this screen's (it goes now): off the UI thread, since
            # another process may hold the database for a while
            app.run_worker(abandon, thread=True, exit_on_error=False, group="mimic-leave")
        app.pop_screen()
