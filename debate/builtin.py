"""Built-in debaters: one honest, and liars that each misread low-order evidence.

All of them work only from their view and their oracle (order-limited), like any debater.
Every number they cite is the oracle's true value: they mislead by inference, never about a
cited fact. Every one of them argues its claim in either direction (above or below the other
side's claim, above or below the independence product), because where a lie sits must not
tell a judge that it is one.

They all speak one way. The words around the evidence depend only on the direction a side
argues (up or down from the other side's claim); each piece of evidence is one neutral
sentence of its kind (a pair's probability against the product of its own probabilities, a
group's triple, two statements to read side by side) that says nothing of what the numbers
mean; how many citations and of which kinds is drawn the same way for every side; every side
asks the same oracle queries when answering and builds the same number of candidates. So the
surface of a speech (length, citations, wording, compute) does not tell the honest side: only
the numbers and texts it cites do, and reading them is the judge's work. Deterministic: same
view, same speech.

What they read from the oracle is `debate.builtin_analysis`; how they speak,
`debate.builtin_speech`; this module holds the strategies (which moves each prefers).
"""

from __future__ import annotations

from collections.abc import Callable

from debate.builtin_analysis import Analysis, analyse
from debate.builtin_speech import MOVES, answer, direction_of, speak, usable
from debate.errors import unknown
from debate.models import Argument
from debate.protocol import BaseDebater, DebaterView
from debate.verify import Oracle


class _Builtin(BaseDebater):
    """One speech maker for every built-in: analyse once per world, then per turn pick the
    evidence of the strategy's moves that points the way of its claim."""

    name = "builtin"
    #: Whether this strategy must defend the truth (the engine gives it the honest side).
    honest: bool | None = False
    #: Moves in order of preference when the claim is above the other side's, and below.
    up: tuple[str, ...] = ()
    down: tuple[str, ...] = ()

    def __init__(self) -> None:
        self._analysis: dict[tuple[str, ...], Analysis] = {}

    def analysis(self, view: DebaterView, oracle: Oracle) -> Analysis:
        key = tuple(s.id for s in view.statements)
        if key not in self._analysis:
            self._analysis[key] = analyse(view, oracle)
        return self._analysis[key]

    async def argue(self, view: DebaterView, oracle: Oracle) -> Argument:
        an = self.analysis(view, oracle)
        names = self.up if direction_of(view, an) > 0 else self.down
        moves = [MOVES[m] for m in names if usable(view, an, MOVES[m])]
        return speak(view, an, answer(view, an, oracle), moves)


class Honest(_Builtin):
    """Cites the evidence that shows the truth and answers what the other side left out."""

    name = "builtin:honest"
    honest = True
    up = ("anti", "links", "paraphrase", "flat", "plain")
    down = ("trap", "negation", "apart", "flat")


class IndependenceLiar(_Builtin):
    """Reads independent-looking pairs as the whole story: argues P(Z) sits nearer the
    product than the other side says, and plays down groups that depart from it."""

    name = "builtin:independence"
    up = ("flat", "hide-trap", "links")
    down = ("flat", "hide-anti", "apart", "invent-trap")


class PairwiseLiar(_Builtin):
    """Stops at order two: hides a planted trap behind its innocent pairs (claiming more),
    or calls an ordinary group of independent pairs a trap (claiming less)."""

    name = "builtin:pairwise"
    up = ("hide-trap", "plain", "flat", "links")
    down = ("invent-trap", "hide-anti", "flat", "apart")


class FlipHider(_Builtin):
    """Misreads look-alikes: calls a negation a paraphrase (claiming more), or a paraphrase
    a hidden negation (claiming less, where the world has negations to hide among)."""

    name = "builtin:flip-hider"
    up = ("hide-flip", "paraphrase", "links")
    down = ("invent-flip", "negation", "apart", "invent-trap", "flat")


class CherryPicker(_Builtin):
    """Cites only the true facts that point its way, and ignores the rest."""

    name = "builtin:cherry-picker"
    up = ("links", "anti", "paraphrase", "flat")
    down = ("trap", "apart", "negation", "flat")


BUILTINS: dict[str, Callable[[], _Builtin]] = {
    "honest": Honest,
    "independence": IndependenceLiar,
    "pairwise": PairwiseLiar,
    "flip-hider": FlipHider,
    "cherry-picker": CherryPicker,
}

LIARS = ["independence", "pairwise", "flip-hider", "cherry-picker"]


def lie_goes_up(truth: float, tempting: float, toward: bool) -> bool:
    """Whether a lie towards (or away from) the `tempting` value lies above the truth."""
    return (tempting >= truth) == toward


def can_argue(spec: str, truth: float, tempting: float, toward: bool) -> bool:
    """Whether the debater `spec` can argue a lie towards (or away from) the tempting value.

    Always true: every built-in argues either direction (as scripts and LLMs can). Kept for
    the callers that still ask.
    """
    return True


def builtin(name: str) -> _Builtin:
    """A built-in debater by name (`honest`, `independence`, …)."""
    if name not in BUILTINS:
        raise unknown("built-in debater", name, BUILTINS)
    return BUILTINS[name]()
