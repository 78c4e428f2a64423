"""After the answer is stored: the truth, the scores, the baselines, the traps.

The screen only shows: it hands back with `dismiss` whether the judge goes on (True) or
home (False); the session flow (tui/session_flow.py) knows what comes next."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from debate.scoring import log10_error
from store.stats import zero_truth
from tui.estimate import fmt_log10, fmt_p
from tui.game import PRESETS, RANDOM_LIAR, Reveal, Round, SessionRun, SessionSettings
from tui.widgets.keybar import KeyBar

#: What each kind of trap is (the second line under the block's name: fits 80 columns).
TRAP_WORDS = {
    "d4": "every pair looks independent; all three together nearly impossible",
    "parity": "every smaller group looks independent; all together nearly impossible",
    "extremal": "same low-order probabilities as its neighbours, extreme P(all)",
    "flip": "a hidden flip: reads like its neighbours but says the opposite",
    "planted-high": "every smaller group looks independent; all together twice as often",
    "planted-independent": "planted, but innocent: the statements are independent",
}


#: What the reveal's baselines are, for a newcomer (a dim line under each; fits 80 columns).
WORDS = {
    "independence": "the statements' own probabilities multiplied, as if none were linked",
    "max entropy": "the least-committal world that fits every probability you saw",
}


#: Under the evidence's range when the truth lies outside it (it never should).
TRUTH_OUTSIDE = "yet the truth is outside it: a fault in the game, please report it"


def replay_command(settings: SessionSettings, seed: int) -> str:
    """The command that deals this round again headless (the world, sides and claims)."""
    parts = ["pzjudge debate"]
    if settings.preset in PRESETS and all(
        getattr(settings, k) == v for k, v in PRESETS[settings.preset].items() if k != "debate"
    ):
        parts.append(f"--preset {settings.preset}")
    else:
        parts += [
            f"--{k} {getattr(settings, k)}"
            for k in ("statements", "families", "counterexamples", "flips")
        ]
    parts.append(f"--seed {seed}")
    if settings.debate and settings.debater_liar != RANDOM_LIAR:
        parts.append(f"--liar {settings.debater_liar}")
    if settings.rules_file:
        parts.append(f"--rules {settings.rules_file}")
    return " ".join(parts)


def render_reveal(
    rnd: Round, rv: Reveal, texts: dict[str, str], settings: SessionSettings | None = None
) -> str:
    """The reveal as Rich markup (pure, for tests). The round's seed is shown here and
    nowhere before the answer: with it the round can be dealt again, truth and all."""
    sc, bl = rv.scores, rv.baselines
    lt = rv.log10_truth
    # P(Z) = 0 exactly (a planted impossibility): a log10 error is undefined there (the
    # scoring floor would show ~300 orders); stats leaves such rounds out the same way
    zero = zero_truth({"log10_truth": lt, "truth_pz": rv.truth})
    lines = [f"[b]P(Z) = {fmt_log10(lt)}[/b]   you said {fmt_p(rv.estimate)}"]
    if zero:
        said = "0: exactly right" if rv.estimate == 0 else f"{fmt_p(rv.estimate)}: too high"
        lines.append(f"P(Z) is exactly 0: a log10 error is not defined; you answered {said}")
    else:
        lines.append(
            f"error [b]{sc.log10_error:.2f}[/b] orders of magnitude (1 = a factor of 10 off)"
        )
    lines.append(
        f"regret [b]{sc.regret_bits:.3g}[/b] bits (the expected log score lost by not saying "
        "the truth)"
    )
    if rv.interval is not None:
        lo, hi = rv.interval
        lines.append(
            f"your interval [{fmt_p(lo)}, {fmt_p(hi)}] "
            + ("[green]covers the truth[/]" if sc.covered else "[red]misses the truth[/]")
        )
    if rv.claims:
        h = rv.honest_side or "?"
        lines.append("")
        lines.append(
            f"[b]{h.upper()} was honest[/b] ({escape(rv.specs.get(h, '?'))}); the other side "
            f"was {escape(rv.specs.get('b' if h == 'a' else 'a', '?'))}"
        )
        if rv.credence_a is not None:
            on_honest = rv.credence_a if h == "a" else 1 - rv.credence_a
            verdict = (
                "[green]you trusted the honest side[/]"
                if sc.trusted_honest
                else ("[red]you trusted the liar[/]" if on_honest < 0.5 else "you were undecided")
            )
            lines.append(f"your credence in A: {rv.credence_a:.2f} · {verdict}")

    def err(p: float | None) -> str:
        if p is None:
            return "—"
        if zero:
            return f"{fmt_p(p)} (no log10 error: P(Z) = 0)"
        return f"{fmt_p(p)} (error {log10_error(p, rv.truth):.2f})"

    lines += [
        "",
        f"[b]On the same evidence[/b] ({rv.evidence_count} probabilities), two rules of thumb:",
        f"  independence {err(bl.independence)}",
        f"    [dim]{WORDS['independence']}[/dim]",
        f"  max entropy  {err(bl.maxent)}",
        f"    [dim]{WORDS['max entropy']}[/dim]",
        f"  the evidence allowed anything in [{fmt_p(bl.lower)}, {fmt_p(bl.upper)}]",
    ]
    # The range comes from the evidence alone, so it must hold the truth (up to rounding,
    # and an estimated truth's error); if it does not, the game computed something wrong,
    # and the player should say so. The core decides (latent.bounds.truth_outside).
    if rv.truth_outside:
        lines.append(f"  [red]{TRUTH_OUTSIDE}[/]")
    lines.append("")
    if rv.traps:
        lines.append("[b]Planted in this world[/b]:")
        for t in rv.traps:
            lines.append(f"  [b]{escape(t.block)}[/b]")
            lines.append(f"    {TRAP_WORDS.get(t.kind, t.kind)}")
            for sid in t.ids[:6]:
                lines.append(f"    [dim]{escape(sid)}[/dim] {escape(texts.get(sid, ''))}")
            if len(t.ids) > 6:
                lines.append(f"    … and {len(t.ids) - 6} more")
    else:
        lines.append("Nothing was planted in this world.")
    if lt is not None and rv.estimate > 0:
        off = math.log10(rv.estimate) - lt
        verdict = (
            "right on (within 12%)" if abs(off) < 0.05 else "too high" if off > 0 else "too low"
        )
        lines.append("")
        lines.append(f"[dim]Your estimate was {verdict}.[/dim]")
    lines.append("")
    lines.append(f"[dim]Round seed {rnd.seed}[/dim]")
    if settings is not None:
        lines.append(f"[dim]Again, headless: {escape(replay_command(settings, rnd.seed))}[/dim]")
    return "\n".join(lines)


class RevealScreen(Screen[bool]):
    """What happened; `n` goes on (home after the `last` round), `h` goes home."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "next", "next round"),
        Binding("h", "home", "home"),
        Binding("s", "stats", "stats"),
        Binding("escape", "home", "home", show=False),
    ]

    def __init__(self, run: SessionRun, rnd: Round, reveal: Reveal, last_round: bool) -> None:
        super().__init__()
        self.run = run
        self.round = rnd
        self.reveal = reveal
        self.last_round = last_round

    def compose(self) -> ComposeResult:
        yield Header()
        texts = {s.id: s.text for s in self.round.statements}
        with VerticalScroll(id="reveal"):
            yield Static(
                render_reveal(self.round, self.reveal, texts, self.run.settings),
                id="reveal-text",
            )
            more = "n: next round" if not self.last_round else "That was the last round. n: home"
            yield Static(f"[b]{more}[/b] · h: home · s: stats", id="reveal-next")
        yield KeyBar()

    def action_next(self) -> None:
        self.dismiss(True)

    def action_home(self) -> None:
        self.dismiss(False)

    def action_stats(self) -> None:
        from tui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen())
