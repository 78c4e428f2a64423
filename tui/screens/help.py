"""The `?` help screen (every key) and the small question asked when leaving a round."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Markdown, Static

KEYS = """\
# Keys

**Everywhere**: `?` this help · `ctrl+t` light/dark theme · `ctrl+q` quit · `esc` back

**Home**: `p` play · `r` resume · `t` practice round · `m` mimic round · `s` stats ·
`e` settings · `q` quit

**Setup**: arrows + `space` pick a preset · `tab` next field · `ctrl+s` start

**Judging**

| key | what |
|---|---|
| `1` `2` `3` | statements · debate · evidence |
| `/` | search statements (`enter` back to the list) |
| `space` | pick / unpick the statement under the cursor |
| `o` | ask the oracle P(all picked true) (uses one query) |
| `x` | clear the picks |
| `a` | go to the estimate field |
| `+` `-` (or `↑` `↓` in the field) | estimate × or ÷ √10 (0.5 in log10) |
| `[` `]` | your credence that A is honest, − or + 0.05 |
| `n` | next speech (the debate waits while you read) |
| `e` · `m` | end the debate · ask for another round |
| `←` `→` (debate) | previous / next citation, with the statements it names; a click picks one |
| `tab` | next field |
| `s` (evidence) | cycle the sort |
| `enter` / `ctrl+s` | answer |
| `esc` | leave the round (keep it open to resume, or abandon it) |

Estimates: `0.3`, `3e-5`, `10^-12`, `log10 -12`, `1 in 1000`, `2%`.
Interval: `1e-8 .. 1e-4`.

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
