"""The one exception type of the debate layer: a message a user can act on."""

from __future__ import annotations

from collections.abc import Iterable

from latent.errors import PzJudgeError


class DebateError(PzJudgeError):
    """Raised for anything a user must fix or know about in a debate (LLM endpoints, replies).

    The message is always a single line (newlines are folded into spaces) that says what went
    wrong and what to do; the CLI and the UI show it as it is, never a traceback.
    """

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def unknown(what: str, name: str, choices: Iterable[str], also: str = "") -> DebateError:
    """The one-line error for a `name` that is none of `choices` (`also`: other forms)."""
    return DebateError(f"unknown {what} {name!r}; choose one of {', '.join(choices)}{also}")
