"""The project's one base exception, and the core's subclass of it.

Every layer raises its own subclass of `PzJudgeError` (latent: `LatentError`, debate:
`DebateError`, store: `StoreError`, tui: `TuiError`); it lives here, in the lowest layer, so
that every layer may import it. Whoever shows an error to a user catches `PzJudgeError`
alone and turns it into one line through `tui.errors.error_line`.
"""

from __future__ import annotations


class PzJudgeError(Exception):
    """Something a user must fix or know about, in a message they can act on.

    The message says what is wrong and what to do; the CLI and the UI show it on one line,
    never a traceback.
    """


class LatentError(PzJudgeError):
    """Raised for anything wrong with input to the core (world files, ids, settings).

    The message is a single line that says what is wrong and how to fix it; the CLI
    prints it as it is, never a traceback.
    """
