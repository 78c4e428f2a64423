"""The one exception type of the core: a message a user can act on."""

from __future__ import annotations


class LatentError(Exception):
    """Raised for anything wrong with input to the core (world files, ids, settings).

    The message is a single line that says what is wrong and how to fix it; the CLI
    prints it as it is, never a traceback.
    """
