"""The store layer's one exception type."""

from __future__ import annotations

from latent.errors import PzJudgeError


class StoreError(PzJudgeError):
    """A problem with the database or a log file, told in one line the user can act on."""
