"""Session setup: a preset in one keypress, or every setting by hand.

"sentences by" picks the decoder: the built-in one, or `openai:MODEL` at the LLM base URL
(the key only from the environment, never stored): each round is dealt as usual, then its
statements are reworded in the loading screen's worker (texts only; see
`debate.llm_decoder`).

The screen checks what was typed and asks the app for the session (`StartSession`); the
session flow stores it and shows its first round (tui/session_flow.py)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ValidationError
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Header,
    Input,
    Label,
    RadioButton,
    RadioSet,
    Static,
    Switch,
)

from debate.errors import DebateError
from debate.llm_players import llm_config
from debate.specs import make_debater
from tui.app_base import AppBase, app_of
from tui.errors import error_line
from tui.game import PRESET_LABELS, PRESETS, RANDOM_LIAR, SessionSettings, preset
from tui.messages import StartSession
from tui.user_settings import SETUP_FIELDS
from tui.widgets.keybar import KeyBar

#: (field, label, placeholder) of the custom settings, in the order shown.
FIELDS: list[tuple[str, str, str]] = [
    ("judge", "judge name", "your name"),
    ("statements", "statements", "3 to 2000"),
    ("families", "families", "interpolation families"),
    ("counterexamples", "counterexamples", "planted D4/parity blocks"),
    ("flips", "flips", "negations inside families"),
    ("debater_honest", "honest debater", "builtin:honest, script:f.py:C, file:f.toml, openai:M"),
    ("debater_liar", "lying debater", "random-liar, builtin:pairwise, openai:MODEL, …"),
    ("base_url", "LLM base URL", "http://127.0.0.1:8000/v1 (for openai:)"),
    ("decoder", "sentences by", "builtin, or openai:MODEL (an LLM words them)"),
    ("rules_file", "rules file", "optional TOML"),
    ("oracle_budget", "oracle budget", "queries per round"),
    ("oracle_order", "oracle order", "most statements per query"),
    ("rounds", "rounds", "rounds in the session"),
    ("seed", "seed", "random (shown at the reveal); a number: same worlds"),
]


TRUST_TIP = (
    "Only where bubblewrap is missing or cannot run: let script: debaters run with your own "
    "rights (they can read your files and keys). With a sandbox this changes nothing."
)


def remembered_setup(app: AppBase) -> SessionSettings | None:
    """The setup last started (tui/user_settings.py), as settings of this judge; None when
    there is none, or it no longer makes valid settings."""
    last = app.user_settings.last_setup
    if last is None:
        return None
    fields = {k: v for k, v in last.model_dump().items() if v is not None}
    name = fields.pop("preset", None) or "custom"
    try:
        return preset(name, judge=app.judge, **fields)
    except ValidationError:
        return None


class SetupScreen(Screen[None]):
    """Pick a preset (1-4) or fill in the custom fields; ctrl+s starts."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "start", "start", priority=True),
        Binding("escape", "app.pop_screen", "back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="setup"):
            yield Static("[b]Choose a preset[/b] (arrows + space/enter), or change any field")
            #: The setup last started (None: none, or no longer valid).
            self.last = remembered_setup(app_of(self))
            on = self.last.preset if self.last is not None else "debate"
            with RadioSet(id="presets"):
                for key, label in PRESET_LABELS.items():
                    yield RadioButton(label, value=key == on, id=f"preset-{key}")
            with Grid(id="fields"):
                for field, label, placeholder in FIELDS:
                    yield Label(label)
                    yield Input(placeholder=placeholder, id=f"f-{field}", compact=True)
                yield Label("debate")
                yield Switch(value=True, id="f-debate")
                yield Label("trust scripts")
                yield Switch(value=False, id="f-trust_scripts", tooltip=TRUST_TIP)
            yield Static("", id="setup-error")
            with Horizontal(id="setup-buttons"):
                yield Button("Start (ctrl+s)", id="start", variant="primary")
                yield Button("Back (esc)", id="back")
        yield KeyBar()

    def on_mount(self) -> None:
        self.fill(self.last or preset("debate", judge=app_of(self).judge))
        self.query_one(RadioSet).focus()

    def fill(self, s: SessionSettings, seed: str | None = None) -> None:
        """Show `s`; the seed field stays blank unless typed (`seed`): with the seed a judge
        could deal the rounds headless and read the truth, so a drawn seed is shown only
        at the reveal."""
        for field, _, _ in FIELDS:
            v = seed if field == "seed" else getattr(s, field)
            self.query_one(f"#f-{field}", Input).value = "" if v is None else str(v)
        self.query_one("#f-debate", Switch).value = s.debate
        self.query_one("#f-trust_scripts", Switch).value = s.trust_scripts

    @on(RadioSet.Changed)
    def _preset(self, event: RadioSet.Changed) -> None:
        key = str(event.pressed.id).removeprefix("preset-")
        if key in PRESETS:
            keep = {
                k: self.query_one(f"#f-{k}", Input).value.strip() or None
                for k in ("judge", "seed", "base_url", "rules_file", "decoder")
            }
            self.fill(preset(key, **{k: v for k, v in keep.items() if v}), seed=keep["seed"])

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for field, _, _ in FIELDS:
            v = self.query_one(f"#f-{field}", Input).value.strip()
            if v:
                out[field] = v
        out["debate"] = self.query_one("#f-debate", Switch).value
        out["trust_scripts"] = self.query_one("#f-trust_scripts", Switch).value
        return out

    def error(self, text: str) -> None:
        self.query_one("#setup-error", Static).update(Text(text, style="bold red"))

    def action_start(self) -> None:
        values = self.values()
        for inp in self.query(Input):
            inp.remove_class("-bad")
        try:
            settings = SessionSettings(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else ""
            if field:
                self.query_one(f"#f-{field}", Input).add_class("-bad")
                self.query_one(f"#f-{field}", Input).focus()
            self.error(f"{field}: {err['msg']}")
            return
        if settings.debate:
            for field in ("debater_honest", "debater_liar"):
                spec = getattr(settings, field)
                if spec == RANDOM_LIAR:
                    continue
                try:
                    deb = make_debater(
                        spec, base_url=settings.base_url, trust_scripts=settings.trust_scripts
                    )
                except DebateError as exc:
                    self.query_one(f"#f-{field}", Input).add_class("-bad")
                    self.error(error_line(exc))
                    return
                if not deb.sandboxed:
                    self.app.notify(
                        f"{spec} runs without a sandbox (none works here): with your rights",
                        severity="warning",
                        timeout=8,
                    )
        try:
            settings.rules()
        except DebateError as exc:
            self.error(error_line(exc))
            return
        if settings.decoder != "builtin":
            try:  # a bad endpoint fails here; the key is read from the environment per call
                llm_config(settings.decoder.partition(":")[2], settings.base_url)
            except DebateError as exc:
                self.query_one("#f-decoder", Input).add_class("-bad")
                self.error(error_line(exc))
                return
        checked = self.query_one(RadioSet).pressed_button
        name = str(checked.id).removeprefix("preset-") if checked else "custom"
        values.update(preset=name)
        app = app_of(self)
        app.judge = settings.judge
        # the next setup starts from this one (never its seed)
        last = {k: getattr(settings, k) for k in SETUP_FIELDS if k != "preset"}
        app.remember(last_setup={**last, "preset": name}, judge=settings.judge)
        self.post_message(StartSession("custom", {**values, "preset": name}, self))

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#back")
    def _back(self) -> None:
        self.app.pop_screen()


__all__ = ["SetupScreen", "remembered_setup"]
