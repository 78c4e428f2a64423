"""The tui layer's error, and the one route from any error to the line a user sees.

The CLI's top-level handler and every screen that shows an error call `error_line`, so a
failure reads the same in the terminal game, in a browser and on the command line.
"""

from __future__ import annotations

from latent.errors import PzJudgeError


class TuiError(PzJudgeError):
    """What the game or the command line refuses (a missing extra, a figure it cannot
    write, an estimate it cannot read), in a message the user can act on."""


def error_line(exc: BaseException) -> str:
    """The one line a user is shown for `exc`: a PzJudgeError's whole message folded onto
    one line, any other error's first line (a pydantic ValidationError's headline); known
    secrets masked, URLs redacted and no control sequences (the message may quote input)."""
    from debate.secrets import scrub_text
    from latent.text import clean_text

    text = str(exc)
    if not isinstance(exc, PzJudgeError):
        text = next(iter(text.splitlines()), "")
    return " ".join(clean_text(scrub_text(text)).split())
