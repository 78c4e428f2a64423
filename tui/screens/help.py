"""The `?` help screen (every key) and the small question asked when leaving a round."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

#: The keys of a round, as both helps list them: (key, what, in the game's help only).
ROUND_KEYS: list[tuple[str, str, bool]] = [
    ("`1` `2` `3`", "statements · debate · evidence", False),
    ("`/`", "search statements (`enter` back to the list)", False),
    ("`space`", "pick / unpick the statement under the cursor", False),
    ("`o`", "ask the oracle P(all picked true) (uses one query)", False),
    ("`x`", "clear the picks", False),
    ("`a`", "go to the estimate field", False),
    ("`+` `-` (or `↑` `↓` in the field)", "estimate × or ÷ √10 (0.5 in log10)", False),
    ("`[` `]`", "your credence that A is honest, − or + 0.05", False),
    ("`n`", "next speech (the debate waits while you read)", False),
    ("`e` · `m`", "end the debate · ask for another round", False),
    (
        "`←` `→` (debate)",
        "previous / next citation, with the statements it names; a click picks one",
        True,
    ),
    ("`tab`", "next field", False),
    ("`s` (evidence)", "cycle the sort", True),
    ("`enter` / `ctrl+s`", "answer", False),
]
#: How an estimate may be typed (both helps end their table of keys with it).
ESTIMATES = "Estimates: `0.3`, `3e-5`, `10^-12`, `log10 -12`, `1 in 1000`, `2%`."
#: The words of the round's screen a newcomer meets (both helps show them).
WORDS = """**Words**: the **oracle** answers exactly "how likely are all the picked statements at
once?" (a query spends one of the round's budget: "oracle: 7 left"); **≤ 3 at once** means a
query may pick at most that many statements. On the answer bar, **A** and **B** mark the
debaters' claims and **i** the product of the statements' own probabilities (what P(Z)
would be if they were independent)."""


def round_keys(esc: str, game: bool = True) -> str:
    """The keys of a round as a Markdown table, `esc` saying what escape does there (the
    study's help leaves out the keys of the game only)."""
    rows = [(k, what) for k, what, game_only in ROUND_KEYS if game or not game_only]
    rows.append(("`esc`", esc))
    return "\n".join(["| key | what |", "|---|---|", *(f"| {k} | {w} |" for k, w in rows)])


KEYS = f"""\
# Keys

**Everywhere**: `?` this help · `ctrl+t` light/dark theme · `ctrl+q` quit · `esc` back

**Home**: `p` play · `r` resume · `t` practice round · `m` mimic round · `s` stats ·
`e` settings · `q` quit

**Setup**: arrows + `space` pick a preset · `tab` next field · `ctrl+s` start

**Judging**

{round_keys("leave the round (keep it open to resume, or abandon it)")}

{ESTIMATES}
Interval: `1e-8 .. 1e-4`.

{WORDS}

**Reveal**: `n` next round · `h` home · `s` stats

**Stats**: `x` export · `g` cycle grouping · `esc` back
"""


class HelpScreen(ModalScreen[None]):
    """Every key, on one page."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(KEYS)

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)


class LeaveRound(ModalScreen[str | None]):
    """Leave a round: keep it open (resume later) or abandon it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose('stay')", "stay"),
        Binding("k", "choose('keep')", "keep open"),
        Binding("b", "choose('abandon')", "abandon"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="leave"):
            yield Static(
                "Leave this round? Everything you did is stored; a debate does not go on\n"
                "after a resume (you answer on what was said).\n"
                "[b]k[/b] keep it open (resume from home) · [b]b[/b] abandon it · "
                "[b]esc[/b] stay"
            )
            with Horizontal():
                yield Button("Keep open", id="keep", variant="primary")
                yield Button("Abandon", id="abandon", variant="error")
                yield Button("Stay", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_choose(self, what: str) -> None:
        self.dismiss(what)
