"""The store layer's one exception type."""

from __future__ import annotations


class StoreError(Exception):
    """A problem with the database or a log file, told in one line the user can act on."""
